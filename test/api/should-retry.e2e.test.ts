import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';

/**
 * `x-should-retry`, which the official SDKs obey before their own status rules: a refusal no
 * retry can fix (a budget, a revoked or expired key, a channel whose credentials the upstream
 * refuses) says false, so the SDK gives up at once instead of retrying a 429 three times;
 * transient ones (rate limits, upstream faults) say true.
 */
describe('x-should-retry on refusals', () => {
  let upstream: FakeServer;
  let gateway: TestGateway;
  before(async () => {
    upstream = await startOpenAIFake();
    const channels = [
      {
        id: 'up',
        provider: 'openai',
        baseUrl: `${upstream.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1': 'gpt-image-1' },
        local: true,
        timeoutMs: 3000,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
  });
  beforeEach(() => upstream.reset());

  /** The official client with retries on, counting the HTTP attempts it makes. */
  function countingClient(apiKey: string): { client: OpenAI; attempts: () => number } {
    let attempts = 0;
    const client = new OpenAI({
      apiKey,
      baseURL: `${gateway.baseUrl}/v1`,
      maxRetries: 2,
      fetch: async (input, init) => {
        attempts += 1;
        return fetch(input, init);
      },
    });
    return { client, attempts: () => attempts };
  }

  async function refusal(apiKey: string, model = 'gpt-image-1'): Promise<{ status: number; shouldRetry: string | null; code: unknown; attempts: number }> {
    const { client, attempts } = countingClient(apiKey);
    try {
      await client.images.generate({ model, prompt: 'a cat', quality: 'low' });
    } catch (err) {
      assert.ok(err instanceof OpenAI.APIError, String(err));
      return { status: err.status ?? 0, shouldRetry: err.headers?.get('x-should-retry') ?? null, code: err.code, attempts: attempts() };
    }
    assert.fail('the request was not refused');
  }

  it('false for an exhausted budget: the SDK asks once, not three times', async () => {
    const key = await gateway.deps.keys.create({ name: 'broke', budgetMicroUsd: 0 });
    const result = await refusal(key.plaintext);
    assert.deepEqual(result, { status: 429, shouldRetry: 'false', code: 'insufficient_quota', attempts: 1 });
  });

  it('false for a revoked and for an expired key', async () => {
    const revoked = await gateway.deps.keys.create({ name: 'gone' });
    await gateway.deps.keys.revoke(revoked.row.id);
    assert.equal((await refusal(revoked.plaintext)).shouldRetry, 'false');
    const expired = await gateway.deps.keys.create({ name: 'old', expiresAtMs: Date.now() - 1000 });
    const result = await refusal(expired.plaintext);
    assert.equal(result.status, 401);
    assert.equal(result.shouldRetry, 'false');
  });

  it('false for bad input, true (with Retry-After) for a key over its rate limit', async () => {
    const invalid = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x', n: 99 }),
    });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.headers.get('x-should-retry'), 'false');

    const limited = await gateway.deps.keys.create({ name: 'slow', requestsPerMinute: 1 });
    const first = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${limited.plaintext}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x', quality: 'low' }),
    });
    assert.equal(first.status, 200);
    const second = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${limited.plaintext}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x', quality: 'low' }),
    });
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('x-should-retry'), 'true');
    assert.ok(Number(second.headers.get('retry-after')) >= 1);
  });

  it('true for upstream faults, false when the upstream refuses the channel credentials', async () => {
    upstream.queue(...Array.from({ length: 8 }, () => ({ kind: 'status' as const, status: 500 })));
    const failing = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x', quality: 'low' }),
    });
    assert.ok(failing.status >= 500, String(failing.status));
    assert.equal(failing.headers.get('x-should-retry'), 'true');

    upstream.reset();
    upstream.queue({ kind: 'auth' });
    const misconfigured = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-image-1', prompt: 'x', quality: 'low' }),
    });
    assert.equal(misconfigured.status, 502);
    assert.equal(((await misconfigured.json()) as { error: { code: string } }).error.code, 'upstream_configuration_error');
    assert.equal(misconfigured.headers.get('x-should-retry'), 'false');
  });
});
