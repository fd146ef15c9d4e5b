import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import sharp from 'sharp';
import { type Automatic1111Fake, startAutomatic1111Fake } from '../fakes/automatic1111-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { decode, fetchImage } from '../support/images.ts';
import { waitUntil } from '../support/checks.ts';

const SDXL_BASE = 'sd_xl_base_1.0.safetensors [31e35c80fc]';
const JUGGERNAUT = 'juggernautXL_v9.safetensors';

/** An operator's own checkpoint, named as a model in imagegate.yaml (`models:`), like sdxl. */
const OPERATOR_MODELS = [{ id: 'my-juggernaut', like: 'sdxl', maxN: 4 }];

interface StreamEvent {
  type: string;
  b64_json: string;
  partial_image_index?: number;
}

/** Self-hosted Stable Diffusion through the gateway, with the official client, against the fake A1111 API. */
describe('automatic1111 end to end', () => {
  let fake: Automatic1111Fake;
  let gateway: TestGateway;
  const committed = async (): Promise<number> => (await gateway.deps.keys.list('user'))[0]?.committed_micro_usd ?? -1;

  before(async () => {
    fake = await startAutomatic1111Fake({ auth: { username: 'gateway', password: 'gpu-secret' }, checkpoints: [SDXL_BASE, JUGGERNAUT] });
    const channels = [
      {
        id: 'gpu-box',
        provider: 'automatic1111',
        baseUrl: fake.url,
        apiKey: 'gpu-secret',
        local: true,
        models: { sdxl: SDXL_BASE, 'my-juggernaut': JUGGERNAUT },
        options: { username: 'gateway', steps: 30, samplerName: 'DPM++ 2M', progressIntervalMs: 100 },
      },
    ];
    gateway = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels), IMAGEGATE_MODELS: JSON.stringify(OPERATOR_MODELS) });
  });
  after(async () => {
    await gateway.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  it('generates a non-square sdxl image as b64_json with basic auth, and charges the operator price', async () => {
    const before = await committed();
    const { data: result, response } = await gateway
      .client()
      .images.generate({ model: 'sdxl', prompt: 'a lighthouse at dusk', size: '1344x768', seed: 9 } as never)
      .withResponse();
    assert.equal(response.headers.get('x-imagegate-provider'), 'automatic1111');
    assert.equal(result.data?.length, 1);
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1344, 768]);
    assert.equal(result.size, '1344x768');
    const received = fake.server.received.find((r) => r.path === '/sdapi/v1/txt2img');
    assert.equal(received?.headers['authorization'], `Basic ${Buffer.from('gateway:gpu-secret').toString('base64')}`);
    const body = fake.jobs()[0] ?? assert.fail('no job');
    assert.equal(body['seed'], 9);
    assert.equal(body['steps'], 30);
    assert.equal(body['sampler_name'], 'DPM++ 2M');
    assert.equal((await committed()) - before, 2000);
  });

  it('draws n=3 in one batch and answers three signed urls, transcoded to jpeg', async () => {
    const result = await gateway
      .client()
      .images.generate({ model: 'sdxl', prompt: 'a fox in snow', n: 3, response_format: 'url', output_format: 'jpeg' } as never);
    assert.equal(fake.jobs().length, 1);
    assert.equal(fake.jobs()[0]?.['batch_size'], 3);
    const urls = (result.data ?? []).map((item) => item.url ?? '');
    assert.equal(urls.length, 3);
    for (const url of urls) {
      const image = await fetchImage(url);
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1024, 1024]);
    }
  });

  it("an operator's model (like: sdxl) is sent as its own checkpoint", async () => {
    const result = await gateway.client().images.generate({ model: 'my-juggernaut', prompt: 'a castle', size: '832x1216' });
    assert.deepEqual(fake.jobs()[0]?.['override_settings'], { sd_model_checkpoint: JUGGERNAUT });
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [832, 1216]);
    const models = await gateway.client().models.list();
    assert.ok(models.data.some((model) => model.id === 'my-juggernaut'));
  });

  it('a 500 (CUDA out of memory) is retried and recovers', async () => {
    fake.server.queue({ kind: 'status', status: 500 });
    const { data, response } = await gateway.client().images.generate({ model: 'sdxl', prompt: 'a cat' }).withResponse();
    assert.equal(response.headers.get('x-imagegate-attempts'), '2');
    assert.equal(fake.jobs().length, 2);
    assert.equal(data.data?.length, 1);
  });

  it('a checkpoint the server lacks is a 502 configuration error and costs nothing', async () => {
    const channels = [
      { id: 'gpu-odd', provider: 'automatic1111', baseUrl: fake.url, apiKey: 'gateway:gpu-secret', local: true, models: { sd15: 'missing.safetensors' } },
    ];
    const other = await startGateway({ IMAGEGATE_CHANNELS: JSON.stringify(channels) });
    try {
      await assert.rejects(other.client().images.generate({ model: 'sd15', prompt: 'a cat' }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.code, 'upstream_configuration_error');
        return true;
      });
      assert.equal((await other.deps.keys.list('user'))[0]?.committed_micro_usd, 0);
    } finally {
      await other.close();
    }
  });

  it('streams live previews as partial images, then the completed image', async () => {
    fake.previewsPerJob = 2;
    const stream = await gateway
      .client()
      .images.generate({ model: 'sdxl', prompt: 'a paper boat', stream: true, partial_images: 2, size: '1216x832', output_format: 'webp' } as never);
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
      assert.deepEqual([image.format, image.width, image.height], ['webp', 1216, 832]);
    }
    assert.ok(fake.server.count('/sdapi/v1/progress') >= 2);
  });

  it('a client that leaves interrupts the job and is charged nothing', async () => {
    fake.server.queue({ kind: 'stall' });
    const before = await committed();
    const controller = new AbortController();
    const pending = fetch(`${gateway.baseUrl}/v1/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sdxl', prompt: 'a kite' }),
      signal: controller.signal,
    });
    await waitUntil(() => fake.jobs().length === 1);
    controller.abort();
    await assert.rejects(pending);
    await fake.interrupted();
    assert.equal(fake.interrupts, 1);
    await waitUntil(async () => (await committed()) === before);
    assert.equal(fake.jobs().length, 1, 'no retry after the client left');
  });

  it('edits through img2img with the OpenAI mask turned into a white-means-repaint mask', async () => {
    const photo = await fakePng(768, 512);
    const alpha = Buffer.alloc(768 * 512 * 4, 255);
    for (let i = 0; i < 768 * 512; i += 1) if (i % 768 < 384) alpha[i * 4 + 3] = 0;
    const mask = await sharp(alpha, { raw: { width: 768, height: 512, channels: 4 } })
      .png()
      .toBuffer();
    const result = await gateway.client().images.edit({
      model: 'sdxl',
      prompt: 'a red door',
      image: await toFile(photo, 'photo.png', { type: 'image/png' }),
      mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
      response_format: 'b64_json',
    } as never);
    assert.equal(fake.server.received.filter((r) => r.path === '/sdapi/v1/img2img').length, 1);
    const received = fake.img2img[0]?.mask ?? assert.fail('no mask');
    assert.equal(received.data[0], 255, 'the transparent half is white');
    assert.equal(received.data[767], 0, 'the opaque half is black');
    const image = await decode(Buffer.from(result.data?.[0]?.b64_json ?? '', 'base64'));
    assert.deepEqual([image.width, image.height], [768, 512]);
  });
});
