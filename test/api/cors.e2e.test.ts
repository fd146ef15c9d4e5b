import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../support/gateway.ts';

const APP = 'https://app.example.com';

/** What a browser sends before a cross-origin POST with a key and a JSON body. */
function preflight(gateway: TestGateway, origin: string, path = '/v1/images/generations'): Promise<Response> {
  return fetch(`${gateway.baseUrl}${path}`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, idempotency-key, x-stainless-os',
    },
  });
}

describe('CORS by default', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await gateway.close();
  });

  it('allows no origin: preflights are not granted and answers carry no CORS headers', async () => {
    const answer = await preflight(gateway, APP);
    assert.equal(answer.headers.get('access-control-allow-origin'), null);
    assert.notEqual(answer.status, 204);
    const models = await fetch(`${gateway.baseUrl}/v1/models`, { headers: { origin: APP, authorization: `Bearer ${gateway.key}` } });
    assert.equal(models.status, 200);
    assert.equal(models.headers.get('access-control-allow-origin'), null);
  });
});

describe('CORS with allowed origins', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startGateway({ IMAGEGATE_CORS_ORIGINS: `${APP},http://localhost:5173`, IMAGEGATE_CORS_MAX_AGE_SECONDS: '120' });
  });
  after(async () => {
    await gateway.close();
  });

  it('answers the preflight of an allowed origin before any key is checked', async () => {
    const answer = await preflight(gateway, APP);
    assert.equal(answer.status, 204);
    assert.equal(answer.headers.get('access-control-allow-origin'), APP);
    assert.match(answer.headers.get('access-control-allow-methods') ?? '', /\bPOST\b/);
    for (const header of ['authorization', 'content-type', 'idempotency-key', 'x-stainless-os']) {
      assert.match(answer.headers.get('access-control-allow-headers') ?? '', new RegExp(`\\b${header}\\b`, 'i'));
    }
    assert.equal(answer.headers.get('access-control-max-age'), '120');
    assert.equal(answer.headers.get('access-control-allow-credentials'), null);
    assert.match(answer.headers.get('vary') ?? '', /Origin/);
  });

  it('lets the browser read the answer and the imagegate headers of an allowed origin, errors included', async () => {
    const answer = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { origin: 'http://localhost:5173', authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-2', prompt: 'a kite', size: '256x256' }),
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    const exposed = (answer.headers.get('access-control-expose-headers') ?? '').split(/,\s*/);
    for (const header of ['x-request-id', 'x-imagegate-cost-usd', 'x-imagegate-provider', 'x-ratelimit-remaining-requests', 'retry-after'])
      assert.ok(exposed.includes(header), header);
    await answer.arrayBuffer();
    const refused = await fetch(`${gateway.baseUrl}/v1/models`, { headers: { origin: APP } });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), APP);
  });

  it('answers an OPTIONS without preflight headers without an error outside the OpenAI envelope', async () => {
    const answer = await fetch(`${gateway.baseUrl}/v1/models`, { method: 'OPTIONS' });
    assert.equal(answer.status, 204);
    assert.equal(await answer.text(), '');
  });

  it('grants nothing to another origin', async () => {
    const answer = await preflight(gateway, 'https://evil.example.com');
    assert.equal(answer.headers.get('access-control-allow-origin'), null);
    const models = await fetch(`${gateway.baseUrl}/v1/models`, { headers: { origin: 'https://evil.example.com', authorization: `Bearer ${gateway.key}` } });
    assert.equal(models.headers.get('access-control-allow-origin'), null);
  });
});

describe('CORS with *', () => {
  it('allows any origin', async () => {
    const gateway = await startGateway({ IMAGEGATE_CORS_ORIGINS: '*' });
    try {
      const answer = await preflight(gateway, 'https://anywhere.example');
      assert.equal(answer.status, 204);
      assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    } finally {
      await gateway.close();
    }
  });
});
