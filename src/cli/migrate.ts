import type { Config } from '../config.ts';
import { sqlitePath } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrations.ts';

export const MIGRATE_USAGE = `usage: imagegate migrate
Brings the schema of the configured database (PostgreSQL when DATABASE_URL is set, otherwise the
SQLite file) up to date and exits. Optional: serve migrates at every start too, under a lock.`;

/** `imagegate migrate`: the database `serve` would use, opened the same way. Returns the exit code. */
export async function migrate(config: Config): Promise<number> {
  const { db, dialect } = openDatabase({ url: config.database.url, sqlitePath: sqlitePath(config), poolSize: 1 });
  // The URL may hold a password, so only the kind of database is named.
  const where = dialect === 'postgres' ? 'PostgreSQL' : `SQLite (${sqlitePath(config)})`;
  try {
    const applied = await migrateToLatest(db, dialect);
    process.stdout.write(applied.length === 0 ? `${where}: schema is up to date\n` : `${where}: applied ${applied.join(', ')}\n`);
    return 0;
  } catch (err) {
    // An unreachable or refusing database is the operator's to fix; a stack trace would hide the reason.
    process.stderr.write(`imagegate: could not migrate ${where}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await db.destroy();
  }
}
