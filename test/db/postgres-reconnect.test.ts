import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../../src/db/database.ts';
import { createTestDatabase, PG_ADMIN_URL, type TestDatabase } from '../support/databases.ts';

describe('PostgreSQL pool when the server drops its connections', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase('postgres');
  });
  after(async () => {
    await database.drop();
  });

  it('survives idle connections being killed (no crash) and reconnects on the next query', async () => {
    const errors: Error[] = [];
    const { db } = openDatabase({ url: database.url, sqlitePath: ':memory:', onIdleError: (err) => errors.push(err) });
    try {
      await sql`select 1`.execute(db);
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      const name = new URL(database.url ?? '').pathname.slice(1);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
      await admin.end();
      for (let i = 0; i < 50 && errors.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(errors.length >= 1, 'the idle connection reported its end');
      const result = await sql<{ one: number }>`select 1 as one`.execute(db);
      assert.equal(result.rows[0]?.one, 1);
    } finally {
      await db.destroy();
    }
  });
});
