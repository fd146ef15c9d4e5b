import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { toFile } from 'openai';
import { fakeImage } from '../fakes/fake-images.ts';
import { GEMINI_TEST_MODELS, type OpenRouterFake, startOpenRouterFake } from '../fakes/openrouter-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { waitUntil } from '../support/checks.ts';

const KEY = 'sk-or-v1-upstream-test';

/**
 * The gateway in front of a fake OpenRouter, called with the official client over real sockets;
 * the Gemini model is defined by the operator (IMAGEGATE_MODELS) and mapped to OpenRouter's id.
 */
describe('openrouter through the gateway', () => {
  let fake: OpenRouterFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startOpenRouterFake({ apiKey: KEY });
    const channels = [
      {
        id: 'or',
        provider: 'openrouter',
        baseUrl: fake.baseUrl,
        apiKey: KEY,
        models: { 'gemini-2.5-flash-image': 'google/gemini-2.5-flash-image' },
        options: { title: 'imagegate tests' },
        local: true,
        timeoutMs: 3000,
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_MODELS: JSON.stringify(GEMINI_TEST_MODELS) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const committedMicroUsd = async (): Promise<number> => (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;
  const refusedWith = (status: number, code: string) => (err: unknown) => {
    assert.equal((err as { status: number }).status, status);
    assert.equal((err as { code: string }).code, code);
    return true;
  };

  it('answers b64_json with the decoded picture, priced per image', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a red kite', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'openrouter');
    assert.equal(response.headers.get('x-imagegate-cost-usd'), '0.039000');
    assert.equal(fake.server.received[0]?.headers['x-title'], 'imagegate tests');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
  });

  it('fans n out, one picture per upstream call, and answers url with its own links', async () => {
    const result = await gateway.client().images.generate({ model: 'gemini-2.5-flash-image', prompt: 'three kites', n: 3, response_format: 'url' });
    assert.equal(result.data?.length, 3);
    assert.equal(fake.server.count('/chat/completions'), 3);
    for (const item of result.data ?? []) {
      const url = item.url ?? '';
      assert.ok(url.startsWith(gateway.baseUrl), url);
      assert.equal((await fetchImage(url)).width, 1024);
    }
  });

  it('reports the size Gemini delivered for a non-square request', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a wide bay', size: '1792x1024' })
      .withResponse();
    assert.deepEqual(fake.bodies()[0]?.['image_config'], { aspect_ratio: '16:9' });
    assert.equal(data.size, '1344x768');
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1344x768');
  });

  it('retries a 502 (model down) and delivers on the second attempt', async () => {
    fake.server.queue({ kind: 'status', status: 502 });
    const { response } = await gateway.client().images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.count('/chat/completions'), 2);
  });

  it('finish_reason content_filter in an HTTP 200 is a 400 content_policy_violation, not retried, not charged', async () => {
    fake.queueAnswers('content_filter');
    const before = await committedMicroUsd();
    await assert.rejects(
      gateway.client().images.generate({ model: 'gemini-2.5-flash-image', prompt: 'something forbidden' }),
      refusedWith(400, 'content_policy_violation'),
    );
    assert.equal(fake.server.count('/chat/completions'), 1);
    assert.equal(await committedMicroUsd(), before);
  });

  it('the 403 moderation error is a 400 content_policy_violation, not charged', async () => {
    fake.server.queue({ kind: 'moderation' });
    const before = await committedMicroUsd();
    await assert.rejects(
      gateway.client().images.generate({ model: 'gemini-2.5-flash-image', prompt: 'something violent' }),
      refusedWith(400, 'content_policy_violation'),
    );
    assert.equal(fake.server.count('/chat/completions'), 1);
    assert.equal(await committedMicroUsd(), before);
  });

  it('402 (the operator is out of credits) is a 502 configuration error', async () => {
    fake.server.queue({ kind: 'status', status: 402, body: { error: { code: 402, message: 'Insufficient credits' } } });
    await assert.rejects(
      gateway.client().images.generate({ model: 'gemini-2.5-flash-image', prompt: 'a cat' }),
      refusedWith(502, 'upstream_configuration_error'),
    );
  });

  it('a 429 whose Retry-After outlasts the retry cap reaches the client as 429 with that hint', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 90 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash-image', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '90');
  });

  it('a client that leaves cuts the stalled upstream call and is charged nothing', async () => {
    fake.server.queue({ kind: 'stall' });
    const before = await committedMicroUsd();
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash-image', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.server.count('/chat/completions') === 1);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => fake.server.aborted === 1);
    await waitUntil(async () => (await committedMicroUsd()) === before);
    assert.equal(fake.server.count('/chat/completions'), 1, 'no retry after the client left');
  });

  it('edits through the official client show OpenRouter the image as a data URL', async () => {
    const result = await gateway.client().images.edit({
      model: 'gemini-2.5-flash-image',
      image: await toFile(await fakeImage(512, 512, 'png'), 'source.png', { type: 'image/png' }),
      prompt: 'make it night',
      response_format: 'b64_json',
    });
    const content = (fake.bodies()[0]?.['messages'] as Array<{ content: Array<{ type: string; image_url?: { url: string } }> }>)[0]?.content ?? [];
    assert.equal(content[1]?.type, 'image_url');
    assert.ok(content[1]?.image_url?.url.startsWith('data:image/png;base64,'));
    assert.equal((await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'))).width, 1024);
  });
});
