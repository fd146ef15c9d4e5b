import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type BedrockFake, startBedrockFake } from '../fakes/bedrock-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { expectApiError } from '../support/checks.ts';

const ACCESS_KEY_ID = 'AKIAFAKEBEDROCK12345';
const SECRET = 'fake-secret-access-key/0123456789abcdef';
const MODELS = {
  'sd3.5-large': 'stability.sd3-5-large-v1:0',
  'stable-image-ultra': 'stability.stable-image-ultra-v1:1',
  'stable-image-core': 'stability.stable-image-core-v1:1',
  'nova-canvas': 'amazon.nova-canvas-v1:0',
  'titan-image-generator-v2': 'amazon.titan-image-generator-v2:0',
};
const CHANNEL = {
  id: 'bedrock-main',
  provider: 'bedrock',
  apiKey: SECRET,
  models: MODELS,
  local: true,
  options: { accessKeyId: ACCESS_KEY_ID, region: 'us-west-2' },
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

/** Stability and Amazon models on Bedrock through the gateway, with the official client, against the fake. */
describe('bedrock end to end', () => {
  let fake: BedrockFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startBedrockFake({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET });
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([{ ...CHANNEL, baseUrl: fake.url }]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('generates n=2 non-square Nova Canvas images as b64_json in one signed call, and charges them', async () => {
    const before = await committed(gateway);
    const { data: result, response } = await gateway
      .client()
      .images.generate({ model: 'nova-canvas', prompt: 'a lighthouse at dusk', size: '1792x1024', n: 2 })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'bedrock');
    assert.equal(fake.server.received.length, 1);
    assert.equal(fake.invocation().signedBy.region, 'us-west-2');
    assert.deepEqual(fake.invocation().body['imageGenerationConfig'], { width: 1792, height: 1024, quality: 'standard', numberOfImages: 2 });
    assert.equal(result.data?.length, 2);
    for (const item of result.data ?? []) {
      const image = await decode(Buffer.from(item.b64_json ?? '', 'base64'));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1792, 1024]);
    }
    assert.equal(result.size, '1792x1024');
    // Above one megapixel: Nova's "up to 2048 x 2048" standard price, $0.06 each.
    assert.equal((await committed(gateway)) - before, 2 * 60_000);
  });

  it('reports the size Nova delivered when it had to raise a short edge', async () => {
    const result = await gateway.client().images.generate({ model: 'nova-canvas', prompt: 'a long pier', size: '1024x256' });
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1280, 320]);
    assert.equal(result.size, '1280x320');
  });

  it('fans Stability n=2 out into two calls and answers signed urls (webp transcoded from png)', async () => {
    const before = await committed(gateway);
    const result = await gateway.client().images.generate({
      model: 'stable-image-ultra',
      prompt: 'a fox in snow',
      n: 2,
      response_format: 'url',
      output_format: 'webp',
      size: '1024x1536',
    } as never);
    assert.equal(fake.invocations.length, 2);
    assert.ok(
      fake.invocations.every(
        (call) => call.modelId === 'stability.stable-image-ultra-v1:1' && call.body['output_format'] === 'png' && call.body['aspect_ratio'] === '2:3',
      ),
    );
    const urls = (result.data ?? []).map((item) => item.url ?? '');
    assert.equal(urls.length, 2);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), url);
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['webp', 832, 1216]);
    }
    assert.equal(result.size, '832x1216');
    assert.equal((await committed(gateway)) - before, 2 * 80_000);
  });

  it('retries a ServiceUnavailableException and recovers: two upstream calls, one image', async () => {
    fake.server.queue({ kind: 'status', status: 503 });
    const { data, response } = await gateway.client().images.generate({ model: 'sd3.5-large', prompt: 'a fox' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.server.received.length, 2);
    assert.equal((await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'))).width, 1024);
  });

  it('passes a ThrottlingException on as 429 with its Retry-After, charging nothing', async () => {
    // A wait longer than the request's deadline: the router passes the 429 on instead of sleeping.
    fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 300 });
    const before = await committed(gateway);
    const response = await fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'nova-canvas', prompt: 'a fox' }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '300');
    assert.equal(fake.server.received.length, 1);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'rate_limit_exceeded');
    assert.equal(await committed(gateway), before);
  });

  it('answers "Filter reason: prompt" in an HTTP 200 with 400 content_policy_violation: one call, nothing stored or charged', async () => {
    const before = await committed(gateway);
    const storedBefore = await storedImages(gateway);
    await expectApiError(
      gateway.client().images.generate({ model: 'stable-image-core', prompt: 'something forbidden' }),
      400,
      'content_policy_violation',
      /Filter reason: prompt/,
    );
    assert.equal(fake.server.received.length, 1, 'a refusal is not retried');
    assert.equal(await committed(gateway), before);
    assert.equal(await storedImages(gateway), storedBefore);
  });

  it("answers Nova's content-filter ValidationException and a 200 with `error` with 400 content_policy_violation, no charge", async () => {
    const before = await committed(gateway);
    await expectApiError(
      gateway.client().images.generate({ model: 'nova-canvas', prompt: 'something forbidden' }),
      400,
      'content_policy_violation',
      /content filters/,
    );
    fake.queueOutcomes('inband_error');
    await expectApiError(gateway.client().images.generate({ model: 'titan-image-generator-v2', prompt: 'a fox', n: 2 }), 400, 'content_policy_violation');
    assert.equal(fake.server.received.length, 2);
    assert.equal(await committed(gateway), before);
  });

  it('takes quality premium, negative_prompt and seed on Titan, and lists the models with bedrock as provider', async () => {
    await gateway
      .client()
      .images.generate({ model: 'titan-image-generator-v2', prompt: 'a fox', quality: 'premium', negative_prompt: 'snow', seed: 11 } as never);
    assert.deepEqual(fake.invocation().body, {
      taskType: 'TEXT_IMAGE',
      textToImageParams: { text: 'a fox', negativeText: 'snow' },
      imageGenerationConfig: { width: 1024, height: 1024, quality: 'premium', numberOfImages: 1, seed: 11 },
    });
    const models = await gateway.client().models.list();
    const providers = Object.fromEntries(models.data.map((m) => [m.id, (m as unknown as { imagegate: { provider: string } }).imagegate.provider]));
    for (const id of Object.keys(MODELS)) assert.equal(providers[id], 'bedrock', id);
  });

  it('answers stream: true with a completed event per image', async () => {
    const stream = await gateway.client().images.generate({ model: 'nova-canvas', prompt: 'a fox', n: 2, size: '1024x1024', stream: true } as never);
    const events: Array<{ type: string; b64_json: string }> = [];
    for await (const event of stream as unknown as AsyncIterable<{ type: string; b64_json: string }>) events.push(event);
    assert.deepEqual(
      events.map((e) => e.type),
      ['image_generation.completed', 'image_generation.completed'],
    );
    for (const event of events) assert.equal((await decode(Buffer.from(event.b64_json, 'base64'))).width, 1024);
  });
});

describe('bedrock end to end: the request deadline', () => {
  let fake: BedrockFake;
  let gateway: TestGateway;
  let configDir: string;
  before(async () => {
    fake = await startBedrockFake({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET });
    configDir = mkdtempSync(path.join(tmpdir(), 'imagegate-bedrock-'));
    const config = path.join(configDir, 'imagegate.yaml');
    writeFileSync(config, JSON.stringify({ channels: [{ ...CHANNEL, baseUrl: fake.url }], routing: { deadlineMs: 1000, backoffBaseMs: 1, backoffMaxMs: 5 } }));
    gateway = await startGateway({ IMAGEGATE_CONFIG: config });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
    rmSync(configDir, { recursive: true, force: true });
  });

  it('a stalled InvokeModel is cut at the deadline: 504, the SDK request cancelled, nothing charged', async () => {
    fake.server.queue({ kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' }, { kind: 'stall' });
    const before = await committed(gateway);
    await expectApiError(gateway.client().images.generate({ model: 'nova-canvas', prompt: 'a fox' }), 504, 'upstream_timeout');
    for (let i = 0; i < 100 && fake.server.aborted < fake.server.received.length; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.ok(fake.server.received.length >= 1);
    assert.equal(fake.server.aborted, fake.server.received.length, 'every stalled call was closed');
    assert.equal(await committed(gateway), before);
  });
});
