import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeysRepo } from '../../src/db/keys-repo.ts';
import { GatewayError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { usageByDay } from '../../src/ledger/usage-report.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.ts';

for (const dialect of DIALECTS) {
  describe(`ledger on ${dialect}`, () => {
    let database: TestDatabase;
    let keys: KeysRepo;
    let ledger: Ledger;
    let nowMs = Date.UTC(2026, 10, 21, 12);
    before(async () => {
      database = await createTestDatabase(dialect);
      keys = new KeysRepo(database.db);
      ledger = new Ledger(database.db, dialect, () => nowMs);
    });
    after(async () => {
      await database.drop();
    });

    it('holds, settles and releases; the committed total always equals the ledger sum', async () => {
      const { row } = await keys.create({ budgetMicroUsd: 1_000_000 });
      const hold = await ledger.reserve(row.id, 'req_1', 'dall-e-3', 400_000, 60_000);
      assert.equal((await keys.get(row.id))?.committed_micro_usd, 400_000);
      await ledger.settle(hold, 40_000, 1);
      await ledger.settle(hold, 40_000, 1); // a second settle is a no-op
      const other = await ledger.reserve(row.id, 'req_2', 'dall-e-3', 400_000, 60_000);
      await ledger.release(other);
      const entries = await ledger.entries(row.id);
      const sum = entries.reduce((total, e) => total + e.amount_micro_usd, 0);
      assert.equal(sum, 40_000);
      assert.equal((await keys.get(row.id))?.committed_micro_usd, 40_000);
      assert.deepEqual(
        entries.map((e) => e.kind),
        ['hold', 'release', 'charge', 'hold', 'release'],
      );
    });

    it('refuses a hold the budget cannot cover with 429 insufficient_quota', async () => {
      const { row } = await keys.create({ budgetMicroUsd: 100_000 });
      await ledger.reserve(row.id, 'req_a', 'm', 80_000, 60_000);
      await assert.rejects(ledger.reserve(row.id, 'req_b', 'm', 30_000, 60_000), (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.status, 429);
        assert.equal(err.code, 'insufficient_quota');
        return true;
      });
    });

    it('never holds more than the budget under a concurrent burst', async () => {
      const { row } = await keys.create({ budgetMicroUsd: 1_000_000 });
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => ledger.reserve(row.id, `req_${i}`, 'm', 100_000, 60_000)));
      const granted = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(granted, 10);
      assert.equal((await keys.get(row.id))?.committed_micro_usd, 1_000_000);
    });

    it('releases holds whose process died, once they expire', async () => {
      const { row } = await keys.create({ budgetMicroUsd: 500_000 });
      await ledger.reserve(row.id, 'req_dead', 'm', 500_000, 1000);
      assert.equal(await ledger.releaseExpiredHolds(), 0);
      nowMs += 2000;
      assert.ok((await ledger.releaseExpiredHolds()) >= 1);
      assert.equal((await keys.get(row.id))?.committed_micro_usd, 0);
      await ledger.reserve(row.id, 'req_next', 'm', 500_000, 1000);
    });

    it('reports usage by day and model from the charges', async () => {
      const { row } = await keys.create({});
      for (const [model, cost, n] of [
        ['dall-e-3', 40_000, 1],
        ['dall-e-3', 40_000, 1],
        ['gpt-image-1', 12_345, 3],
      ] as const) {
        const hold = await ledger.reserve(row.id, 'r', model, 100_000, 60_000);
        await ledger.settle(hold, cost, n);
      }
      const report = await usageByDay(database.db, { apiKeyId: row.id, fromMs: nowMs - 86_400_000, toMs: nowMs + 86_400_000 });
      assert.deepEqual(
        report.data.map((r) => [r.date, r.model, r.requests, r.images, r.spend_usd]),
        [
          ['2026-11-21', 'dall-e-3', 2, 2, 0.08],
          ['2026-11-21', 'gpt-image-1', 1, 3, 0.012345],
        ],
      );
      assert.deepEqual(report.totals, { requests: 3, images: 5, spend_usd: 0.092345 });
    });

    it('keys: settings round-trip, update, expiry and revocation', async () => {
      const created = await keys.create({ name: 'alice', allowedModels: ['dall-e-3'], imagesPerMinute: 10, metadata: { owner: 'a' } });
      const updated = await keys.update(created.row.id, { imagesPerMinute: null, budgetMicroUsd: 5_000_000 });
      assert.equal(updated?.images_per_minute, null);
      assert.equal(updated?.budget_micro_usd, 5_000_000);
      assert.equal(updated?.allowed_models, '["dall-e-3"]');
      assert.equal((await keys.revoke(created.row.id))?.id, created.row.id);
      assert.notEqual((await keys.get(created.row.id))?.revoked_at_ms, null);
    });
  });
}
