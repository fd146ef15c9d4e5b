import type { Config } from '../config.ts';
import { sqlitePath } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrations.ts';
import { auditLedger } from '../ledger/audit.ts';

export const AUDIT_USAGE = `usage: imagegate audit
Checks the ledger of the configured database: every key's committed total equals its entries, no
hold is open past its expiry, every charge has its image records and every recorded image a
charge (within the retention period), no charge is negative or above its hold; every
organisation's committed and credited totals equal its entries and credits, and its balance never
went below zero but by a recorded correction. Prints each
violation; exits 0 when there is none, 1 otherwise. Run it when no request is in flight for an
exact answer (a stream records its images just before it is charged).`;

/** `imagegate audit`: returns the exit code. */
export async function audit(config: Config, nowMs: number = Date.now()): Promise<number> {
  const { db, dialect } = openDatabase({ url: config.database.url, sqlitePath: sqlitePath(config), poolSize: 1 });
  try {
    await migrateToLatest(db, dialect);
    const retentionMs = Math.max(config.storage.retentionSeconds, config.storage.urlTtlSeconds) * 1000;
    const report = await auditLedger(db, { nowMs, imagesSinceMs: nowMs - retentionMs });
    for (const violation of report.violations) {
      const owner = violation.organizationId === undefined ? `key ${violation.apiKeyId}` : `organization ${violation.organizationId}`;
      process.stdout.write(`${violation.rule}\t${owner}\t${violation.requestId ?? '-'}\t${violation.detail}\n`);
    }
    const usd = (report.chargedMicroUsd / 1_000_000).toFixed(6);
    process.stdout.write(
      `${report.keys} keys, ${report.organizations} organizations, ${report.entries} ledger entries, ${report.charges} charges for ${report.chargedImages} images ($${usd}): ${report.violations.length === 0 ? 'no violation' : `${report.violations.length} violations`}\n`,
    );
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    await db.destroy();
  }
}
