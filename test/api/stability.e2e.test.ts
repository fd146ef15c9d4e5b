import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { toFile } from 'openai';
import sharp from 'sharp';
import { fakePng } from '../fakes/fake-images.ts';
import { startStabilityFake, type StabilityFake } from '../fakes/stability-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { expectApiError } from '../support/checks.ts';

const MODELS = {
  'stable-image-ultra': 'ultra',
  'stable-image-core': 'core',
  'sd3.5-large': 'sd3.5-large',
  'sd3.5-large-turbo': 'sd3.5-large-turbo',
  'sd3.5-medium': 'sd3.5-medium',
};

/** What the gateway's one user key has been charged so far, in micro-dollars. */
async function committed(gateway: TestGateway): Promise<number> {
  return (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;
}

/** How many images the user key owns (stored and recorded). */
async function storedImages(gateway: TestGateway): Promise<number> {
  const keyId = (await gateway.deps.keys.list('user'))[0]?.id ?? '';
  return (await gateway.deps.images.images.listOwned(keyId, Date.now(), 1000, undefined)).length;
}

/** Stability models through the gateway, with the official client, against the fake Stability API. */
describe('stability end to end', () => {
  let fake: StabilityFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startStabilityFake();
    const channels = [{ id: 'stability-main', provider: 'stability', baseUrl: fake.url, apiKey: 'sk-upstream-test', models: MODELS, local: true }];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('generates a non-square image as b64_json, reports the size Stability drew, and charges its credits', async () => {
    const before = await committed(gateway);
    const { data: result, response } = await gateway
      .client()
      .images.generate({ model: 'stable-image-ultra', prompt: 'a lighthouse at dusk', size: '1792x1024' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'stability');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.08);
    assert.equal(result.data?.length, 1);
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1344, 768]);
    // 1792x1024 was asked; Stability drew 16:9 at its own pixels, and the answer says which.
    assert.equal(result.size, '1344x768');
    assert.equal(fake.forms[0]?.fields.get('aspect_ratio'), '16:9');
    assert.equal((await committed(gateway)) - before, 80_000);
  });

  it('fans n=3 out into three calls and answers three signed urls, transcoding to webp where /sd3 cannot', async () => {
    const before = await committed(gateway);
    const result = await gateway
      .client()
      .images.generate({ model: 'sd3.5-large', prompt: 'a fox in snow', n: 3, response_format: 'url', output_format: 'webp' } as never);
    assert.equal(fake.forms.length, 3);
    assert.ok(fake.forms.every((form) => form.path === '/v2beta/stable-image/generate/sd3' && form.fields.get('model') === 'sd3.5-large'));
    assert.ok(fake.forms.every((form) => form.fields.get('output_format') === 'png'));
    const urls = (result.data ?? []).map((item) => item.url ?? '');
    assert.equal(urls.length, 3);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), url);
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['webp', 1024, 1024]);
    }
    assert.equal((await committed(gateway)) - before, 3 * 65_000);
  });

  it('retries a 500 and recovers: two upstream calls, one image', async () => {
    fake.server.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'stable-image-core', prompt: 'a fox' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.received.length, 2);
    assert.equal((await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'))).width, 1280);
  });

  it("passes a 429 on with Stability's 60-second lockout as Retry-After, charging nothing", async () => {
    fake.server.queue({ kind: 'rate_limit' });
    const before = await committed(gateway);
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stable-image-ultra', prompt: 'a fox' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '60');
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
    assert.equal(await committed(gateway), before);
  });

  it('answers a 403 content_moderation with 400 content_policy_violation: one call, no charge', async () => {
    fake.server.queue({ kind: 'moderation' });
    const before = await committed(gateway);
    await expectApiError(
      gateway.client().images.generate({ model: 'stable-image-ultra', prompt: 'a fox' }),
      400,
      'content_policy_violation',
      /content moderation/,
    );
    assert.equal(fake.server.received.length, 1);
    assert.equal(await committed(gateway), before);
  });

  it('answers finish_reason CONTENT_FILTERED in an HTTP 200 with 400 content_policy_violation: the blurred image is neither sent nor charged', async () => {
    fake.queueOutcomes('content_filtered');
    const before = await committed(gateway);
    const storedBefore = await storedImages(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'sd3.5-medium', prompt: 'a fox' }), 400, 'content_policy_violation');
    assert.equal(fake.server.received.length, 1, 'a refusal is not retried');
    assert.equal(await committed(gateway), before);
    assert.equal(await storedImages(gateway), storedBefore, 'nothing stored');
  });

  it('refuses negative_prompt on sd3.5-large-turbo before any call, and passes it to the models that take it', async () => {
    await expectApiError(
      gateway.client().images.generate({ model: 'sd3.5-large-turbo', prompt: 'a fox', negative_prompt: 'snow' } as never),
      400,
      'unsupported_parameter',
    );
    assert.equal(fake.server.received.length, 0);
    await gateway.client().images.generate({ model: 'sd3.5-medium', prompt: 'a fox', negative_prompt: 'snow', seed: 11 } as never);
    assert.equal(fake.forms[0]?.fields.get('negative_prompt'), 'snow');
    assert.equal(fake.forms[0]?.fields.get('seed'), '11');
  });

  it('answers stream: true with a completed event per image', async () => {
    const stream = await gateway.client().images.generate({ model: 'stable-image-ultra', prompt: 'a fox', n: 2, stream: true } as never);
    const events: Array<{ type: string; b64_json: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed', 'image_generation.completed'],
    );
    for (const event of events) assert.equal((await decode(Buffer.from(event.b64_json, 'base64'))).width, 1024);
  });

  it('edits through Inpaint: the OpenAI mask becomes a white-where-transparent mask, the image keeps its size', async () => {
    const photo = await fakePng(384, 256);
    const maskData = Buffer.alloc(384 * 256 * 4, 255);
    for (let y = 0; y < 256; y += 1) for (let x = 0; x < 128; x += 1) maskData[(y * 384 + x) * 4 + 3] = 0;
    const mask = await sharp(maskData, { raw: { width: 384, height: 256, channels: 4 } })
      .png()
      .toBuffer();
    const before = await committed(gateway);
    const result = await gateway.client().images.edit({
      model: 'stable-image-ultra',
      prompt: 'a red door',
      image: await toFile(photo, 'photo.png', { type: 'image/png' }),
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      response_format: 'b64_json',
    } as never);
    const form = fake.forms[0];
    assert.equal(form?.path, '/v2beta/stable-image/edit/inpaint');
    assert.equal(form?.fields.get('prompt'), 'a red door');
    const sentMask = form?.files.get('mask')?.data ?? Buffer.alloc(0);
    const { data } = await sharp(sentMask).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([data[0], data[127], data[128], data[383]], [255, 255, 0, 0]);
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 384, 256]);
    assert.equal(result.size, '384x256');
    assert.equal((await committed(gateway)) - before, 80_000);
  });

  it('refuses an edit with nothing transparent to repaint, and edits on SD 3.5 rows, before any call', async () => {
    const photo = await toFile(await fakePng(256, 256), 'photo.png', { type: 'image/png' });
    await expectApiError(
      gateway.client().images.edit({ model: 'stable-image-core', prompt: 'a red door', image: photo } as never),
      400,
      'invalid_value',
      /mask/,
    );
    const again = await toFile(await fakePng(256, 256), 'photo.png', { type: 'image/png' });
    await expectApiError(
      gateway.client().images.edit({ model: 'sd3.5-large', prompt: 'a red door', image: again } as never),
      400,
      'invalid_value',
      /does not edit images/,
    );
    assert.equal(fake.server.received.length, 0);
  });

  it('lists the Stability models with stability as their provider', async () => {
    const models = await gateway.client().models.list();
    const providers = Object.fromEntries(models.data.map((m) => [m.id, (m as unknown as { imagegate: { provider: string } }).imagegate.provider]));
    for (const id of Object.keys(MODELS)) assert.equal(providers[id], 'stability', id);
  });
});

describe('stability end to end: the request deadline', () => {
  let fake: StabilityFake;
  let gateway: TestGateway;
  let configDir: string;
  before(async () => {
    fake = await startStabilityFake();
    configDir = mkdtempSync(path.join(tmpdir(), 'imagegate-stability-'));
    const config = path.join(configDir, 'imagegate.yaml');
    const channel = { id: 'stability-slow', provider: 'stability', baseUrl: fake.url, apiKey: 'sk-upstream-test', models: MODELS, local: true };
    writeFileSync(config, JSON.stringify({ channels: [channel], routing: { deadlineMs: 1000, backoffBaseMs: 1, backoffMaxMs: 5 } }));
    gateway = await startGateway({ IMAGEGATE_CONFIG: config });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('a stalled Stability call is cut at the deadline: 504, the connection closed, nothing charged', async () => {
    fake.server.queue({ kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' });
    const before = await committed(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'stable-image-core', prompt: 'a fox' }), 504, 'upstream_timeout');
    for (let i = 0; i < 100 && fake.server.aborted < fake.server.received.length; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(fake.server.received.length >= 1);
    assert.equal(fake.server.aborted, fake.server.received.length, 'every stalled call was closed');
    assert.equal(await committed(gateway), before);
  });
});
