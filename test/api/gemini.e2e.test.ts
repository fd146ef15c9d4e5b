import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { fakePng } from '../fakes/fake-images.ts';
import { startGeminiFake, type GeminiFake } from '../fakes/gemini-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { committedMicroUsd } from '../support/checks.ts';

const FLASH_25 = 'gemini-2.5-flash-image';
const PRO_3 = 'gemini-3-pro-image-preview';
const FLASH_31 = 'gemini-3.1-flash-image-preview';
const KEY = 'gemini-upstream-test';

function channels(fake: GeminiFake): string {
  return JSON.stringify([
    {
      id: 'gemini',
      provider: 'gemini',
      baseUrl: fake.baseUrl,
      apiKey: KEY,
      models: { [FLASH_25]: FLASH_25, [PRO_3]: PRO_3, [FLASH_31]: FLASH_31 },
      local: true,
      timeoutMs: 10_000,
    },
  ]);
}

function b64(item: { b64_json?: string | undefined } | undefined): Buffer {
  assert.ok(item?.b64_json !== undefined, 'expected b64_json');
  return Buffer.from(item.b64_json, 'base64');
}

async function expectApiError(run: Promise<unknown>, status: number, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    assert.equal(err.code, code, err.message);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Google's Gemini image models through the gateway, with the official client over real sockets. */
describe('gemini through the gateway (official openai client)', () => {
  let fake: GeminiFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startGeminiFake();
    gateway = await startGateway({ IMAGEGATE_CHANNELS: channels(fake) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('generates one image as b64_json, priced per image from the catalog', async () => {
    const { data, response } = await gateway.client().images.generate({ model: FLASH_25, prompt: 'a lighthouse at dusk' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'gemini');
    assert.equal(response.headers.get('x-imagegate-channel'), 'gemini');
    assert.equal(response.headers.get('x-imagegate-attempts'), '1');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.039);
    assert.equal(data.data?.length, 1);
    const image = await decode(b64(data.data?.[0]));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
    assert.equal(data.size, '1024x1024');
    assert.equal(fake.server.received[0]?.headers['x-goog-api-key'], KEY);
  });

  it('fans n=3 out into three calls and answers three signed urls of the gateway', async () => {
    const { data, response } = await gateway.client().images.generate({ model: FLASH_25, prompt: 'three kites', n: 3, response_format: 'url' }).withResponse();
    assert.equal(fake.server.received.length, 3);
    assert.equal(response.headers.get('x-imagegate-attempts'), '3');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.117);
    assert.equal(data.data?.length, 3);
    for (const item of data.data ?? []) {
      const url = item.url ?? '';
      assert.ok(url.startsWith(gateway.baseUrl), url);
      const fetched = await fetchImage(url);
      assert.deepEqual([fetched.format, fetched.width, fetched.height], ['png', 1024, 1024]);
    }
  });

  it('maps a non-square size to the nearest ratio and reports the size Google delivered', async () => {
    const result = await gateway.client().images.generate({ model: PRO_3, prompt: 'a wide harbour', size: '1536x1024', output_format: 'jpeg' });
    assert.deepEqual((fake.server.received[0]?.json as { generationConfig: Record<string, unknown> }).generationConfig['imageConfig'], {
      aspectRatio: '3:2',
      imageSize: '1K',
    });
    assert.equal(result.size, '1264x848');
    const image = await decode(b64(result.data?.[0]));
    assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1264, 848], 'transcoded to the asked format, at the delivered size');
  });

  it('takes the resolution tier a client names, and prices that tier', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: FLASH_31, prompt: 'a stamp', resolution: '512' } as OpenAI.Images.ImageGenerateParamsNonStreaming)
      .withResponse();
    assert.equal(fake.calls[0]?.imageSize, '512');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.045);
    const image = await decode(b64(data.data?.[0]));
    assert.deepEqual([image.width, image.height], [512, 512]);
  });

  it('answers stream: true with a completed event holding the image', async () => {
    const stream = await gateway.client().images.generate({ model: FLASH_25, prompt: 'a paper boat', stream: true });
    const events: Array<{ type: string; b64_json: string }> = [];
    for await (const event of stream) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed'],
    );
    assert.equal((await decode(Buffer.from(events[0]?.b64_json ?? '', 'base64'))).width, 1024);
  });

  it('an image refused in an HTTP 200 (finishReason IMAGE_SAFETY) is a 400 content_policy_violation, not retried, not charged', async () => {
    const before = await committedMicroUsd(gateway);
    fake.queueAnswers('IMAGE_SAFETY');
    await expectApiError(gateway.client().images.generate({ model: PRO_3, prompt: 'something bad' }), 400, 'content_policy_violation', /IMAGE_SAFETY/);
    assert.equal(fake.server.received.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a blocked prompt (promptFeedback.blockReason, no candidates) is a 400 too, and n=2 charges nothing', async () => {
    const before = await committedMicroUsd(gateway);
    fake.server.queue({ kind: 'moderation' });
    await expectApiError(
      gateway.client().images.generate({ model: FLASH_25, prompt: 'something bad', n: 2 }),
      400,
      'content_policy_violation',
      /prompt was blocked/,
    );
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('an answer without an image (NO_IMAGE) is a 502 naming the reason, not charged', async () => {
    const before = await committedMicroUsd(gateway);
    fake.queueAnswers('NO_IMAGE');
    await expectApiError(gateway.client().images.generate({ model: FLASH_25, prompt: 'a poem' }), 502, 'upstream_error', /NO_IMAGE/);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('recovers from 503 UNAVAILABLE on retry: two attempts, one image, one charge', async () => {
    const before = await committedMicroUsd(gateway);
    fake.server.queue({ kind: 'status', status: 503 });
    const { data, response } = await gateway.client().images.generate({ model: FLASH_25, prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.received.length, 2);
    assert.equal(data.data?.length, 1);
    assert.equal((await committedMicroUsd(gateway)) - before, 39_000);
  });

  it('waits out a short RESOURCE_EXHAUSTED retryDelay and succeeds', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 1 });
    const { response } = await gateway.client().images.generate({ model: FLASH_25, prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
  });

  it('a RESOURCE_EXHAUSTED that asks longer than the retry cap reaches the client as 429 with its retryDelay as Retry-After', async () => {
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 120 });
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: FLASH_25, prompt: 'a cat' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '120');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
  });

  it('a wrong key (400 API_KEY_INVALID) is a 502 configuration error that names no key', async () => {
    fake.server.queue({ kind: 'auth' });
    await expectApiError(gateway.client().images.generate({ model: FLASH_25, prompt: 'a cat' }), 502, 'upstream_configuration_error');
  });

  it("edits with a mask: every pixel outside it is the input's, the masked part is redrawn", async () => {
    const photo = await fakePng(640, 480, 21);
    const maskPixels = Buffer.alloc(640 * 480 * 4, 255);
    for (let y = 100; y < 300; y += 1) for (let x = 200; x < 440; x += 1) maskPixels[(y * 640 + x) * 4 + 3] = 0;
    const mask = await sharp(maskPixels, { raw: { width: 640, height: 480, channels: 4 } })
      .png()
      .toBuffer();
    const { data, response } = await gateway
      .client()
      .images.edit({
        model: PRO_3,
        image: await toFile(photo, 'photo.png', { type: 'image/png' }),
        mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
        prompt: 'a window in the wall',
      })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'gemini');
    const parts = (fake.server.received[0]?.json as { contents: Array<{ parts: Array<Record<string, unknown>> }> }).contents[0]?.parts ?? [];
    assert.deepEqual(
      parts.map((part) => Object.keys(part)[0]),
      ['inlineData', 'text'],
    );
    const out = await sharp(b64(data.data?.[0])).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const input = await sharp(photo).removeAlpha().raw().toBuffer();
    assert.deepEqual([out.info.width, out.info.height], [640, 480]);
    let keptDiffer = 0;
    let redrawnSame = 0;
    for (let p = 0; p < 640 * 480; p += 1) {
      const x = p % 640;
      const y = Math.floor(p / 640);
      const inside = x >= 200 && x < 440 && y >= 100 && y < 300;
      const same = out.data[p * 3] === input[p * 3] && out.data[p * 3 + 1] === input[p * 3 + 1] && out.data[p * 3 + 2] === input[p * 3 + 2];
      if (inside) redrawnSame += same ? 1 : 0;
      else keptDiffer += same ? 0 : 1;
    }
    assert.equal(keptDiffer, 0, 'pixels outside the mask are identical to the input');
    assert.ok(redrawnSame < 240 * 200 * 0.05, `the masked area was redrawn (${redrawnSame} pixels unchanged)`);
    assert.equal(data.size, '640x480');
  });

  it('takes JSON edits (image_url data URLs) without a mask, at the size Google delivers', async () => {
    const photo = await fakePng(480, 640, 4);
    const response = await fetch(`${gateway.baseUrl}/v1/images/edits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: FLASH_25, prompt: 'in watercolour', images: [{ image_url: `data:image/png;base64,${photo.toString('base64')}` }] }),
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data: Array<{ b64_json: string }>; size: string };
    const image = await decode(Buffer.from(body.data[0]?.b64_json ?? '', 'base64'));
    // 480x640 is 3:4: Google's 864x1184 on 2.5 Flash Image.
    assert.deepEqual([image.width, image.height], [864, 1184]);
    assert.equal(body.size, '864x1184');
  });

  it('lists the Gemini models with their provider and aspect-ratio sizes', async () => {
    const models = await gateway.client().models.list();
    for (const id of [FLASH_25, PRO_3, FLASH_31]) {
      const model = models.data.find((m) => m.id === id) as unknown as { owned_by: string; imagegate: { provider: string; providers?: string[] } } | undefined;
      assert.ok(model !== undefined, id);
      assert.equal(model.owned_by, 'google');
      assert.equal(model.imagegate.provider, 'gemini');
    }
  });
});

describe('gemini: the request deadline cancels the upstream call', () => {
  let fake: GeminiFake;
  let gateway: TestGateway;
  let configDir: string;
  before(async () => {
    fake = await startGeminiFake();
    configDir = mkdtempSync(path.join(tmpdir(), 'imagegate-gemini-'));
    const configFile = path.join(configDir, 'imagegate.yaml');
    writeFileSync(configFile, 'routing:\n  deadlineMs: 1000\n');
    gateway = await startGateway({ IMAGEGATE_CHANNELS: channels(fake), IMAGEGATE_CONFIG: configFile });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('answers 504 when Gemini stalls past the deadline, closes the upstream connection, charges nothing', async () => {
    const before = await committedMicroUsd(gateway);
    fake.server.queue({ kind: 'stall' });
    await expectApiError(gateway.client().images.generate({ model: FLASH_25, prompt: 'a slow cat' }), 504, 'upstream_timeout');
    await waitUntil(() => fake.server.aborted === 1);
    assert.equal(fake.server.received.length, 1, 'no call after the deadline');
    assert.equal(await committedMicroUsd(gateway), before);
  });
});
