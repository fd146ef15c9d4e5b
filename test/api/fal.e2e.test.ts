import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type BflFake, startBflFake } from '../fakes/bfl-fake.ts';
import { type FalFake, startFalFake } from '../fakes/fal-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { committedMicroUsd, waitUntil } from '../support/checks.ts';

/** The gateway in front of a fake fal queue, called with the official client over real sockets. */

const MODELS = {
  'flux-dev': 'fal-ai/flux/dev',
  'flux-schnell': 'fal-ai/flux/schnell',
  'flux-pro-1.1-ultra': 'fal-ai/flux-pro/v1.1-ultra',
};

function falChannel(fake: FalFake, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'fal',
    provider: 'fal',
    baseUrl: fake.baseUrl,
    apiKey: fake.apiKey,
    models: MODELS,
    local: true,
    timeoutMs: 5000,
    options: { pollInitialMs: '5', pollMaxMs: '20' },
    ...extra,
  };
}

async function expectApiError(run: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('FLUX through the fal provider, end to end', () => {
  let fake: FalFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startFalFake({ pollsUntilDone: 2 });
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([falChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 2;
  });

  it('generates one image as b64_json, charged at the catalog price', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-dev', prompt: 'a lighthouse in a storm', size: '1024x768', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'fal');
    assert.equal(response.headers.get('x-imagegate-attempts'), '1');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.025);
    assert.equal(data.data?.length, 1);
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 768]);
    assert.equal(fake.submits.length, 1);
    assert.equal(fake.submits[0]?.headers['authorization'], `Key ${fake.apiKey}`);
  });

  it('asks fal for n=3 in one request and answers three signed gateway links in the format asked', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-schnell', prompt: 'three kites', n: 3, size: '768x1024', response_format: 'url', output_format: 'webp' })
      .withResponse();
    assert.equal(fake.submits.length, 1, 'num_images carries n');
    assert.equal((fake.submits[0]?.json as { num_images?: number }).num_images, 3);
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.009);
    const urls = (data.data ?? []).map((item) => item.url ?? '');
    assert.equal(new Set(urls).size, 3);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), "the gateway's own link, never fal's");
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['webp', 768, 1024]);
    }
  });

  it('fans n above maxImagesPerCall out into several fal requests', async () => {
    const small = await startGateway({
      IMAGEGATE_CHANNELS: JSON.stringify([falChannel(fake, { options: { pollInitialMs: '5', pollMaxMs: '20', maxImagesPerCall: '2' } })]),
    });
    try {
      const data = await small.client().images.generate({ model: 'flux-dev', prompt: 'four boats', n: 4, size: '1024x1024' });
      assert.equal(data.data?.length, 4);
      assert.deepEqual(
        fake.submits.map((s) => (s.json as { num_images?: number }).num_images),
        [2, 2],
      );
    } finally {
      await small.close();
    }
  });

  it('maps an OpenAI size to an aspect ratio for Ultra and reports the pixels fal delivered', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-pro-1.1-ultra', prompt: 'a desert road', size: '1792x1024', output_format: 'jpeg' })
      .withResponse();
    assert.equal((fake.submits[0]?.json as { aspect_ratio?: string }).aspect_ratio, '16:9');
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '2752x1536');
    assert.equal((data as unknown as { size?: string }).size, '2752x1536');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['jpeg', 2752, 1536]);
  });

  it('answers stream: true with completed events', async () => {
    const stream = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a poster', size: '1024x1024', n: 2, stream: true } as never);
    const events: Array<{ type: string; b64_json?: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json?: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed', 'image_generation.completed'],
    );
    const image = await decode(Buffer.from(events[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
  });

  it('black squares flagged in has_nsfw_concepts (HTTP 200) are a 400 content_policy_violation, not retried, not charged', async () => {
    fake.queueOutcomes('nsfw_all');
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'something flagged' }), 400, 'content_policy_violation');
    assert.equal(fake.submits.length, 1, 'a refusal is not retried');
    assert.equal(fake.downloads.length, 0);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a partial refusal (one of two flagged) is refused as a whole and charged nothing', async () => {
    fake.queueOutcomes('nsfw_first');
    const before = await committedMicroUsd(gateway);
    await expectApiError(
      gateway.client().images.generate({ model: 'flux-dev', prompt: 'two, one flagged', n: 2, response_format: 'url' }),
      400,
      'content_policy_violation',
    );
    assert.equal(fake.submits.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a 422 content_policy_violation from the model is a 400 refusal', async () => {
    fake.queueOutcomes('policy_422');
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'flagged prompt' }), 400, 'content_policy_violation');
    assert.equal(fake.submits.length, 1);
  });

  it('a 500 on submit is retried and recovers', async () => {
    fake.queue.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.submits.length, 2);
    assert.equal(data.data?.length, 1);
  });

  it('a request that fal completes with a runner error is queued again and recovers', async () => {
    fake.queueOutcomes('run_failed');
    const { response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat', response_format: 'url' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.requestCount, 2);
  });

  it('a 429 whose Retry-After outlasts the retry cap reaches the client as 429 with Retry-After', async () => {
    fake.queue.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-dev', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  it('a client that disconnects cancels the fal request and is charged nothing', async () => {
    fake.pollsUntilDone = 1_000_000;
    const before = await committedMicroUsd(gateway);
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-dev', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.polls.length >= 2);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => fake.cancels.length === 1);
    assert.equal(fake.requests[0]?.cancelled, true);
    await waitUntil(async () => (await committedMicroUsd(gateway)) === before);
    assert.equal(fake.submits.length, 1, 'no second request after the client left');
  });

  it('lists the FLUX models with fal serving them', async () => {
    const models = await gateway.client().models.list();
    const byId = new Map(models.data.map((m) => [m.id, m as unknown as { imagegate: { provider: string } }]));
    for (const id of Object.keys(MODELS)) assert.equal(byId.get(id)?.imagegate.provider, 'fal', id);
  });
});

describe('the request deadline cancels a fal request that never finishes', () => {
  let fake: FalFake;
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    fake = await startFalFake({ pollsUntilDone: 1_000_000 });
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-fal-deadline-'));
    const config = path.join(dir, 'imagegate.yaml');
    writeFileSync(config, 'routing:\n  deadlineMs: 1000\n  maxAttempts: 1\n');
    gateway = await startGateway({ IMAGEGATE_CONFIG: config, IMAGEGATE_CHANNELS: JSON.stringify([falChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 504, cancels the request upstream and charges nothing', async () => {
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'a slow cat' }), 504, 'upstream_timeout');
    assert.ok(fake.polls.length > 1, 'it was polling');
    await waitUntil(() => fake.cancels.length === 1);
    assert.equal(fake.requests[0]?.cancelled, true);
    assert.equal(fake.submits.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });
});

describe('one model over two providers: flux-dev on fal, falling back to BFL', () => {
  let fal: FalFake;
  let bfl: BflFake;
  let gateway: TestGateway;
  before(async () => {
    fal = await startFalFake({ pollsUntilDone: 1 });
    bfl = await startBflFake({ pollsUntilDone: 1 });
    const channels = [
      falChannel(fal, { priority: 10, models: { 'flux-dev': 'fal-ai/flux/dev' } }),
      {
        id: 'bfl',
        provider: 'bfl',
        baseUrl: bfl.baseUrl,
        apiKey: bfl.apiKey,
        models: { 'flux-dev': 'flux-dev' },
        local: true,
        priority: 0,
        options: { pollInitialMs: '5', pollMaxMs: '20' },
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await Promise.all([fal.close(), bfl.close()]);
  });
  beforeEach(() => {
    fal.reset();
    bfl.reset();
  });

  it('serves from fal first, and from BFL when fal throttles for longer than the retry cap', async () => {
    const first = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a harbour' }).withResponse();
    assert.equal(first.response.headers.get('x-imagegate-provider'), 'fal');
    assert.equal(bfl.submits.length, 0);

    // A wait longer than routing.maxRetryAfterMs moves the request on to the next channel.
    fal.queue.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const { data, response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a harbour', size: '1024x768' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'bfl');
    assert.equal(bfl.submits.length, 1);
    assert.equal(fal.submits.length, 2, 'one try on fal for the second request');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 768]);
  });
});
