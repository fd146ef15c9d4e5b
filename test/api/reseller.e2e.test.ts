import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/databases.ts';
import { scaledEnv, startGateway, type TestGateway } from '../support/gateway.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';

const SMALL = { model: 'dall-e-2', prompt: 'a red kite', size: '256x256', response_format: 'b64_json' };
/** dall-e-2 at 256x256, the catalog's list price. */
const LIST_MICRO_USD = 16_000;

interface Org {
  id: string;
  balance_usd: number;
  committed_usd: number;
  credited_usd: number;
  price_group: string;
  budget_usd: number | null;
}

/** Admin and user calls against one gateway. */
function calls(gateway: TestGateway, admin: string) {
  const call = async (method: string, path: string, body?: unknown, key = admin) => {
    const response = await fetch(`${gateway.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
  };
  return {
    admin: (method: string, path: string, body?: unknown) => call(method, `/admin/v1${path}`, body),
    asUser: (key: string, method: string, path: string, body?: unknown) => call(method, path, body, key),
    generate: (key: string) => call('POST', '/v1/images/generations', SMALL, key),
  };
}

describe('reseller accounts over the admin API', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  let api: ReturnType<typeof calls>;
  before(async () => {
    upstream = await startOpenAIFake();
    // The operator pays half the list price on this channel.
    const channels = [
      {
        id: 'openai',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'dall-e-2': 'dall-e-2' },
        local: true,
        cost: { 'dall-e-2': { multiplier: 0.5 } },
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
    api = calls(gateway, (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext);
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });

  it('organisations: create, show, list, update, delete; errors named', async () => {
    const created = await api.admin('POST', '/organizations', { name: 'acme', budget_usd: 10, metadata: { crm: '42' } });
    assert.equal(created.status, 201);
    const org = created.body as unknown as Org;
    assert.deepEqual([org.price_group, org.budget_usd, org.balance_usd], ['default', 10, 0]);
    assert.equal((await api.admin('GET', `/organizations/${org.id}`)).status, 200);
    const list = (await api.admin('GET', '/organizations')).body as { data: Org[] };
    assert.ok(list.data.some((o) => o.id === org.id));
    const patched = await api.admin('PATCH', `/organizations/${org.id}`, { budget_usd: null, name: 'acme inc' });
    assert.deepEqual([patched.body['budget_usd'], patched.body['name']], [null, 'acme inc']);

    assert.equal((await api.admin('POST', '/organizations', {})).status, 400, 'a name is required');
    const badGroup = await api.admin('POST', '/organizations', { name: 'x', price_group: 'nope' });
    assert.deepEqual([badGroup.status, (badGroup.body['error'] as { param: string }).param], [400, 'price_group']);
    assert.equal((await api.admin('PATCH', `/organizations/${org.id}`, { color: 'red' })).status, 400);
    assert.equal((await api.admin('GET', '/organizations/org_nope')).status, 404);
    assert.equal((await api.admin('POST', '/organizations/org_nope/credits', { amount_usd: 1 })).status, 404);
    assert.equal((await api.admin('POST', `/organizations/${org.id}/credits`, { amount_usd: 0 })).status, 400);
    assert.equal((await api.admin('POST', `/organizations/${org.id}/credits`, { amount_usd: '5' })).status, 400);

    const key = await api.admin('POST', '/keys', { name: 'member', organization_id: org.id });
    assert.equal(key.body['organization_id'], org.id);
    const badKey = await api.admin('POST', '/keys', { organization_id: 'org_nope' });
    assert.deepEqual([badKey.status, (badKey.body['error'] as { param: string }).param], [400, 'organization_id']);

    assert.equal((await api.admin('DELETE', `/organizations/${org.id}`)).status, 200);
    assert.equal((await api.admin('GET', `/organizations/${org.id}`)).status, 404);
    assert.equal((await api.admin('GET', `/keys/${String(key.body['id'])}`)).body['organization_id'], null, 'its keys are detached');
  });

  it('price groups: default exists; create, update, list; errors named', async () => {
    const list = (await api.admin('GET', '/price-groups')).body as { data: Array<{ id: string; multiplier: number }> };
    assert.deepEqual(
      list.data.find((g) => g.id === 'default'),
      { id: 'default', object: 'price_group', multiplier: 1, model_prices: {}, updated_at: 0 },
    );
    const created = await api.admin('POST', '/price-groups', { id: 'silver', multiplier: 1.25 });
    assert.equal(created.status, 201);
    assert.equal((await api.admin('POST', '/price-groups', { id: 'silver' })).status, 400, 'an existing id');
    assert.equal((await api.admin('POST', '/price-groups', { id: 'bad id!' })).status, 400);
    assert.equal((await api.admin('POST', '/price-groups', { id: 'neg', multiplier: -1 })).status, 400);
    const unknownModel = await api.admin('PATCH', '/price-groups/silver', {
      model_prices: { 'dall-e-9': { kind: 'per_image', usdPerImage: { standard: { '*': 1 } } } },
    });
    assert.equal(unknownModel.status, 400);
    const badRule = await api.admin('PATCH', '/price-groups/silver', { model_prices: { 'dall-e-2': { kind: 'per_image' } } });
    assert.equal(badRule.status, 400);
    const wrongKind = await api.admin('PATCH', '/price-groups/silver', {
      model_prices: { 'dall-e-2': { kind: 'per_token', usdPerMillionTextInput: 1, usdPerMillionImageInput: 1, usdPerMillionImageOutput: 1 } },
    });
    assert.equal(wrongKind.status, 400, 'a per_image model takes a per_image price');
    const priced = await api.admin('PATCH', '/price-groups/silver', {
      model_prices: { 'dall-e-2': { kind: 'per_image', usdPerImage: { standard: { '*': 0.01 } } } },
    });
    assert.equal(priced.status, 200);
    assert.deepEqual(priced.body['model_prices'], { 'dall-e-2': { kind: 'per_image', usdPerImage: { standard: { '*': 0.01 } } } });
    assert.equal((await api.admin('GET', '/price-groups/nope')).status, 404);
    assert.equal((await api.admin('PATCH', '/price-groups/nope', { multiplier: 2 })).status, 404);
  });

  it('a prepaid organisation in a price group: charged its price, refused at the balance, reported with margin', async () => {
    assert.equal((await api.admin('POST', '/price-groups', { id: 'gold', multiplier: 2 })).status, 201);
    const org = (await api.admin('POST', '/organizations', { name: 'reseller customer', price_group: 'gold' })).body as unknown as Org;
    const credit = await api.admin('POST', `/organizations/${org.id}/credits`, { amount_usd: 0.064, reference: 'invoice 7' });
    assert.deepEqual([credit.status, credit.body['balance_usd'], credit.body['reference']], [201, 0.064, 'invoice 7']);
    const first = String((await api.admin('POST', '/keys', { organization_id: org.id })).body['key']);
    const second = String((await api.admin('POST', '/keys', { organization_id: org.id })).body['key']);

    const one = await api.generate(first);
    assert.equal(one.status, 200);
    assert.equal(one.headers.get('x-imagegate-cost-usd'), '0.032000', 'twice the list price');
    assert.equal((await api.generate(second)).status, 200);
    const refused = await api.generate(first);
    assert.equal(refused.status, 429);
    assert.equal((refused.body['error'] as { code: string }).code, 'insufficient_quota');
    assert.match((refused.body['error'] as { message: string }).message, /prepaid balance/);
    assert.equal(refused.headers.get('x-should-retry'), 'false');

    const own = await api.asUser(first, 'GET', '/v1/usage');
    assert.equal((own.body['totals'] as { images: number }).images, 1, "a key sees its own usage, not its organisation's");
    const usage = await api.admin('GET', `/organizations/${org.id}/usage`);
    assert.deepEqual([(usage.body['totals'] as { images: number }).images, usage.body['balance_usd']], [2, 0]);

    const margin = await api.admin('GET', '/reports/margin?group_by=organization');
    const row = (margin.body['data'] as Array<Record<string, unknown>>).find((r) => r['key'] === org.id);
    assert.deepEqual(row, { key: org.id, requests: 2, images: 2, revenue_usd: 0.064, upstream_cost_usd: 0.016, margin_usd: 0.048, requests_without_cost: 0 });
    const byChannel = await api.admin('GET', '/reports/margin?group_by=channel');
    assert.ok((byChannel.body['data'] as Array<{ key: string }>).some((r) => r.key === 'openai'));
    for (const groupBy of ['model', 'day']) assert.equal((await api.admin('GET', `/reports/margin?group_by=${groupBy}`)).status, 200);
    assert.equal((await api.admin('GET', '/reports/margin?group_by=planet')).status, 400);

    const entries = await gateway.deps.db.selectFrom('ledger_entries').selectAll().where('organization_id', '=', org.id).where('kind', '=', 'charge').execute();
    assert.deepEqual(
      entries.map((e) => [e.price_group, e.amount_micro_usd, e.upstream_cost_micro_usd, e.channel]),
      [
        ['gold', 2 * LIST_MICRO_USD, LIST_MICRO_USD / 2, 'openai'],
        ['gold', 2 * LIST_MICRO_USD, LIST_MICRO_USD / 2, 'openai'],
      ],
    );
    const audit = await api.admin('GET', '/audit');
    assert.deepEqual([audit.body['ok'], audit.body['violations']], [true, []]);
  });

  it('a price-group change does not change a request already held', async () => {
    assert.equal((await api.admin('POST', '/price-groups', { id: 'moving', multiplier: 1 })).status, 201);
    const org = (await api.admin('POST', '/organizations', { name: 'mover', price_group: 'moving' })).body as unknown as Org;
    await api.admin('POST', `/organizations/${org.id}/credits`, { amount_usd: 1 });
    const key = String((await api.admin('POST', '/keys', { organization_id: org.id })).body['key']);
    // The upstream answers late; the group changes while the request is held.
    upstream.queue({ kind: 'delay', ms: 1500 });
    const seen = upstream.received.length;
    const pending = api.generate(key);
    while (upstream.received.length === seen) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal((await api.admin('PATCH', '/price-groups/moving', { multiplier: 3 })).status, 200);
    const answered = await pending;
    assert.equal(answered.status, 200);
    assert.equal(answered.headers.get('x-imagegate-cost-usd'), '0.016000', 'the price when it was held');
    const later = await api.generate(key);
    assert.equal(later.headers.get('x-imagegate-cost-usd'), '0.048000', 'the new price from the next request');
  });

  it('every reseller route refuses a user key with 401', async () => {
    const org = (await api.admin('POST', '/organizations', { name: 'private' })).body as unknown as Org;
    const routes: Array<[string, string]> = [
      ['POST', '/admin/v1/organizations'],
      ['GET', '/admin/v1/organizations'],
      ['GET', `/admin/v1/organizations/${org.id}`],
      ['PATCH', `/admin/v1/organizations/${org.id}`],
      ['DELETE', `/admin/v1/organizations/${org.id}`],
      ['POST', `/admin/v1/organizations/${org.id}/credits`],
      ['GET', `/admin/v1/organizations/${org.id}/usage`],
      ['POST', '/admin/v1/price-groups'],
      ['GET', '/admin/v1/price-groups'],
      ['GET', '/admin/v1/price-groups/default'],
      ['PATCH', '/admin/v1/price-groups/default'],
      ['GET', '/admin/v1/reports/margin'],
      ['GET', '/admin/v1/audit'],
    ];
    for (const [method, path] of routes) {
      const response = await api.asUser(gateway.key, method, path, method === 'GET' || method === 'DELETE' ? undefined : { amount_usd: 100 });
      assert.equal(response.status, 401, `${method} ${path}`);
    }
    assert.equal((await api.admin('GET', `/organizations/${org.id}`)).body['balance_usd'], 0, 'nothing was credited');
  });
});

/** N images' worth of balance, 3 keys × many concurrent requests: exactly N delivered and charged. */
async function exactBalance(gateways: readonly TestGateway[], admin: string): Promise<void> {
  const N = 6;
  const api = calls(gateways[0]!, admin);
  const org = (await api.admin('POST', '/organizations', { name: 'exact' })).body as unknown as Org;
  await api.admin('POST', `/organizations/${org.id}/credits`, { amount_usd: (N * LIST_MICRO_USD) / 1_000_000 });
  const keys = await Promise.all([1, 2, 3].map(async () => String((await api.admin('POST', '/keys', { organization_id: org.id })).body['key'])));
  const results = await Promise.all(
    keys.flatMap((key, k) => Array.from({ length: 5 }, (_, i) => calls(gateways[(k + i) % gateways.length]!, admin).generate(key))),
  );
  const delivered = results.filter((r) => r.status === 200);
  assert.equal(delivered.length, N);
  for (const refused of results.filter((r) => r.status !== 200)) assert.equal((refused.body['error'] as { code: string }).code, 'insufficient_quota');
  const after = (await api.admin('GET', `/organizations/${org.id}`)).body as unknown as Org;
  assert.deepEqual([after.balance_usd, after.committed_usd], [0, (N * LIST_MICRO_USD) / 1_000_000]);
  const audit = await api.admin('GET', '/audit');
  assert.deepEqual(audit.body['violations'], []);
  assert.equal((await api.admin('GET', `/organizations/${org.id}/usage`)).body['totals'] !== undefined, true);
}

describe('an organisation balance under concurrency, SQLite in one process', () => {
  let gateway: TestGateway;
  let admin: string;
  before(async () => {
    gateway = await startGateway();
    admin = (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
  });
  after(async () => {
    await gateway.close();
  });
  it('3 keys × many concurrent requests: exactly N delivered and charged, balance 0, audit clean', async () => {
    await exactBalance([gateway], admin);
  });
});

describe('an organisation balance under concurrency, PostgreSQL over 2 replicas', () => {
  let database: TestDatabase;
  let s3: S3TestServer;
  const replicas: TestGateway[] = [];
  let admin: string;
  before(async () => {
    database = await createTestDatabase('postgres');
    s3 = await startS3Server();
    const env = scaledEnv(database, s3, process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379', `imagegate-test:${randomBytes(6).toString('hex')}:`);
    replicas.push(await startGateway({ ...env }), await startGateway({ ...env }));
    admin = (await replicas[0]!.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
  });
  after(async () => {
    for (const replica of replicas) await replica.close();
    await s3.close();
    await database.drop();
  });
  it('3 keys × many concurrent requests over both replicas: exactly N delivered and charged, balance 0, audit clean', async () => {
    await exactBalance(replicas, admin);
  });
});
