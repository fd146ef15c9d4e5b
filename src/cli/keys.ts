import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { sqlitePath } from '../config.ts';
import { openSqlite } from '../db/database.ts';
import { KeysRepo } from '../db/keys-repo.ts';
import { migrateToLatest } from '../db/migrations.ts';

const USAGE = `usage:
  imagegate keys create [--name NAME]   create a key; its plaintext is printed once
  imagegate keys list                   list keys (id, prefix, name, created, revoked)
  imagegate keys revoke ID|PREFIX       revoke a key at once`;

/** `imagegate keys …`. Returns the process exit code. */
export async function keysCommand(config: Config, args: readonly string[]): Promise<number> {
  const [action, ...rest] = args;
  const db = openSqlite(sqlitePath(config));
  try {
    await migrateToLatest(db);
    const keys = new KeysRepo(db);
    switch (action) {
      case 'create': {
        const { values } = parseArgs({ args: [...rest], options: { name: { type: 'string', default: 'unnamed' } } });
        const created = await keys.create(values.name);
        process.stdout.write(`created ${created.row.id} (${created.row.name})\n${created.plaintext}\n`);
        return 0;
      }
      case 'list': {
        for (const row of await keys.list()) {
          const revoked = row.revoked_at_ms === null ? '' : `  revoked ${new Date(row.revoked_at_ms).toISOString()}`;
          process.stdout.write(`${row.id}  ${row.display_prefix}  ${row.name}  created ${new Date(row.created_at_ms).toISOString()}${revoked}\n`);
        }
        return 0;
      }
      case 'revoke': {
        const target = rest[0];
        if (target === undefined) break;
        const revoked = await keys.revoke(target);
        if (revoked === undefined) {
          process.stderr.write(`no key matches '${target}'\n`);
          return 1;
        }
        process.stdout.write(`revoked ${revoked.id} (${revoked.display_prefix})\n`);
        return 0;
      }
      default:
        break;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } finally {
    await db.destroy();
  }
}
