import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrations.ts';
import { OrganizationsRepo } from '../../src/db/organizations-repo.ts';
import { imagegate, tempDirs } from './run-cli.ts';

describe('imagegate keys --org', () => {
  const dirs = tempDirs();
  after(() => dirs.removeAll());

  it('puts a key in an organisation, moves it out with none, and refuses an unknown one', async () => {
    const dataDir = dirs.fresh();
    const env = { IMAGEGATE_DATA_DIR: dataDir };
    const { db, dialect } = openDatabase({ url: undefined, sqlitePath: path.join(dataDir, 'imagegate.db') });
    await migrateToLatest(db, dialect);
    const org = await new OrganizationsRepo(db).create({ name: 'acme', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
    await db.destroy();

    const unknown = await imagegate(['keys', 'create', '--org', 'org_nope'], env);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr, "imagegate: --org: no organisation 'org_nope'\n");

    const created = await imagegate(['keys', 'create', '--name', 'member', '--org', org.id], env);
    assert.equal(created.code, 0, created.stderr);
    const id = /created (key_[0-9a-f]+) \(member\)/.exec(created.stdout)?.[1] ?? assert.fail(created.stdout);
    const shown = JSON.parse((await imagegate(['keys', 'show', id], env)).stdout) as { organization_id: string | null };
    assert.equal(shown.organization_id, org.id);
    const moved = JSON.parse((await imagegate(['keys', 'update', id, '--org', 'none'], env)).stdout) as { organization_id: string | null };
    assert.equal(moved.organization_id, null);
  });
});
