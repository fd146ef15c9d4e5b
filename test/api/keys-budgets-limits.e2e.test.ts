import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { fetchImage } from '../support/images.ts';

const SMALL = { model: 'dall-e-2', prompt: 'a red kite', size: '256x256', response_format: 'b64_json' };

describe('admin API, budgets, limits, idempotency and history', () => {
  let gateway: TestGateway;
  let admin: string;
  before(async () => {
    gateway = await startGateway();
    admin = (await gateway.deps.keys.create({ name: 'admin', role: 'admin' })).plaintext;
  });
  after(async () => {
    await gateway.close();
  });

  const adminCall = (method: string, path: string, body?: unknown) =>
    fetch(`${gateway.baseUrl}/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const generate = (key: string, body: object = SMALL, headers: Record<string, string> = {}) =>
    fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('creates a key with settings (plaintext once), shows, updates, lists and revokes it', async () => {
    const created = await adminCall('POST', '/keys', {
      name: 'alice',
      budget_usd: 5,
      images_per_minute: 10,
      allowed_models: ['dall-e-2'],
      metadata: { owner: 'alice' },
    });
    assert.equal(created.status, 201);
    const key = (await created.json()) as { id: string; key: string; budget_usd: number; images_per_minute: number; metadata: object };
    assert.match(key.key, /^sk-ig-/);
    assert.deepEqual([key.budget_usd, key.images_per_minute, key.metadata], [5, 10, { owner: 'alice' }]);
    const shown = (await (await adminCall('GET', `/keys/${key.id}`)).json()) as Record<string, unknown>;
    assert.equal(shown['key'], undefined, 'the plaintext is shown only at creation');
    const updated = (await (await adminCall('PATCH', `/keys/${key.id}`, { images_per_minute: null, requests_per_minute: 100 })).json()) as Record<
      string,
      unknown
    >;
    assert.deepEqual([updated['images_per_minute'], updated['requests_per_minute']], [null, 100]);
    const list = (await (await adminCall('GET', '/keys')).json()) as { data: Array<{ id: string }> };
    assert.ok(list.data.some((k) => k.id === key.id));
    assert.equal((await generate(key.key)).status, 200);
    assert.equal((await adminCall('DELETE', `/keys/${key.id}`)).status, 200);
    assert.equal((await generate(key.key)).status, 401);
  });

  it('refuses bad settings, unknown keys, and user keys on admin routes', async () => {
    const bad = await adminCall('POST', '/keys', { budget_usd: -1 });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, 'budget_usd');
    const unknownModel = await adminCall('POST', '/keys', { allowed_models: ['dall-e-9'] });
    assert.equal(unknownModel.status, 400);
    assert.equal((await adminCall('GET', '/keys/key_nope')).status, 404);
    const asUser = await fetch(`${gateway.baseUrl}/admin/v1/keys`, { headers: { authorization: `Bearer ${gateway.key}` } });
    assert.equal(asUser.status, 401);
    assert.equal((await generate(admin)).status, 401, 'admin keys do not call the API');
  });

  it('a key limited to some models gets 403 for the others', async () => {
    const { plaintext } = await gateway.deps.keys.create({ allowedModels: ['dall-e-3'] });
    const response = await generate(plaintext);
    assert.equal(response.status, 403);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'model_not_allowed');
  });

  it('an expired key is refused', async () => {
    const { plaintext } = await gateway.deps.keys.create({ expiresAtMs: Date.now() - 1000 });
    assert.equal((await generate(plaintext)).status, 401);
  });

  it('charges what was delivered, reports it in x-imagegate-cost-usd and in usage', async () => {
    const { plaintext } = await gateway.deps.keys.create({ budgetMicroUsd: 100_000 });
    const response = await generate(plaintext, { ...SMALL, n: 2 });
    assert.equal(response.headers.get('x-imagegate-cost-usd'), '0.032000');
    const usage = (await (await fetch(`${gateway.baseUrl}/v1/usage`, { headers: { authorization: `Bearer ${plaintext}` } })).json()) as {
      data: Array<{ model: string; images: number; requests: number; spend_usd: number }>;
      totals: { spend_usd: number };
      budget_usd: number;
    };
    assert.deepEqual(
      usage.data.map((r) => [r.model, r.requests, r.images, r.spend_usd]),
      [['dall-e-2', 1, 2, 0.032]],
    );
    assert.equal(usage.budget_usd, 0.1);
    const all = (await (await adminCall('GET', '/usage')).json()) as { totals: { images: number } };
    assert.ok(all.totals.images >= 2);
  });

  it('a budget that cannot cover a request is a 429 insufficient_quota and nothing is called', async () => {
    const { plaintext } = await gateway.deps.keys.create({ budgetMicroUsd: 20_000 });
    assert.equal((await generate(plaintext)).status, 200);
    const refused = await generate(plaintext);
    assert.equal(refused.status, 429);
    assert.equal(((await refused.json()) as { error: { code: string; type: string } }).error.code, 'insufficient_quota');
  });

  it('images per minute: a burst over the bucket is refused with Retry-After and x-ratelimit headers', async () => {
    const { plaintext } = await gateway.deps.keys.create({ imagesPerMinute: 5 });
    const first = await generate(plaintext, { ...SMALL, n: 4 });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-limit-images'), '5');
    assert.equal(first.headers.get('x-ratelimit-remaining-images'), '1');
    const second = await generate(plaintext, { ...SMALL, n: 2 });
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
    assert.equal(((await second.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
    assert.equal((await generate(plaintext, { ...SMALL, n: 1 })).status, 200, 'what is left can still be used');
  });

  it('max concurrent generations per key', async () => {
    const { plaintext } = await gateway.deps.keys.create({ maxConcurrent: 1 });
    const slow = { model: 'gpt-image-2', prompt: 'a city', size: '2048x2048', quality: 'high', n: 3 };
    const results = await Promise.all([generate(plaintext, slow), generate(plaintext, slow), generate(plaintext, slow)]);
    const statuses = results.map((r) => r.status).sort();
    assert.ok(statuses.includes(200) && statuses.includes(429), statuses.join(','));
  });

  it('Idempotency-Key: replay, 422 on another body, 409 while running; one charge', async () => {
    const { row, plaintext } = await gateway.deps.keys.create({});
    const headers = { 'idempotency-key': 'order-42' };
    const slow = { model: 'gpt-image-2', prompt: 'a slow city', size: '2048x2048', quality: 'high', n: 2 };
    const running = generate(plaintext, slow, headers);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const during = await generate(plaintext, slow, headers);
    assert.equal(during.status, 409);
    const first = await running;
    assert.equal(first.status, 200);
    const firstBody = await first.text();
    const replay = await generate(plaintext, slow, headers);
    assert.equal(replay.headers.get('idempotent-replayed'), 'true');
    assert.equal(await replay.text(), firstBody);
    const other = await generate(plaintext, { ...slow, prompt: 'another' }, headers);
    assert.equal(other.status, 422);
    const charges = (await gateway.deps.ledger.entries(row.id)).filter((e) => e.kind === 'charge');
    assert.equal(charges.length, 1);
  });

  it('history lists a key’s own images (never another key’s) with working links', async () => {
    const mine = await gateway.deps.keys.create({});
    const theirs = await gateway.deps.keys.create({});
    await generate(mine.plaintext, { ...SMALL, n: 3 });
    await generate(theirs.plaintext, SMALL);
    const get = (key: string, path: string) => fetch(`${gateway.baseUrl}/v1/images${path}`, { headers: { authorization: `Bearer ${key}` } });
    const page1 = (await (await get(mine.plaintext, '?limit=2')).json()) as {
      data: Array<{ id: string; url: string; size: string }>;
      has_more: boolean;
      last_id: string;
    };
    assert.equal(page1.data.length, 2);
    assert.equal(page1.has_more, true);
    const page2 = (await (await get(mine.plaintext, `?limit=2&after=${page1.last_id}`)).json()) as { data: Array<{ id: string }>; has_more: boolean };
    assert.equal(page2.data.length, 1);
    assert.equal(page2.has_more, false);
    const one = page1.data[0];
    assert.ok(one !== undefined);
    assert.equal(one.size, '256x256');
    assert.equal((await fetchImage(one.url)).width, 256);
    assert.equal((await get(mine.plaintext, `/${one.id}`)).status, 200);
    assert.equal((await get(theirs.plaintext, `/${one.id}`)).status, 404);
    assert.equal((await get(mine.plaintext, '?limit=500')).status, 400);
  });
});
