import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';

describe('API keys on /v1', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  async function generate(headers: Record<string, string>): Promise<{ status: number; code: string; message: string }> {
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'dall-e-2', prompt: 'a cat', size: '256x256' }),
    });
    const body = (await response.json()) as { error?: { code: string; message: string; type: string } };
    return { status: response.status, code: body.error?.code ?? '', message: body.error?.message ?? '' };
  }

  it('a missing key is a 401 invalid_api_key', async () => {
    const result = await generate({});
    assert.deepEqual([result.status, result.code], [401, 'invalid_api_key']);
  });

  it('a garbled header or unknown key is a 401 that does not echo what was sent', async () => {
    for (const header of ['Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${gateway.key}x`, 'Bearer sk-ig-guess', `${gateway.key}`]) {
      const result = await generate({ authorization: header });
      assert.deepEqual([result.status, result.code], [401, 'invalid_api_key'], header);
      assert.ok(!result.message.includes('guess') && !result.message.includes(gateway.key.slice(8)), result.message);
    }
  });

  it('authentication comes before body validation', async () => {
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(response.status, 401);
  });

  it('guards every /v1 route, including models', async () => {
    const response = await fetch(`${gateway.baseUrl}/v1/models`);
    assert.equal(response.status, 401);
    await assert.rejects(gateway.client({ apiKey: 'sk-wrong' }).models.list(), (err: unknown) => (err as { status: number }).status === 401);
  });

  it('a revoked key stops working at once', async () => {
    const created = await gateway.deps.keys.create({ name: 'to revoke' });
    assert.equal((await generate({ authorization: `Bearer ${created.plaintext}` })).status, 200);
    await gateway.deps.keys.revoke(created.row.id);
    const result = await generate({ authorization: `Bearer ${created.plaintext}` });
    assert.deepEqual([result.status, result.code], [401, 'invalid_api_key']);
    assert.match(result.message, /revoked/);
  });

  it('stores only a hash and a short display prefix of each key', async () => {
    const rows = await gateway.deps.keys.list();
    for (const row of rows) {
      assert.match(row.key_hash, /^[0-9a-f]{64}$/);
      assert.ok(row.display_prefix.length <= 13);
      assert.ok(!gateway.key.startsWith(row.key_hash));
    }
    const stored = JSON.stringify(rows);
    assert.ok(!stored.includes(gateway.key));
  });

  it('healthz needs no key', async () => {
    const response = await fetch(`${gateway.baseUrl}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
  });
});
