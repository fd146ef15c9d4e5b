import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { createEmptyPostgresDatabase } from '../support/databases.ts';
import { imagegate, tempDirs } from './run-cli.ts';

const TABLES = ['api_keys', 'images', 'ledger_entries', 'jobs'];

async function tablesIn(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
    );
    return result.rows.map((row) => row.table_name);
  } finally {
    await client.end();
  }
}

describe('imagegate migrate', () => {
  const dirs = tempDirs();
  after(() => dirs.removeAll());

  it('migrates the PostgreSQL database of DATABASE_URL, and not a SQLite file', async () => {
    const database = await createEmptyPostgresDatabase();
    try {
      assert.deepEqual(await tablesIn(database.url), []);
      const dataDir = dirs.fresh();
      const env = { IMAGEGATE_DATA_DIR: dataDir, DATABASE_URL: database.url };

      const first = await imagegate(['migrate'], env);
      assert.equal(first.code, 0, first.stderr);
      const tables = await tablesIn(database.url);
      for (const table of TABLES) assert.ok(tables.includes(table), `${table} missing from ${tables.join(', ')}`);
      assert.match(first.stdout, /^PostgreSQL: applied 0001_keys_and_images, /);
      assert.ok(!existsSync(path.join(dataDir, 'imagegate.db')), 'migrate must not create the SQLite file when DATABASE_URL is set');
      assert.ok(!first.stdout.includes(database.url), 'the URL (it may hold a password) is not printed');

      const again = await imagegate(['migrate'], env);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout, 'PostgreSQL: schema is up to date\n');

      // keys use the same database: a key created now is in PostgreSQL.
      const created = await imagegate(['keys', 'create', '--name', 'in-postgres'], env);
      assert.equal(created.code, 0, created.stderr);
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ name: string }>('select name from api_keys');
        assert.deepEqual(
          rows.map((row) => row.name),
          ['in-postgres'],
        );
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });

  it('migrates the SQLite file when no DATABASE_URL is set', async () => {
    const dataDir = dirs.fresh();
    const result = await imagegate(['migrate'], { IMAGEGATE_DATA_DIR: dataDir });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^SQLite \(.*imagegate\.db\): applied 0001_keys_and_images, /);
    assert.ok(existsSync(path.join(dataDir, 'imagegate.db')));
  });

  it('a database it cannot reach fails with exit code 1 and the reason, without a stack trace', async () => {
    const result = await imagegate(['migrate'], { IMAGEGATE_DATA_DIR: dirs.fresh(), DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' });
    assert.equal(result.code, 1);
    assert.equal(result.stderr, 'imagegate: could not migrate PostgreSQL: connect ECONNREFUSED 127.0.0.1:1\n');
  });
});
