import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { type BflFake, startBflFake } from '../fakes/bfl-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { committedMicroUsd, waitUntil } from '../support/checks.ts';

/** The gateway in front of a fake BFL, called with the official client over real sockets. */

const MODELS = {
  'flux-pro-1.1': 'flux-pro-1.1',
  'flux-pro-1.1-ultra': 'flux-pro-1.1-ultra',
  'flux-kontext-pro': 'flux-kontext-pro',
  'flux-2-pro': 'flux-2-pro',
};

function bflChannel(fake: BflFake, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'bfl',
    provider: 'bfl',
    baseUrl: fake.baseUrl,
    apiKey: fake.apiKey,
    models: MODELS,
    local: true,
    timeoutMs: 5000,
    options: { pollInitialMs: '5', pollMaxMs: '20' },
    ...extra,
  };
}

async function expectApiError(run: Promise<unknown>, status: number, code: string, check?: (err: InstanceType<typeof OpenAI.APIError>) => void): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  });
}

describe('FLUX through the bfl provider, end to end', () => {
  let fake: BflFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startBflFake({ pollsUntilDone: 2 });
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([bflChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 2;
  });

  it("generates one image as b64_json, charged at BFL's price", async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-pro-1.1', prompt: 'a lighthouse in a storm', size: '1024x768', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'bfl');
    assert.equal(response.headers.get('x-imagegate-channel'), 'bfl');
    assert.equal(response.headers.get('x-imagegate-attempts'), '1');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.04);
    assert.equal(data.data?.length, 1);
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 768]);
    assert.equal(fake.submits.length, 1);
    assert.equal(fake.submits[0]?.headers['x-key'], fake.apiKey);
  });

  it('fans n=3 out into three tasks and answers three signed gateway links', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'flux-pro-1.1', prompt: 'three kites', n: 3, size: '768x1024', response_format: 'url', output_format: 'jpeg' })
      .withResponse();
    assert.equal(fake.submits.length, 3, 'one BFL task per image');
    assert.ok(fake.submits.every((s) => !('n' in (s.json as object)) && (s.json as { output_format: string }).output_format === 'jpeg'));
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.12);
    const urls = (data.data ?? []).map((item) => item.url ?? '');
    assert.equal(new Set(urls).size, 3);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), "the gateway's own link, never BFL's");
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 768, 1024]);
    }
  });

  it("reports the size delivered when BFL's grid changed it", async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'a long banner', size: '800x160' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1280x256');
    assert.equal((data as unknown as { size?: string }).size, '1280x256');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1280, 256]);
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.04);
  });

  it("maps an OpenAI size to Ultra's aspect ratio and reports the pixels it drew", async () => {
    fake.pollsUntilDone = 1;
    const data = await gateway.client().images.generate({ model: 'flux-pro-1.1-ultra', prompt: 'a desert road', size: '1792x1024', output_format: 'jpeg' });
    assert.equal((fake.submits[0]?.json as { aspect_ratio?: string }).aspect_ratio, '16:9');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.equal(image.format, 'jpeg');
    assert.equal((data as unknown as { size?: string }).size, `${image.width}x${image.height}`);
    assert.ok(Math.abs(image.width / image.height - 16 / 9) < 0.03);
  });

  it('answers stream: true with a completed event (BFL has no partial images)', async () => {
    const stream = await gateway.client().images.generate({ model: 'flux-2-pro', prompt: 'a poster', size: '1024x1024', stream: true } as never);
    const events: Array<{ type: string; b64_json?: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json?: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed'],
    );
    const image = await decode(Buffer.from(events[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 1024]);
  });

  it('a moderated task (HTTP 200 "Content Moderated") is a 400 content_policy_violation, not retried, not charged', async () => {
    fake.queueTasks('content_moderated');
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'something flagged' }), 400, 'content_policy_violation');
    assert.equal(fake.submits.length, 1, 'a refusal is not retried');
    assert.equal(fake.downloads.length, 0);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a 500 on submit is retried on the same channel and recovers', async () => {
    fake.api.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.submits.length, 2);
    assert.equal(data.data?.length, 1);
  });

  it('a task that ends in Error is submitted again and recovers', async () => {
    fake.queueTasks('error');
    const { response } = await gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.taskCount >= 2, true);
  });

  it('a 429 whose retry_after outlasts the retry cap reaches the client as 429 with Retry-After', async () => {
    fake.api.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-pro-1.1', prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  it("a polling URL off BFL's site is never polled: 502, nothing charged", async () => {
    fake.pollingOrigin = fake.regional.url.replace('127.0.0.1', 'localhost');
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'a cat' }), 502, 'upstream_error');
    assert.equal(fake.regional.received.length, 0);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a client that disconnects stops the polling and is charged nothing', async () => {
    fake.pollsUntilDone = 1_000_000;
    const before = await committedMicroUsd(gateway);
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'flux-pro-1.1', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.polls.length >= 2);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(async () => (await committedMicroUsd(gateway)) === before);
    const pollsAfterAbort = fake.polls.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(fake.polls.length, pollsAfterAbort, 'no poll after the client left');
    assert.equal(fake.submits.length, 1, 'no second task after the client left');
  });

  describe('edits (Kontext)', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'imagegate-bfl-edit-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('sends the uploaded image in input_image and answers the edited picture', async () => {
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
      assert.equal(response.headers.get('x-imagegate-provider'), 'bfl');
      assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.04);
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.equal(fake.submits[0]?.path, '/v1/flux-kontext-pro');
      assert.equal(body['input_image'], photo.toString('base64'));
      assert.equal(body['aspect_ratio'], '4:3', 'the ratio of the image');
      const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
      assert.ok(Math.abs(image.width / image.height - 4 / 3) < 0.03, `${image.width}x${image.height}`);
    });

    it('refuses a mask with a 400 naming it, before any task', async () => {
      const photo = await fakePng(512, 512, 6);
      const mask = await sharp(photo).ensureAlpha().png().toBuffer();
      writeFileSync(path.join(dir, 'mask.png'), mask);
      await expectApiError(
        gateway.client().images.edit({
          model: 'flux-kontext-pro',
          image: await toFile(photo, 'photo.png', { type: 'image/png' }),
          mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
          prompt: 'x',
        }),
        400,
        'unsupported_parameter',
        (err) => assert.equal(err.param, 'mask'),
      );
      assert.equal(fake.submits.length, 0);
    });
  });

  it('lists the FLUX models with bfl serving them', async () => {
    const models = await gateway.client().models.list();
    const byId = new Map(models.data.map((m) => [m.id, m as unknown as { imagegate: { provider: string } }]));
    for (const id of Object.keys(MODELS)) assert.equal(byId.get(id)?.imagegate.provider, 'bfl', id);
  });
});

describe('the request deadline stops a BFL task that never finishes', () => {
  let fake: BflFake;
  let gateway: TestGateway;
  let dir: string;
  before(async () => {
    fake = await startBflFake({ pollsUntilDone: 1_000_000 });
    dir = mkdtempSync(path.join(tmpdir(), 'imagegate-bfl-deadline-'));
    const config = path.join(dir, 'imagegate.yaml');
    writeFileSync(config, 'routing:\n  deadlineMs: 1000\n  maxAttempts: 1\n');
    gateway = await startGateway({ IMAGEGATE_CONFIG: config, IMAGEGATE_CHANNELS: JSON.stringify([bflChannel(fake)]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers 504, charges nothing and polls no more', async () => {
    const before = await committedMicroUsd(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'flux-pro-1.1', prompt: 'a slow cat' }), 504, 'upstream_timeout');
    const polls = fake.polls.length;
    assert.ok(polls > 1, 'it was polling');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(fake.polls.length, polls, 'no poll after the deadline');
    assert.equal(fake.submits.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });
});
