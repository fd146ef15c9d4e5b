import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { waitUntil } from '../support/checks.ts';

/** The gateway in front of fake upstreams, called with the official client over real sockets. */
describe('routing to upstream channels', () => {
  let primary: FakeServer;
  let backup: FakeServer;
  let gateway: TestGateway;
  before(async () => {
    primary = await startOpenAIFake();
    backup = await startOpenAIFake({ apiKey: 'sk-backup' });
    const channels = [
      {
        id: 'primary',
        provider: 'openai',
        baseUrl: `${primary.url}/v1`,
        apiKey: 'sk-upstream-test',
        models: { 'gpt-image-1': 'gpt-image-1', 'dall-e-3': 'dall-e-3' },
        priority: 10,
        local: true,
        timeoutMs: 3000,
      },
      {
        id: 'backup',
        provider: 'openai',
        baseUrl: `${backup.url}/v1`,
        apiKey: 'sk-backup',
        models: { 'gpt-image-1': 'gpt-image-1' },
        priority: 1,
        local: true,
        timeoutMs: 3000,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await primary.close();
    await backup.close();
  });
  beforeEach(() => {
    primary.reset();
    backup.reset();
  });

  it('serves a GPT image model from its channel, with provider, channel, attempts and cost headers', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', quality: 'low' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'openai');
    assert.equal(response.headers.get('x-imagegate-channel'), 'primary');
    assert.equal(response.headers.get('x-imagegate-attempts'), '1');
    assert.ok(Number(response.headers.get('x-imagegate-cost-usd')) > 0);
    assert.equal(data.usage?.output_tokens, 100, 'the upstream usage is passed on');
    assert.equal((await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'))).width, 1024);
    assert.equal(primary.count('/images/generations'), 1);
  });

  it('answers url with its own signed link, never the upstream one', async () => {
    primary.queue({ kind: 'url_answer' });
    const result = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', response_format: 'url' });
    const url = result.data?.[0]?.url ?? '';
    assert.ok(url.startsWith(gateway.baseUrl), url);
    assert.ok(!url.includes(primary.url));
    assert.equal((await fetchImage(url)).format, 'png');
  });

  it('transcodes when the upstream ignores output_format', async () => {
    primary.queue({ kind: 'ignore_format' });
    const result = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat', output_format: 'jpeg', output_compression: 50 });
    assert.equal((await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'))).format, 'jpeg');
  });

  it('retries a 500 on the same channel: two upstream attempts, one image', async () => {
    primary.queue({ kind: 'status', status: 500 });
    const { response } = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(primary.count('/images/generations'), 2);
  });

  it('falls back to the backup when the primary rejects our key, and logs no secret', async () => {
    primary.queue({ kind: 'auth' });
    const { response } = await gateway.client().images.generate({ model: 'gpt-image-1', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-channel'), 'backup');
    assert.equal(backup.received[0]?.headers['authorization'], 'Bearer sk-backup');
  });

  it('a refused key on the only channel is a 502 configuration error', async () => {
    primary.queue({ kind: 'auth' });
    await assert.rejects(gateway.client().images.generate({ model: 'dall-e-3', prompt: 'a cat' }), (err: unknown) => {
      const e = err as { status: number; code: string; message: string };
      assert.equal(e.status, 502);
      assert.equal(e.code, 'upstream_configuration_error');
      assert.ok(!e.message.includes('sk-'));
      return true;
    });
  });

  it('moderation is a 400 content_policy_violation, not retried, not charged', async () => {
    primary.queue({ kind: 'moderation' });
    const before = (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? 0;
    await assert.rejects(gateway.client().images.generate({ model: 'dall-e-3', prompt: 'something bad' }), (err: unknown) => {
      assert.equal((err as { status: number }).status, 400);
      assert.equal((err as { code: string }).code, 'content_policy_violation');
      return true;
    });
    assert.equal(primary.count('/images/generations'), 1);
    const afterCommitted = (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? 0;
    assert.equal(afterCommitted, before);
  });

  it('an upstream 429 that outlasts the retry cap reaches the client as 429 with Retry-After', async () => {
    primary.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-3', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  it('a model without a channel is a 503 naming it', async () => {
    await assert.rejects(gateway.client().images.generate({ model: 'dall-e-2', prompt: 'a cat' }), (err: unknown) => {
      assert.equal((err as { status: number }).status, 503);
      assert.match((err as { message: string }).message, /dall-e-2/);
      return true;
    });
    const models = await gateway.client().models.list();
    const providers = Object.fromEntries(models.data.map((m) => [m.id, (m as unknown as { imagegate: { provider: string } }).imagegate.provider]));
    assert.equal(providers['gpt-image-1'], 'openai');
    assert.equal(providers['dall-e-2'], 'none');
  });

  it('a client that disconnects aborts the upstream call and is charged nothing', async () => {
    primary.queue({ kind: 'stall' });
    const before = (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? 0;
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'dall-e-3', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => primary.count('/images/generations') === 1);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => primary.aborted === 1);
    await waitUntil(async () => ((await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1) === before);
    assert.equal(primary.count('/images/generations'), 1, 'no retry after the client left');
  });
});
