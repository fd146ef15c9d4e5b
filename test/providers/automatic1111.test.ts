import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { type EditRequest, validateEditFields, validateEditImages } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import type { PartialImage, ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { type Automatic1111Fake, startAutomatic1111Fake } from '../fakes/automatic1111-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Catalog model → checkpoint title, as a channel maps them. */
const MODELS = { sdxl: 'sd_xl_base_1.0.safetensors [31e35c80fc]', sd15: 'v1-5-pruned-emaonly' };

/** A PNG with alpha: fully transparent left of `editWidth`, opaque elsewhere. */
async function transparentLeft(width: number, height: number, editWidth: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4, 200);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) data[(y * width + x) * 4 + 3] = x < editWidth ? 0 : 255;
  }
  return sharp(data, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

describe('automatic1111 provider against a fake A1111 web UI API', () => {
  let fake: Automatic1111Fake;
  let secured: Automatic1111Fake;
  const closers: Array<() => Promise<void>> = [];
  const channel = (id: string, options: Record<string, unknown> = {}, config: { baseUrl?: string; apiKey?: string } = {}): RoutedChannel => {
    const { apiKey, ...rest } = config;
    const built = channelFor({
      id,
      provider: 'automatic1111',
      baseUrl: fake.url,
      models: MODELS,
      options,
      ...rest,
      ...(apiKey === undefined ? {} : { apiKey }),
    });
    closers.push(built.close);
    return built.routed;
  };
  let plain: RoutedChannel;
  before(async () => {
    fake = await startAutomatic1111Fake();
    secured = await startAutomatic1111Fake({ auth: { username: 'gateway', password: 'gpu-secret' } });
    plain = channel('a1111-test', { progressIntervalMs: 100 });
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
    await secured.close();
  });
  beforeEach(() => {
    fake.reset();
    secured.reset();
  });

  const generate = (body: Record<string, unknown>, routed: RoutedChannel = plain, signal?: AbortSignal): Promise<ProviderResult> => {
    const request: GenerationRequest = requestFor({ model: 'sdxl', prompt: 'a lighthouse at dusk', ...body });
    return routed.provider.generate(request, callFor(routed, request, signal));
  };
  const job = (index = 0): Record<string, unknown> => fake.jobs()[index] ?? assert.fail(`no job ${index}`);

  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, err.message);
      check?.(err);
      return true;
    });
  };

  describe('generations', () => {
    it('posts txt2img with exactly the fields A1111 takes and reads the base64 images', async () => {
      const result = await generate({ size: '1216x832', seed: 42, negative_prompt: 'people', output_format: 'jpeg' });
      const received = fake.server.received[0];
      assert.equal(received?.method, 'POST');
      assert.equal(received?.path, '/sdapi/v1/txt2img');
      assert.equal(received?.headers['authorization'], undefined, 'no auth unless the channel sets it');
      assert.deepEqual(job(), {
        prompt: 'a lighthouse at dusk',
        width: 1216,
        height: 832,
        batch_size: 1,
        n_iter: 1,
        override_settings: { sd_model_checkpoint: MODELS.sdxl },
        negative_prompt: 'people',
        seed: 42,
      });
      assert.equal(result.images.length, 1);
      const image = result.images[0] ?? assert.fail('no image');
      const decoded = await decode(image.bytes);
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 1216, 832]);
      assert.deepEqual(result.deliveredSize, { width: 1216, height: 832 });
      assert.equal(image.base64, image.bytes.toString('base64'), 'the upstream base64 is kept for b64_json answers');
      assert.equal(fake.server.count('/sdapi/v1/progress'), 0, 'no progress polls when not streaming');
    });

    it('draws n images in one batch (batch_size) with the seeds A1111 gives a batch', async () => {
      const model = catalog.get('sdxl') ?? assert.fail('no sdxl');
      assert.equal(plain.provider.maxImagesPerCall(model), 8);
      const result = await generate({ n: 3, seed: 7 });
      assert.equal(fake.jobs().length, 1);
      assert.equal(job()['batch_size'], 3);
      assert.equal(result.images.length, 3);
      const bytes = new Set(result.images.map((image) => image.bytes.toString('base64')));
      assert.equal(bytes.size, 3, 'three different images');
    });

    it("sends the channel's steps, sampler, scheduler and cfg, and caps the batch at maxBatchSize", async () => {
      const tuned = channel('a1111-tuned', { steps: '25', samplerName: 'DPM++ 2M', scheduler: 'Karras', cfgScale: 6.5, maxBatchSize: 2 });
      const model = catalog.get('sdxl') ?? assert.fail('no sdxl');
      assert.equal(tuned.provider.maxImagesPerCall(model), 2);
      await generate({}, tuned);
      assert.equal(job()['steps'], 25);
      assert.equal(job()['sampler_name'], 'DPM++ 2M');
      assert.equal(job()['scheduler'], 'Karras');
      assert.equal(job()['cfg_scale'], 6.5);
      assert.equal(job()['seed'], undefined, 'no seed unless asked (A1111 draws one)');
      assert.throws(
        () => channel('a1111-bad', { steps: 0 }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /\(a1111-bad\)\.options\.steps/);
          return true;
        },
      );
    });

    it('maps the sd15 model to its own checkpoint and 512-based sizes', async () => {
      const request = requestFor({ model: 'sd15', prompt: 'a fox' });
      const result = await plain.provider.generate(request, callFor(plain, request));
      assert.deepEqual([job()['width'], job()['height']], [512, 512]);
      assert.deepEqual(job()['override_settings'], { sd_model_checkpoint: 'v1-5-pruned-emaonly' });
      assert.deepEqual(result.deliveredSize, { width: 512, height: 512 });
    });

    it('sends HTTP basic auth from options.username with the apiKey as password, or from a user:password apiKey', async () => {
      const withUser = channel('a1111-auth', { username: 'gateway' }, { baseUrl: secured.url, apiKey: 'gpu-secret' });
      await generate({}, withUser);
      assert.equal(secured.server.received[0]?.headers['authorization'], `Basic ${Buffer.from('gateway:gpu-secret').toString('base64')}`);
      const inKey = channel('a1111-auth-key', {}, { baseUrl: secured.url, apiKey: 'gateway:gpu-secret' });
      const result = await generate({}, inKey);
      assert.equal(result.images.length, 1);
      const wrong = channel('a1111-auth-wrong', { username: 'gateway' }, { baseUrl: secured.url, apiKey: 'nope' });
      await expectError(generate({}, wrong), 'upstream_configuration_error', false, (e) => assert.equal(e.status, 502));
      const none = channel('a1111-auth-none', {}, { baseUrl: secured.url, apiKey: 'no-colon' });
      await expectError(generate({}, none), 'upstream_configuration_error', false);
    });

    it('names the checkpoint when the server does not have it (404 Model not found)', async () => {
      const odd = channelFor({ id: 'a1111-odd', provider: 'automatic1111', baseUrl: fake.url, models: { sdxl: 'missing-model.safetensors' } });
      closers.push(odd.close);
      await expectError(generate({}, odd.routed), 'upstream_configuration_error', false, (e) => assert.match(e.message, /missing-model\.safetensors/));
    });
  });

  describe('faults', () => {
    const failsWith = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate({}), code, retryable, check);
    };

    it(
      'maps 401 to a 502 configuration error',
      failsWith({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => assert.equal(e.status, 502)),
    );
    it('maps a 500 (CUDA out of memory) to a retryable upstream error', failsWith({ kind: 'status', status: 500 }, 'upstream_error', true));
    it(
      "maps a 422 validation answer to invalid_value with A1111's words",
      failsWith(
        { kind: 'status', status: 422, body: { error: 'HTTPException', detail: "Script 'x' not found", body: '', errors: '' } },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /Script 'x' not found/),
      ),
    );
    it(
      'reads a FastAPI detail list',
      failsWith(
        {
          kind: 'status',
          status: 422,
          body: { error: 'RequestValidationError', detail: [{ loc: ['body', 'width'], msg: 'value is not a valid integer' }], body: '', errors: '' },
        },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /body\.width: value is not a valid integer/),
      ),
    );
    it(
      'maps a 429 from a proxy in front to a retryable rate limit with its Retry-After',
      failsWith({ kind: 'rate_limit', retryAfterSeconds: 4 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 4)),
    );
    it('treats a truncated answer as retryable', failsWith({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a garbled JSON answer as a retryable malformed answer', failsWith({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it('treats bad base64 as a retryable malformed answer', failsWith({ kind: 'bad_base64' }, 'upstream_malformed', true));
    it(
      'treats an answer with fewer images than asked as a retryable malformed answer',
      failsWith({ kind: 'status', status: 200, body: { images: [], parameters: {}, info: '{}' } }, 'upstream_malformed', true),
    );

    it('interrupts the job when the call is abandoned (client gone, attempt timed out)', async () => {
      fake.server.queue({ kind: 'stall' });
      const controller = new AbortController();
      const running = generate({}, plain, controller.signal);
      for (let i = 0; i < 100 && fake.jobs().length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      controller.abort(new Error('client left'));
      await assert.rejects(running, /client left/);
      await fake.interrupted();
      assert.equal(fake.server.count('/sdapi/v1/interrupt'), 1);
      assert.equal(fake.server.received.find((r) => r.path === '/sdapi/v1/interrupt')?.method, 'POST');
    });

    it('does not interrupt a job that finished', async () => {
      const controller = new AbortController();
      await generate({}, plain, controller.signal);
      controller.abort();
      // The next job runs on the same channel: had an interrupt gone out, the fake would count it.
      await generate({});
      assert.equal(fake.server.count('/sdapi/v1/interrupt'), 0);
    });
  });

  describe('streaming: live previews as partial images', () => {
    const streamed = async (body: Record<string, unknown>, previews: number): Promise<{ result: ProviderResult; partials: PartialImage[] }> => {
      fake.previewsPerJob = previews;
      const partials: PartialImage[] = [];
      const request = requestFor({ model: 'sdxl', prompt: 'a lighthouse at dusk', stream: true, ...body });
      const result = await plain.provider.generate(request, { ...callFor(plain, request), onPartial: (partial) => partials.push(partial) });
      return { result, partials };
    };

    it('polls /sdapi/v1/progress and turns each new current_image into a partial at the asked size and format', async () => {
      const { result, partials } = await streamed({ partial_images: 2, size: '1216x832', output_format: 'webp' }, 2);
      assert.equal(result.images.length, 1);
      assert.deepEqual(
        partials.map((p) => [p.imageIndex, p.partialIndex]),
        [
          [0, 0],
          [0, 1],
        ],
      );
      for (const partial of partials) {
        const decoded = await decode(Buffer.from(partial.base64, 'base64'));
        assert.deepEqual([decoded.format, decoded.width, decoded.height], ['webp', 1216, 832]);
      }
      assert.notEqual(partials[0]?.base64, partials[1]?.base64, 'each partial is a new preview');
      assert.ok(fake.server.received.filter((r) => r.path === '/sdapi/v1/progress').every((r) => r.method === 'GET'));
    });

    it('stops at partial_images per image even when the engine previews more', async () => {
      fake.previewsPerJob = 3;
      const partials: PartialImage[] = [];
      const request = requestFor({ model: 'sdxl', prompt: 'a lighthouse at dusk', stream: true, partial_images: 1 });
      const running = plain.provider.generate(request, { ...callFor(plain, request), onPartial: (partial) => partials.push(partial) });
      for (let i = 0; i < 200 && partials.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      const adapterPolls = fake.server.count('/sdapi/v1/progress');
      // The adapter has its one partial; the test plays the rest of the job's steps itself.
      for (let i = 0; i < 2; i += 1) await fetch(`${fake.url}/sdapi/v1/progress`);
      const result = await running;
      assert.equal(result.images.length, 1);
      assert.equal(partials.length, 1);
      assert.equal(fake.server.count('/sdapi/v1/progress'), adapterPolls + 2, 'no adapter poll after its last partial');
    });

    it("cuts a batch's preview grid into one partial per image", async () => {
      const { result, partials } = await streamed({ partial_images: 1, n: 3, size: '1024x1024' }, 1);
      assert.equal(result.images.length, 3);
      assert.deepEqual(partials.map((p) => p.imageIndex).sort(), [0, 1, 2]);
      assert.ok(partials.every((p) => p.partialIndex === 0));
      const sizes = await Promise.all(partials.map(async (p) => decode(Buffer.from(p.base64, 'base64'))));
      assert.ok(sizes.every((d) => d.width === 1024 && d.height === 1024 && d.format === 'png'));
    });

    it('sends no progress polls when partial_images is 0', async () => {
      const { partials } = await streamed({ partial_images: 0 }, 0);
      assert.equal(partials.length, 0);
      assert.equal(fake.server.count('/sdapi/v1/progress'), 0);
    });
  });

  describe('edits (img2img)', () => {
    const contract = { catalog, defaultModel: 'gpt-image-1', unsupportedParams: 'error' } as const;
    const editRequest = async (fields: Record<string, unknown>, image: Buffer, mask: Buffer | null): Promise<EditRequest> => {
      const params = validateEditFields({ model: 'sdxl', prompt: 'a red door', ...fields }, 'multipart', contract);
      return validateEditImages(
        params,
        [{ param: 'image', bytes: image, declaredType: 'image/png', filename: 'photo.png' }],
        mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' },
      );
    };
    const edit = async (request: EditRequest, routed: RoutedChannel = plain): Promise<ProviderResult> => {
      const run = routed.provider.edit ?? assert.fail('the automatic1111 provider edits');
      return run(request, callFor(routed, request));
    };

    it('posts img2img with init_images, a white-means-repaint mask from the OpenAI alpha mask, and denoising_strength', async () => {
      const image = await fakePng(640, 512);
      const result = await edit(await editRequest({ seed: 5, negative_prompt: 'rust', size: '640x512' }, image, await transparentLeft(640, 512, 200)));
      assert.equal(fake.server.received[0]?.path, '/sdapi/v1/img2img');
      const body = job();
      assert.equal(body['denoising_strength'], 0.75);
      assert.equal(body['inpainting_fill'], 1);
      assert.equal(body['seed'], 5);
      assert.equal(body['negative_prompt'], 'rust');
      assert.deepEqual([body['width'], body['height']], [640, 512]);
      assert.equal(body['init_images'] instanceof Array && body['init_images'].length, 1);
      const received = fake.img2img[0] ?? assert.fail('no img2img');
      assert.deepEqual(received.init, { width: 640, height: 512 });
      const mask = received.mask ?? assert.fail('no mask');
      assert.deepEqual([mask.width, mask.height], [640, 512]);
      // White (repaint) where the OpenAI mask was transparent, black where it was opaque.
      assert.equal(mask.data[10], 255);
      assert.equal(mask.data[639], 0);
      assert.equal(mask.data[511 * 640 + 199], 255);
      assert.equal(mask.data[511 * 640 + 200], 0);
      assert.equal(result.images.length, 1);
      assert.deepEqual(result.deliveredSize, { width: 640, height: 512 });
    });

    it('reworks the whole picture (no mask) when neither a mask nor transparency marks an area', async () => {
      const tuned = channel('a1111-denoise', { denoisingStrength: 0.4 });
      await edit(await editRequest({ n: 2 }, await fakePng(512, 512), null), tuned);
      const body = job();
      assert.equal(body['mask'], undefined);
      assert.equal(body['inpainting_fill'], undefined);
      assert.equal(body['denoising_strength'], 0.4);
      assert.equal(body['batch_size'], 2);
    });

    it("uses the image's own transparent pixels as the mask when no mask is sent", async () => {
      await edit(await editRequest({}, await transparentLeft(512, 512, 100), null));
      const mask = fake.img2img[0]?.mask ?? assert.fail('no mask');
      assert.equal(mask.data[0], 255);
      assert.equal(mask.data[511], 0);
    });

    it('refuses a mask with no transparent pixel before calling the engine', async () => {
      const opaque = await sharp({ create: { width: 512, height: 512, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } })
        .png()
        .toBuffer();
      await expectError(edit(await editRequest({}, await fakePng(512, 512), opaque)), 'invalid_value', false);
      assert.equal(fake.server.received.length, 0);
    });
  });
});
