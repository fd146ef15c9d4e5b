import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { type DialectName, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrations.ts';
import type { Database } from '../../src/db/schema.ts';

/** PostgreSQL of the dev and CI machines (trust auth); override with IMAGEGATE_TEST_PG. */
export const PG_ADMIN_URL = process.env['IMAGEGATE_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  readonly dialect: DialectName;
  readonly db: Kysely<Database>;
  /** The URL to hand a gateway process (postgres) or undefined (sqlite: use `sqlitePath`). */
  readonly url: string | undefined;
  readonly sqlitePath: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of each kind; PostgreSQL gets its own database, dropped after. */
export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const dir = mkdtempSync(path.join(tmpdir(), 'imagegate-db-'));
  const sqlitePath = path.join(dir, 'test.db');
  let url: string | undefined;
  let name = '';
  if (dialect === 'postgres') ({ name, url } = await createPostgresDatabase());
  const { db } = openDatabase({ url, sqlitePath, poolSize: 20 });
  await migrateToLatest(db, dialect);
  return {
    dialect,
    db,
    url,
    sqlitePath,
    drop: async () => {
      await db.destroy();
      if (dialect === 'postgres') await adminQuery(`drop database if exists ${name} with (force)`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh, empty PostgreSQL database (no schema), for tests that migrate it themselves. */
export async function createEmptyPostgresDatabase(): Promise<{ readonly url: string; drop(): Promise<void> }> {
  const { name, url } = await createPostgresDatabase();
  return { url, drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}

async function createPostgresDatabase(): Promise<{ name: string; url: string }> {
  const name = `imagegate_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`create database ${name}`);
  const parsed = new URL(PG_ADMIN_URL);
  parsed.pathname = `/${name}`;
  return { name, url: parsed.toString() };
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export const DIALECTS: readonly DialectName[] = ['sqlite', 'postgres'];
