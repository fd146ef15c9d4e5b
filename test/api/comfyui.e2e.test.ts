import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI from 'openai';
import { type ComfyFake, startComfyFake } from '../fakes/comfyui-fake.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { committedMicroUsd, waitUntil } from '../support/checks.ts';

/** The gateway in front of a fake ComfyUI, called with the official client over real sockets. */

/** An operator's own SDXL checkpoint, named in `models:` (here IMAGEGATE_MODELS). */
const MY_SDXL = {
  id: 'my-sdxl',
  like: 'dall-e-2',
  ownedBy: 'self-hosted',
  maxN: 4,
  streaming: true,
  outputFormats: ['png', 'jpeg', 'webp'],
  defaultResponseFormat: 'b64_json',
  edit: null,
  extras: { negativePromptMaxChars: 2000, seed: true },
  size: {
    kind: 'free',
    multipleOf: 4,
    maxEdgePx: 2048,
    minPixels: 256 * 256,
    maxPixels: 2048 * 2048,
    maxAspectRatio: 4,
    commonSizes: ['1024x1024'],
    autoSize: '1024x1024',
  },
  price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.002 } } },
  priceSource: 'our GPU cost',
};

interface StreamEvent {
  type: string;
  b64_json: string;
  partial_image_index?: number;
}

describe('a self-hosted checkpoint through the comfyui provider, end to end', () => {
  let fake: ComfyFake;
  let gateway: TestGateway;
  before(async () => {
    fake = await startComfyFake({ steps: 8 });
    const channel = {
      id: 'gpu-box',
      provider: 'comfyui',
      baseUrl: fake.url,
      local: true,
      timeoutMs: 5000,
      models: { 'my-sdxl': 'sd_xl_base_1.0.safetensors' },
      options: { pollInitialMs: '5', pollMaxMs: '20' },
    };
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([channel]), IMAGEGATE_MODELS: JSON.stringify([MY_SDXL]) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it("generates one image as b64_json, charged at the operator's price", async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'my-sdxl', prompt: 'a lighthouse in a storm', size: '1024x1024', response_format: 'b64_json' })
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'comfyui');
    assert.equal(response.headers.get('x-imagegate-channel'), 'gpu-box');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.002);
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
    const graph = (fake.submits[0]?.json as { prompt: Record<string, { inputs: Record<string, unknown> }> }).prompt;
    assert.equal(graph['6']?.inputs['text'], 'a lighthouse in a storm');
    assert.equal(graph['4']?.inputs['ckpt_name'], 'sd_xl_base_1.0.safetensors');
  });

  it('makes n=3 in one batch and answers three signed gateway links', async () => {
    const { data, response } = await gateway
      .client()
      .images.generate({ model: 'my-sdxl', prompt: 'three kites', n: 3, size: '768x1024', response_format: 'url', output_format: 'jpeg' })
      .withResponse();
    assert.equal(fake.submits.length, 1, 'one prompt with batch_size 3');
    assert.equal(Number(response.headers.get('x-imagegate-cost-usd')), 0.006);
    const urls = (data.data ?? []).map((item) => item.url ?? '');
    assert.equal(new Set(urls).size, 3);
    for (const url of urls) {
      assert.ok(url.startsWith(gateway.baseUrl), "the gateway's own link, never ComfyUI's /view");
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 768, 1024]);
    }
  });

  it('reports the size delivered when the latent grid changed it', async () => {
    const { data, response } = await gateway.client().images.generate({ model: 'my-sdxl', prompt: 'a banner', size: '1020x508' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-delivered-size'), '1024x512');
    assert.equal((data as unknown as { size?: string }).size, '1024x512');
    const image = await decode(Buffer.from(data.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [1024, 512]);
  });

  it("streams the sampler's previews as partial images, then the completed image", async () => {
    const stream = await gateway
      .client()
      .images.generate({ model: 'my-sdxl', prompt: 'a paper boat', size: '512x512', stream: true, partial_images: 2, output_format: 'jpeg' } as never);
    const events: StreamEvent[] = [];
    for await (const event of stream as unknown as AsyncIterable<StreamEvent>) events.push(event);
    assert.deepEqual(
      events.map((e) => [e.type, e.partial_image_index]),
      [
        ['image_generation.partial_image', 0],
        ['image_generation.partial_image', 1],
        ['image_generation.completed', undefined],
      ],
    );
    for (const event of events) {
      const image = await decode(Buffer.from(event.b64_json, 'base64'));
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 512, 512]);
    }
  });

  it("a safety checker's refusal is a 400 content_policy_violation, not retried, not charged", async () => {
    fake.queueOutcomes('nsfw');
    const before = await committedMicroUsd(gateway);
    await assert.rejects(gateway.client().images.generate({ model: 'my-sdxl', prompt: 'something flagged' }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'content_policy_violation');
      return true;
    });
    assert.equal(fake.submits.length, 1);
    assert.equal(await committedMicroUsd(gateway), before);
  });

  it('a 500 on /prompt is retried and recovers', async () => {
    fake.queue('/prompt', { kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'my-sdxl', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.submits.length, 2);
    assert.equal(data.data?.length, 1);
  });

  it('a prompt that runs out of GPU memory is queued again and recovers', async () => {
    fake.queueOutcomes('oom');
    const { response } = await gateway.client().images.generate({ model: 'my-sdxl', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
  });

  it('a client that disconnects interrupts the prompt and is charged nothing', async () => {
    fake.queueOutcomes('hang');
    const before = await committedMicroUsd(gateway);
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'my-sdxl', prompt: 'a cat' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.running === 1);
    controller.abort();
    await assert.rejects(pending);
    await waitUntil(() => fake.requests('POST', '/interrupt').length === 1);
    await waitUntil(() => fake.running === 0);
    await waitUntil(async () => (await committedMicroUsd(gateway)) === before);
    assert.equal(fake.submits.length, 1, 'no second prompt after the client left');
  });

  it('a channel whose workflow lacks a mapped node stops the start, naming the node', async () => {
    const bad = { id: 'bad', provider: 'comfyui', baseUrl: fake.url, local: true, models: { 'my-sdxl': 'x' }, options: { prompt: '66.text' } };
    await assert.rejects(
      startGateway({ IMAGEGATE_CHANNELS: JSON.stringify([bad]), IMAGEGATE_MODELS: JSON.stringify([MY_SDXL]) }),
      /channels\.0 \(bad\)\.options\.workflow: .*node '66'/,
    );
  });
});
