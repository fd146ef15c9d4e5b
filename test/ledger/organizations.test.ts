import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODELS } from '../../src/catalog/index.ts';
import { KeysRepo } from '../../src/db/keys-repo.ts';
import { OrganizationsRepo } from '../../src/db/organizations-repo.ts';
import { PriceGroupsRepo } from '../../src/db/price-groups-repo.ts';
import { GatewayError } from '../../src/errors.ts';
import { auditLedger } from '../../src/ledger/audit.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { PriceBook } from '../../src/ledger/price-book.ts';
import { createTestDatabase, DIALECTS, type TestDatabase } from '../support/databases.ts';

const IMAGE_MICRO_USD = 16_000;

for (const dialect of DIALECTS) {
  describe(`organisations in the ledger on ${dialect}`, () => {
    let database: TestDatabase;
    let keys: KeysRepo;
    let organizations: OrganizationsRepo;
    let groups: PriceGroupsRepo;
    let ledger: Ledger;
    before(async () => {
      database = await createTestDatabase(dialect);
      keys = new KeysRepo(database.db);
      organizations = new OrganizationsRepo(database.db);
      groups = new PriceGroupsRepo(database.db);
      ledger = new Ledger(database.db, dialect);
    });
    after(async () => {
      await database.drop();
    });

    const audit = async () => auditLedger(database.db, { nowMs: Date.now(), imagesSinceMs: Number.MAX_SAFE_INTEGER });
    const refusal = (pattern: RegExp) => (err: unknown) => err instanceof GatewayError && err.code === 'insufficient_quota' && pattern.test(err.message);

    it('a balance for exactly N images: 3 keys × many concurrent requests charge exactly N, the balance ends at 0', async () => {
      const N = 7;
      const org = await organizations.create({ name: 'acme', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      await ledger.credit(org.id, N * IMAGE_MICRO_USD, 'invoice 1');
      const members = await Promise.all([1, 2, 3].map(async () => (await keys.create({ organizationId: org.id })).row.id));
      const attempts = members.flatMap((keyId) => Array.from({ length: 12 }, (_, i) => ({ keyId, requestId: `req_${keyId}_${i}` })));
      const results = await Promise.allSettled(
        attempts.map(async ({ keyId, requestId }) => {
          const hold = await ledger.reserve(keyId, requestId, 'dall-e-2', IMAGE_MICRO_USD, 60_000);
          await ledger.settle(hold, IMAGE_MICRO_USD, 1);
        }),
      );
      const refused = results.filter((r) => r.status === 'rejected');
      assert.equal(results.length - refused.length, N);
      for (const r of refused) assert.ok(refusal(/prepaid balance/)(r.reason));
      const after = await organizations.get(org.id);
      assert.equal(after?.credited_micro_usd, N * IMAGE_MICRO_USD);
      assert.equal(after?.committed_micro_usd, N * IMAGE_MICRO_USD, 'balance 0');
      const report = await audit();
      assert.deepEqual(report.violations, []);
      assert.equal(report.chargedImages, N);
    });

    it('a refusal names the key budget, the organisation budget or the balance', async () => {
      const org = await organizations.create({ name: 'capped', priceGroup: 'default', budgetMicroUsd: 30_000, metadata: null });
      await ledger.credit(org.id, 100_000, null);
      const capped = (await keys.create({ organizationId: org.id, budgetMicroUsd: 10_000 })).row.id;
      const free = (await keys.create({ organizationId: org.id })).row.id;
      await assert.rejects(ledger.reserve(capped, 'r1', 'm', 20_000, 60_000), refusal(/this key's budget/));
      await assert.rejects(ledger.reserve(free, 'r2', 'm', 40_000, 60_000), refusal(/organization's budget/));
      await organizations.update(org.id, { budgetMicroUsd: null });
      await assert.rejects(ledger.reserve(free, 'r3', 'm', 200_000, 60_000), refusal(/prepaid balance/));
      const held = await ledger.reserve(free, 'r4', 'm', 100_000, 60_000);
      await ledger.release(held);
      assert.deepEqual((await audit()).violations, []);
    });

    it('a top-up racing with requests: every request it covers gets through, none beyond', async () => {
      const org = await organizations.create({ name: 'racer', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      const key = (await keys.create({ organizationId: org.id })).row.id;
      await ledger.credit(org.id, 2 * IMAGE_MICRO_USD, null);
      const requests = Array.from({ length: 20 }, (_, i) =>
        ledger.reserve(key, `race_${i}`, 'dall-e-2', IMAGE_MICRO_USD, 60_000).then((hold) => ledger.settle(hold, IMAGE_MICRO_USD, 1)),
      );
      const topUp = ledger.credit(org.id, 3 * IMAGE_MICRO_USD, 'top-up');
      const results = await Promise.allSettled(requests);
      await topUp;
      const charged = results.filter((r) => r.status === 'fulfilled').length;
      assert.ok(charged >= 2 && charged <= 5, `charged ${charged}`);
      const row = await organizations.get(org.id);
      assert.equal(row?.committed_micro_usd, charged * IMAGE_MICRO_USD);
      assert.ok((row?.credited_micro_usd ?? 0) - (row?.committed_micro_usd ?? 0) >= 0);
      assert.deepEqual((await audit()).violations, []);
    });

    it('a negative correction may overdraw the balance, and further holds are refused', async () => {
      const org = await organizations.create({ name: 'corrected', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      const key = (await keys.create({ organizationId: org.id })).row.id;
      await ledger.credit(org.id, 50_000, null);
      const hold = await ledger.reserve(key, 'c1', 'm', 40_000, 60_000);
      await ledger.settle(hold, 40_000, 1);
      const corrected = await ledger.credit(org.id, -30_000, 'chargeback');
      assert.equal(corrected.balanceMicroUsd, -20_000);
      await assert.rejects(ledger.reserve(key, 'c2', 'm', 1, 60_000), refusal(/prepaid balance/));
      assert.deepEqual((await audit()).violations, []);
    });

    it('a key moved between organisations: its held request settles with the organisation it was held by', async () => {
      const first = await organizations.create({ name: 'first', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      const second = await organizations.create({ name: 'second', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      await ledger.credit(first.id, 100_000, null);
      await ledger.credit(second.id, 100_000, null);
      const key = (await keys.create({ organizationId: first.id })).row.id;
      const hold = await ledger.reserve(key, 'moved', 'm', 50_000, 60_000);
      await keys.update(key, { organizationId: second.id });
      await ledger.settle(hold, 20_000, 1);
      assert.equal((await organizations.get(first.id))?.committed_micro_usd, 20_000);
      assert.equal((await organizations.get(second.id))?.committed_micro_usd, 0);
      const next = await ledger.reserve(key, 'moved_2', 'm', 10_000, 60_000);
      assert.equal(next.organizationId, second.id);
      await ledger.release(next);
      assert.deepEqual((await audit()).violations, []);
    });

    it('the audit names an organisation whose totals drifted from its ledger', async () => {
      const org = await organizations.create({ name: 'drift', priceGroup: 'default', budgetMicroUsd: null, metadata: null });
      await ledger.credit(org.id, 10_000, null);
      await database.db.updateTable('organizations').set({ committed_micro_usd: 5, credited_micro_usd: 1 }).where('id', '=', org.id).execute();
      const rules = (await audit()).violations.filter((v) => v.organizationId === org.id).map((v) => v.rule);
      assert.deepEqual(rules.sort(), ['organization_committed_total', 'organization_credited_total']);
      await database.db.updateTable('organizations').set({ committed_micro_usd: 0, credited_micro_usd: 10_000 }).where('id', '=', org.id).execute();
    });

    it('prices: the organisation group, its model price and multiplier; a held price survives a group change', async () => {
      const book = new PriceBook(organizations, groups);
      const model = MODELS.find((m) => m.id === 'dall-e-2');
      assert.ok(model !== undefined);
      assert.equal((await book.resolve(null, model)).price, model.price, 'no organisation: the list price');
      assert.ok(await groups.create('gold', { multiplier: 1.5, modelPrices: {} }));
      const org = await organizations.create({ name: 'gold customer', priceGroup: 'gold', budgetMicroUsd: null, metadata: null });
      const gold = await book.resolve(org.id, model);
      assert.equal(gold.group, 'gold');
      assert.equal(gold.price.kind === 'per_image' ? gold.price.usdPerImage['standard']?.['256x256'] : null, 0.024);
      await groups.update('gold', { modelPrices: { 'dall-e-2': { kind: 'per_image', usdPerImage: { standard: { '*': 0.01 } } } } });
      const own = await book.resolve(org.id, model);
      assert.equal(own.price.kind === 'per_image' ? own.price.usdPerImage['standard']?.['*'] : null, 0.015, 'its own price, times its multiplier');
      assert.equal(JSON.parse(gold.held.priceJson).usdPerImage.standard['256x256'], 0.024, 'what was resolved before is unchanged');
    });
  });
}
