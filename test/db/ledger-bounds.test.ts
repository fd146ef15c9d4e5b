import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeysRepo } from '../../src/db/keys-repo.ts';
import type { MoneyAnomaly } from '../../src/ledger/anomalies.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.ts';

/** A charge is never negative and never above its hold, whatever the caller asks for. */
for (const dialect of DIALECTS) {
  describe(`ledger charge bounds on ${dialect}`, () => {
    let database: TestDatabase;
    let keys: KeysRepo;
    let ledger: Ledger;
    const reported: MoneyAnomaly[] = [];
    before(async () => {
      database = await createTestDatabase(dialect);
      keys = new KeysRepo(database.db);
      ledger = new Ledger(database.db, dialect, Date.now, { report: (anomaly) => reported.push(anomaly) });
    });
    after(async () => {
      await database.drop();
    });

    async function settleOnce(chargeMicroUsd: number): Promise<{ charged: number | undefined; committed: number | undefined }> {
      reported.length = 0;
      const { row } = await keys.create({ budgetMicroUsd: 1_000_000 });
      const hold = await ledger.reserve(row.id, 'req_bounds', 'gpt-image-1', 40_000, 60_000);
      await ledger.settle(hold, chargeMicroUsd, 1);
      await ledger.settle(hold, chargeMicroUsd, 1); // the repeat is a no-op and reports nothing
      const entries = await ledger.entries(row.id);
      const charged = entries.find((e) => e.kind === 'charge')?.amount_micro_usd;
      return { charged, committed: (await keys.get(row.id))?.committed_micro_usd };
    }

    it('a negative charge (the -$45,000 report) is recorded as 0 and reported', async () => {
      assert.deepEqual(await settleOnce(-45_000_000_000), { charged: 0, committed: 0 });
      assert.deepEqual(
        reported.map((a) => [a.kind, a.model, a.requestId]),
        [['charge_negative', 'gpt-image-1', 'req_bounds']],
      );
    });

    it('a charge above the hold (the $40,000 one on a $1 budget) is capped at the hold and reported', async () => {
      assert.deepEqual(await settleOnce(40_000_000_000), { charged: 40_000, committed: 40_000 });
      assert.deepEqual(
        reported.map((a) => [a.kind, a.detail['holdMicroUsd']]),
        [['charge_above_hold', 40_000]],
      );
    });

    it('a charge that is not a number is charged the hold and reported; fractions round up', async () => {
      assert.deepEqual(await settleOnce(Number.NaN), { charged: 40_000, committed: 40_000 });
      assert.deepEqual(
        reported.map((a) => a.kind),
        ['charge_not_a_number'],
      );
      assert.deepEqual(await settleOnce(Number.POSITIVE_INFINITY), { charged: 40_000, committed: 40_000 });
      assert.deepEqual(await settleOnce(1234.2), { charged: 1235, committed: 1235 });
      assert.deepEqual(reported, []);
    });

    it('a charge within the hold is recorded as it is, with no anomaly', async () => {
      assert.deepEqual(await settleOnce(40_000), { charged: 40_000, committed: 40_000 });
      assert.deepEqual(await settleOnce(0), { charged: 0, committed: 0 });
      assert.deepEqual(reported, []);
    });
  });
}
