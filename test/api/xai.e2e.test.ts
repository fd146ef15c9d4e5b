import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { toFile } from 'openai';
import { fakeImage } from '../fakes/fake-images.ts';
import { startXaiFake, type XaiFake } from '../fakes/xai-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { waitUntil } from '../support/checks.ts';

const KEY = 'xai-upstream-test';

/** The gateway in front of a fake xAI, called with the official client over real sockets. */
describe('xai through the gateway', () => {
  let fake: XaiFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startXaiFake({ apiKey: KEY });
    const channels = [
      {
        id: 'grok',
        provider: 'xai',
        baseUrl: fake.baseUrl,
        apiKey: KEY,
        models: { 'grok-imagine-image': 'grok-imagine-image', 'grok-imagine-image-2.0': 'grok-imagine-image-2.0' },
        local: true,
        timeoutMs: 3000,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const committedMicroUsd = async (): Promise<number> => (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;

  it('answers b64_json with the picture xAI drew, priced per image', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'grok-imagine-image', prompt: 'a lighthouse', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'xai');
    assert.equal(response.headers.get('x-imagegate-channel'), 'grok');
    assert.equal(response.headers.get('x-imagegate-cost-usd'), '0.020000');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
    assert.equal(data.data?.[0]?.revised_prompt, 'A detailed rendering of a lighthouse');
    assert.deepEqual(Object.keys(fake.bodies()[0] ?? {}).sort(), ['aspect_ratio', 'model', 'n', 'prompt', 'resolution', 'response_format']);
  });

  it('answers url with its own signed link for n > 1 in one upstream call', async () => {
    const result = await gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'two lighthouses', n: 2, response_format: 'url' });
    assert.equal(result.data?.length, 2);
    assert.equal(fake.server.count('/v1/images/generations'), 1);
    for (const item of result.data ?? []) {
      const url = item.url ?? '';
      assert.ok(url.startsWith(gateway.baseUrl), url);
      assert.equal((await fetchImage(url)).width, 1024);
    }
  });

  it('reports the size xAI delivered for a non-square request', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'a wide bay', size: '1792x1024' }).withResponse();
    assert.equal(fake.bodies()[0]?.['aspect_ratio'], '16:9');
    assert.equal(data.size, '1408x768');
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1408x768');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1408, 768]);
  });

  it('prices grok-imagine-image-2.0 by its quality tier and sends that quality', async () => {
    const { response } = await gateway.client().images.generate({ model: 'grok-imagine-image-2.0', prompt: 'a fox', quality: 'low' }).withResponse();
    assert.equal(fake.bodies()[0]?.['quality'], 'low');
    assert.equal(response.headers.get('x-imagegate-cost-usd'), '0.040000');
  });

  it('retries a 500 and delivers on the second attempt', async () => {
    fake.server.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.count('/v1/images/generations'), 2);
    assert.equal((await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'))).width, 1024);
  });

  it('a refusal sent as HTTP 200 with data: [] is a 400 content_policy_violation, not retried, not charged', async () => {
    fake.server.queue({ kind: 'moderation' });
    const before = await committedMicroUsd();
    await assert.rejects(gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'something forbidden' }), (err: unknown) => {
      assert.equal((err as { status: number }).status, 400);
      assert.equal((err as { code: string }).code, 'content_policy_violation');
      return true;
    });
    assert.equal(fake.server.count('/v1/images/generations'), 1);
    assert.equal(await committedMicroUsd(), before);
  });

  it('an image flagged by xAI moderation fails the whole request without charge', async () => {
    fake.queueAnswers('flagged');
    const before = await committedMicroUsd();
    await assert.rejects(gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'edgy', n: 2 }), (err: unknown) => {
      assert.equal((err as { code: string }).code, 'content_policy_violation');
      return true;
    });
    assert.equal(await committedMicroUsd(), before);
  });

  it('a 429 whose Retry-After outlasts the retry cap reaches the client as 429 with that hint', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'grok-imagine-image', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
  });

  it('a refused key is a 502 configuration error that names no key', async () => {
    fake.server.queue({ kind: 'auth' });
    await assert.rejects(gateway.client().images.generate({ model: 'grok-imagine-image', prompt: 'a cat' }), (err: unknown) => {
      const e = err as { status: number; code: string; message: string };
      assert.equal(e.status, 502);
      assert.equal(e.code, 'upstream_configuration_error');
      assert.ok(!e.message.includes(KEY));
      return true;
    });
  });

  it('a stalled upstream is cut when the client leaves, and nothing is charged', async () => {
    fake.server.queue({ kind: 'stall' });
    const before = await committedMicroUsd();
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'grok-imagine-image', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.server.count('/v1/images/generations') === 1);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => fake.server.aborted === 1);
    await waitUntil(async () => (await committedMicroUsd()) === before);
    assert.equal(fake.server.count('/v1/images/generations'), 1, 'no retry after the client left');
  });

  it('edits through the official client reach xAI as JSON with a data URI', async () => {
    const source = await fakeImage(1024, 1536, 'png');
    const result = await gateway.client().images.edit({
      model: 'grok-imagine-image',
      image: await toFile(source, 'source.png', { type: 'image/png' }),
      prompt: 'make it night',
      response_format: 'b64_json',
    });
    const body = fake.bodies()[0] ?? {};
    assert.equal(fake.server.received[0]?.path, '/v1/images/edits');
    assert.ok(String((body['image'] as { url?: string } | undefined)?.url).startsWith('data:image/png;base64,'));
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [864, 1296], 'the 2:3 input keeps its ratio');
  });
});
