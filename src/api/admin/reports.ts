import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { parseMarginGrouping } from '../../contract/reseller-settings.ts';
import { parseUsageRange } from '../../contract/usage-query.ts';
import type { Database } from '../../db/schema.ts';
import { auditLedger } from '../../ledger/audit.ts';
import { marginReport } from '../../ledger/margin-report.ts';

/** `GET /admin/v1/reports/margin` and `GET /admin/v1/audit`: what the ledger says, for operators. */
export function registerReportRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; now: () => number; retentionSeconds: number }): void {
  app.get<{ Querystring: Record<string, string> }>('/admin/v1/reports/margin', async (request) => {
    const range = parseUsageRange(request.query, deps.now());
    const groupBy = parseMarginGrouping(request.query['group_by']);
    const report = await marginReport(deps.db, { groupBy, ...range });
    return { object: 'report.margin', group_by: groupBy, from: Math.floor(range.fromMs / 1000), to: Math.floor(range.toMs / 1000), ...report };
  });

  app.get('/admin/v1/audit', async () => {
    const nowMs = deps.now();
    const report = await auditLedger(deps.db, { nowMs, imagesSinceMs: nowMs - deps.retentionSeconds * 1000 });
    return { object: 'audit', ok: report.violations.length === 0, ...report };
  });
}
