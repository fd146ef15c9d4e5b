import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeysRepo } from '../../src/db/keys-repo.ts';
import { auditLedger } from '../../src/ledger/audit.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.ts';

const NOW_MS = Date.UTC(2026, 11, 1, 12);

function imageRow(apiKeyId: string, requestId: string, index: number) {
  return {
    id: `img_${requestId}_${index}`,
    api_key_id: apiKeyId,
    request_id: requestId,
    model: 'dall-e-2',
    provider: 'local',
    blob_key: `20261201/${'0'.repeat(31)}${index}.png`,
    format: 'png',
    width: 256,
    height: 256,
    size_bytes: 100,
    created_at_ms: NOW_MS,
    expires_at_ms: NOW_MS + 86_400_000,
  };
}

for (const dialect of DIALECTS) {
  describe(`ledger audit on ${dialect}`, () => {
    let database: TestDatabase;
    let keys: KeysRepo;
    let ledger: Ledger;
    before(async () => {
      database = await createTestDatabase(dialect);
      keys = new KeysRepo(database.db);
      ledger = new Ledger(database.db, dialect, () => NOW_MS);
    });
    after(async () => {
      await database.drop();
    });
    const run = async () => auditLedger(database.db, { nowMs: NOW_MS, imagesSinceMs: NOW_MS - 86_400_000 });

    it('finds nothing wrong in a ledger the gateway wrote', async () => {
      const { row } = await keys.create({ budgetMicroUsd: 1_000_000 });
      const hold = await ledger.reserve(row.id, 'req_ok', 'dall-e-2', 40_000, 60_000);
      await ledger.settle(hold, 32_000, 2, [imageRow(row.id, 'req_ok', 1), imageRow(row.id, 'req_ok', 2)]);
      await ledger.release(await ledger.reserve(row.id, 'req_failed', 'dall-e-2', 40_000, 60_000));
      const report = await run();
      assert.deepEqual(report.violations, []);
      assert.equal(report.chargedImages, 2);
      assert.equal(report.chargedMicroUsd, 32_000);
    });

    it('names each broken invariant', async () => {
      const { row } = await keys.create({});
      // A hold its process never closed, past its expiry.
      await ledger.reserve(row.id, 'req_dead', 'dall-e-2', 10_000, -1);
      // Images recorded without a charge, and a charge whose images are missing, negative, and above its hold.
      await database.db
        .insertInto('images')
        .values(imageRow(row.id, 'req_uncharged', 3))
        .execute();
      const base = { api_key_id: row.id, model: 'dall-e-2', ref_id: null, created_at_ms: NOW_MS, expires_at_ms: null };
      await database.db
        .insertInto('ledger_entries')
        .values({ ...base, id: 'led_neg', request_id: 'req_neg', kind: 'charge', amount_micro_usd: -5, image_count: 1 })
        .execute();
      await database.db.updateTable('api_keys').set({ committed_micro_usd: 1 }).where('id', '=', row.id).execute();
      const rules = (await run()).violations
        .filter((v) => v.apiKeyId === row.id)
        .map((v) => v.rule)
        .sort();
      assert.deepEqual(rules, ['charge_negative', 'charge_without_images', 'committed_total', 'hold_open_past_expiry', 'images_without_charge']);
      const above = (await run()).violations.find((v) => v.requestId === 'req_neg' && v.rule === 'charge_above_hold');
      assert.equal(above, undefined, 'a negative charge is not also above its hold');
      await database.db
        .insertInto('ledger_entries')
        .values({ ...base, id: 'led_big', request_id: 'req_ok2', kind: 'charge', amount_micro_usd: 99, image_count: 0 })
        .execute();
      assert.ok((await run()).violations.some((v) => v.requestId === 'req_ok2' && v.rule === 'charge_above_hold'));
    });
  });
}
