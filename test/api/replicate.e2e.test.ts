import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { type BflFake, startBflFake } from '../fakes/bfl-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import { type ReplicateFake, startReplicateFake } from '../fakes/replicate-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { committedMicroUsd, waitUntil } from '../support/checks.ts';

/** The gateway in front of a fake Replicate (and, for fallback, a fake BFL), called with the official client. */

const MODELS = {
  'flux-dev': 'black-forest-labs/flux-dev',
  'flux-schnell': 'black-forest-labs/flux-schnell',
  'flux-kontext-pro': 'black-forest-labs/flux-kontext-pro',
};

function replicateChannel(fake: ReplicateFake, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'replicate',
    provider: 'replicate',
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

describe('FLUX through the replicate provider, end to end', () => {
  let fake: ReplicateFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startReplicateFake();
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([replicateChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 0;
  });

  it('generates one image as b64_json, charged at the catalog price', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-schnell', prompt: 'a lighthouse in a storm', size: '1024x1024', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'replicate');
    assert.equal(response.headers.get('x-imagegate-attempts'), '1');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.003);
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
    assert.equal(fake.creates[0]?.path, '/v1/models/black-forest-labs/flux-schnell/predictions');
    assert.equal(fake.creates[0]?.headers['authorization'], `Bearer ${fake.apiKey}`);
  });

  it('makes n=3 in one prediction (polled) and answers three gateway links', async () => {
    fake.pollsUntilDone = 2;
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-dev', prompt: 'three kites', n: 3, size: '1024x1024', response_format: 'url', output_format: 'jpeg' })
      .withResponse();
    assert.equal(fake.creates.length, 1);
    const input = (fake.creates[0]?.json as { input: Record<string, unknown> }).input;
    assert.deepEqual([input['num_outputs'], input['output_format']], [3, 'jpg']);
    assert.equal(fake.polls.length, 2);
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.075);
    const urls = (data.data ?? []).map((item) => item.url ?? '');
    assert.equal(new Set(urls).size, 3);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), "the gateway's own link, never Replicate's");
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1024, 1024]);
    }
  });

  it('reports the size Replicate drew for a non-square size', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a wide bay', size: '1024x576' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1344x768');
    assert.equal((data as unknown as { size?: string }).size, '1344x768');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1344, 768]);
  });

  it('answers stream: true with a completed event', async () => {
    const stream = await gateway.client().images.generate({ model: 'flux-schnell', prompt: 'a poster', size: '1024x1024', stream: true } as never);
    const events: Array<{ type: string; b64_json?: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json?: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed'],
    );
    const image = await decode(Buffer.from(events[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
  });

  it('a prediction that failed NSFW (HTTP 200) is a 400 content_policy_violation, not retried, not charged', async () => {
    fake.pollsUntilDone = 1;
    fake.queuePredictions('nsfw');
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'something flagged' }), 400, 'content_policy_violation');
    assert.equal(fake.creates.length, 1, 'a refusal is not retried');
    assert.equal(fake.downloads.length, 0);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it("a 422 reaches the client as a 400 with Replicate's message", async () => {
    fake.server.queue({
      kind: 'status',
      status: 422,
      body: {
        title: 'Input validation failed',
        detail: '- input.prompt: prompt is too long',
        status: 422,
        invalid_fields: [{ type: 'max_length', field: 'input.prompt', description: 'prompt is too long' }],
      },
    });
    await assert.rejects(gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 400);
      assert.match(err.message, /prompt is too long/);
      return true;
    });
    assert.equal(fake.creates.length, 1);
  });

  it('a 500 on create is retried and recovers', async () => {
    fake.server.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.creates.length, 2);
    assert.equal(data.data?.length, 1);
  });

  it('a 429 whose wait outlasts the retry cap reaches the client as 429 with Retry-After', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-dev', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  it('a client that disconnects cancels the prediction and is charged nothing', async () => {
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
    assert.ok(fake.wasCanceled(fake.predictionIds[0] ?? ''));
    await waitUntil(async () => (await committedMicroUsd(gateway)) === before);
    assert.equal(fake.creates.length, 1, 'no second prediction after the client left');
  });

  it('edits with Kontext: the upload goes as a data URI in input_image', async () => {
    const photo = await fakePng(1024, 768, 5);
    const { data, response } = await gateway
      .client()
      .images.edit({
        model: 'flux-kontext-pro',
        image: await toFile(photo, 'photo.png', { type: 'image/png' }),
        prompt: 'make it night',
        response_format: 'b64_json',
      })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'replicate');
    const input = (fake.creates[0]?.json as { input: Record<string, unknown> }).input;
    assert.equal(input['input_image'], `data:image/png;base64,${photo.toString('base64')}`);
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.ok(Math.abs(image.width / image.height - 4 / 3) < 0.03, `${image.width}x${image.height}`);
  });
});

describe('the request deadline cancels a Replicate prediction that never finishes', () => {
  let fake: ReplicateFake;
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    fake = await startReplicateFake({ pollsUntilDone: 1_000_000 });
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-replicate-deadline-'));
    const config = path.join(dir, 'imagegate.yaml');
    writeFileSync(config, 'routing:\n  deadlineMs: 1000\n  maxAttempts: 1\n');
    gateway = await startGateway({ IMAGEGATE_CONFIG: config, IMAGEGATE_CHANNELS: JSON.stringify([replicateChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 504, charges nothing, and cancels the prediction upstream', async () => {
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'a slow cat' }), 504, 'upstream_timeout');
    assert.ok(fake.polls.length > 1, 'it was polling');
    await waitUntil(() => fake.cancels.length === 1);
    assert.ok(fake.wasCanceled(fake.predictionIds[0] ?? ''));
    assert.equal(fake.creates.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });
});

describe('one model over two providers: flux-dev via bfl (priority 10), falling back to replicate (5)', () => {
  let bfl: BflFake;
  let replicate: ReplicateFake;
  let gateway: TestGateway;
  before(async () => {
    bfl = await startBflFake({ pollsUntilDone: 1 });
    replicate = await startReplicateFake();
    const channels = [
      {
        id: 'bfl',
        provider: 'bfl',
        baseUrl: bfl.baseUrl,
        apiKey: bfl.apiKey,
        models: { 'flux-dev': 'flux-dev' },
        local: true,
        priority: 10,
        timeoutMs: 5000,
        options: { pollInitialMs: '5', pollMaxMs: '20' },
      },
      replicateChannel(replicate, { priority: 5, models: { 'flux-dev': 'black-forest-labs/flux-dev' } }),
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await Promise.all([bfl.close(), replicate.close()]);
  });
  beforeEach(() => {
    bfl.reset();
    replicate.reset();
  });

  it('lists both providers for flux-dev, bfl first', async () => {
    const models = await gateway.client().models.list();
    const flux = models.data.find((m) => m.id === 'flux-dev') as unknown as { imagegate: { provider: string; providers: string[] } };
    assert.equal(flux.imagegate.provider, 'bfl');
    assert.deepEqual(flux.imagegate.providers, ['bfl', 'replicate']);
  });

  it('serves from bfl while it is healthy', async () => {
    const { response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat', size: '1024x768' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'bfl');
    assert.equal(bfl.submits.length, 1);
    assert.equal(replicate.creates.length, 0);
  });

  it('falls back to replicate when bfl throttles beyond the retry cap, and answers its picture', async () => {
    bfl.api.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const { data, response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat', size: '1024x1024' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'replicate');
    assert.equal(response.headers.get('x-imagegate-channel'), 'replicate');
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(bfl.submits.length, 1);
    assert.equal(replicate.creates.length, 1);
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.025, 'one image charged once');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
  });

  it("falls back to replicate when bfl refuses the gateway's key", async () => {
    bfl.api.queue({ kind: 'auth' });
    const { response } = await gateway.client().images.generate({ model: 'flux-dev', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'replicate');
    assert.equal(replicate.creates.length, 1);
  });

  it('does not fall back on a refusal: a moderated BFL task is the answer', async () => {
    bfl.queueTasks('content_moderated');
    await expectApiError(gateway.client().images.generate({ model: 'flux-dev', prompt: 'something flagged' }), 400, 'content_policy_violation');
    assert.equal(replicate.creates.length, 0);
  });
});
