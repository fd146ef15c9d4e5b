import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { validateEditFields, validateEditImages, type EditRequest } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { fakePng } from '../fakes/fake-images.ts';
import { FLUX_DEV_VERSION, type ReplicateFake, startReplicateFake } from '../fakes/replicate-fake.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Polls come fast in tests; the spacing between polls keeps its default. */
const FAST_POLLS = { pollInitialMs: '5', pollMaxMs: '20' };

const MODELS = {
  'flux-dev': 'black-forest-labs/flux-dev',
  'flux-schnell': 'black-forest-labs/flux-schnell',
  'flux-pro-1.1': 'black-forest-labs/flux-1.1-pro',
  'flux-kontext-pro': 'black-forest-labs/flux-kontext-pro',
};

describe('replicate provider against a fake Replicate API', () => {
  let fake: ReplicateFake;
  const built: Array<ReturnType<typeof channelFor>> = [];
  const channel = (id: string, options: Record<string, unknown> = FAST_POLLS, models: Record<string, string> = MODELS): RoutedChannel => {
    const made = channelFor({ id, provider: 'replicate', baseUrl: fake.baseUrl, apiKey: fake.apiKey, models, options });
    built.push(made);
    return made.routed;
  };
  let main: RoutedChannel;
  const gen = (request: GenerationRequest, routed: RoutedChannel = main, signal?: AbortSignal): Promise<ProviderResult> =>
    routed.provider.generate(request, callFor(routed, request, signal));
  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> =>
    gen(requestFor({ model: 'flux-dev', prompt: 'a lighthouse in a storm', size: '1024x1024', ...body }), main, signal);
  const inputOf = (index = 0): Record<string, unknown> => (fake.creates[index]?.json as { input: Record<string, unknown> }).input;

  before(async () => {
    fake = await startReplicateFake();
    main = channel('replicate-main');
  });
  after(async () => {
    await Promise.all(built.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 0;
  });

  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, `retryable for ${err.message}`);
      check?.(err);
      return true;
    });
  };

  describe('generations', () => {
    it('creates a prediction on the official model path with Bearer, Prefer: wait and Cancel-After, and downloads its output at once', async () => {
      const result = await generate({ seed: 42 });
      assert.equal(fake.creates.length, 1);
      const create = fake.creates[0];
      assert.equal(create?.path, '/v1/models/black-forest-labs/flux-dev/predictions');
      assert.equal(create?.headers['authorization'], `Bearer ${fake.apiKey}`);
      assert.equal(create?.headers['content-type'], 'application/json');
      // The test channel's timeoutMs is 10 s: the wait never outlasts it, nor does the prediction.
      assert.equal(create?.headers['prefer'], 'wait=10');
      assert.equal(create?.headers['cancel-after'], '10s');
      assert.deepEqual(create?.json, { input: { prompt: 'a lighthouse in a storm', aspect_ratio: '1:1', num_outputs: 1, output_format: 'png', seed: 42 } });
      assert.equal(fake.polls.length, 0, 'sync mode: the create call answered the finished prediction');
      assert.equal(fake.downloads.length, 1);
      assert.equal(fake.downloads[0]?.headers['authorization'], undefined, 'output links get no key');

      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
      assert.equal(result.deliveredSize, undefined, 'Replicate drew the size asked');
    });

    it('sends no seed when none was asked, Replicate\'s "jpg" for jpeg, and never fields the model does not take', async () => {
      await generate({ output_format: 'jpeg' });
      const input = inputOf();
      for (const field of ['seed', 'n', 'size', 'width', 'height', 'negative_prompt', 'response_format', 'quality', 'model', 'webhook']) {
        assert.ok(!(field in input), `${field} was sent`);
      }
      assert.equal(input['output_format'], 'jpg');
      assert.deepEqual(Object.keys(fake.creates[0]?.json as object), ['input'], 'no version, no webhook for an official model');
    });

    it('makes n images in one prediction with num_outputs', async () => {
      const result = await generate({ n: 3, size: '1024x1024' });
      assert.equal(fake.creates.length, 1);
      assert.equal(inputOf()['num_outputs'], 3);
      assert.equal(result.images.length, 3);
      assert.equal(fake.downloads.length, 3);
      const distinct = new Set(result.images.map((image) => image.bytes.toString('base64')));
      assert.equal(distinct.size, 3);
      for (const image of result.images) assert.deepEqual(await decode(image.bytes).then((d) => [d.width, d.height]), [1024, 1024]);
    });

    it('maps a non-square size to the nearest aspect ratio and reports the pixels Replicate drew', async () => {
      const result = await generate({ size: '1024x576' });
      assert.equal(inputOf()['aspect_ratio'], '16:9');
      assert.deepEqual(result.deliveredSize, { width: 1344, height: 768 });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1344, 768]);
    });

    it('creates a pinned version (owner/name:version) on /v1/predictions with `version`', async () => {
      const pinned = channel('replicate-pinned', FAST_POLLS, { 'flux-dev': `black-forest-labs/flux-dev:${FLUX_DEV_VERSION}` });
      const result = await gen(requestFor({ model: 'flux-dev', prompt: 'a cat', size: '1024x1024' }), pinned);
      assert.equal(fake.creates[0]?.path, '/v1/predictions');
      const body = fake.creates[0]?.json as { version?: string; input?: Record<string, unknown> };
      assert.equal(body.version, FLUX_DEV_VERSION);
      assert.equal(body.input?.['aspect_ratio'], '1:1', "the version takes its model's inputs");
      assert.equal(result.images.length, 1);
    });

    it('polls urls.get with the key while the prediction runs, then fetches the output', async () => {
      fake.pollsUntilDone = 3;
      const result = await generate();
      assert.equal(fake.polls.length, 3);
      const id = fake.predictionIds[0] ?? '';
      assert.ok(fake.polls.every((p) => p.path === `/v1/predictions/${id}` && p.headers['authorization'] === `Bearer ${fake.apiKey}`));
      assert.equal(result.images.length, 1);
    });

    it('takes outputs given as data URIs without downloading them', async () => {
      fake.queuePredictions('data_uri');
      const result = await generate({ output_format: 'webp' });
      assert.equal(fake.downloads.length, 0);
      assert.equal(result.images[0]?.mime, 'image/webp');
      assert.ok(result.images[0]?.base64 !== undefined, 'the upstream base64 is kept for b64_json');
      assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).format, 'webp');
    });

    it('sends FLUX1.1 [pro] aspect_ratio "custom" with width and height on its grid, one image a prediction', async () => {
      const result = await gen(requestFor({ model: 'flux-pro-1.1', prompt: 'a kite', size: '1024x768', n: 2, seed: 5 }));
      assert.equal(fake.creates.length, 2, 'FLUX1.1 [pro] takes no num_outputs: one prediction per image');
      assert.ok(fake.creates.every((c) => c.path === '/v1/models/black-forest-labs/flux-1.1-pro/predictions'));
      const inputs = [inputOf(0), inputOf(1)];
      for (const input of inputs) {
        assert.deepEqual([input['aspect_ratio'], input['width'], input['height']], ['custom', 1024, 768]);
        assert.ok(!('num_outputs' in input));
      }
      assert.deepEqual(inputs.map((input) => input['seed']).sort(), [5, 6], 'the seed plus the images before it');
      assert.equal(result.images.length, 2);
      assert.equal(result.deliveredSize, undefined);
    });

    it('cancels the other predictions of a request when one fails (their pictures would be thrown away)', async () => {
      fake.queuePredictions('nsfw', 'stuck');
      await expectError(gen(requestFor({ model: 'flux-pro-1.1', prompt: 'a kite', size: '1024x768', n: 2 })), 'content_policy_violation', false);
      await waitUntil(() => fake.cancels.length === 1);
      assert.equal(fake.creates.length, 2);
    });

    it('asks a model without the format for png (the gateway transcodes it)', async () => {
      await gen(requestFor({ model: 'flux-kontext-pro', prompt: 'a poster', size: '1024x1024', output_format: 'webp' }));
      assert.equal(inputOf()['output_format'], 'png', 'Kontext has jpg and png only');
    });
  });

  describe('refusals and faults', () => {
    it('maps a prediction that failed NSFW (HTTP 200) to content_policy_violation, not retried', async () => {
      fake.queuePredictions('nsfw');
      await expectError(generate(), 'content_policy_violation', false, (e) => assert.match(e.message, /NSFW content detected/));
      assert.equal(fake.downloads.length, 0);
    });

    it('maps an NSFW failure found while polling to content_policy_violation without polling on', async () => {
      fake.pollsUntilDone = 2;
      fake.queuePredictions('nsfw');
      await expectError(generate(), 'content_policy_violation', false);
      assert.equal(fake.polls.length, 2);
    });

    it('maps a model failure to a retryable 502 with its error', async () => {
      fake.queuePredictions('failed');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /out of memory/));
    });

    it('maps a prediction canceled upstream (Cancel-After) to a retryable 502', async () => {
      fake.queuePredictions('canceled');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /canceled/));
    });

    it('maps a succeeded prediction without output to a retryable malformed answer', async () => {
      fake.queuePredictions('no_output');
      await expectError(generate(), 'upstream_malformed', true);
    });

    it("maps a 422 to a 400 invalid_value with Replicate's message and the field", async () => {
      const odd = channel('replicate-odd', { ...FAST_POLLS, modelInputs: { 'black-forest-labs/flux-dev': { aspectRatios: ['7:3'] } } });
      await expectError(gen(requestFor({ model: 'flux-dev', prompt: 'a cat', size: '1024x1024' }), odd), 'invalid_value', false, (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /aspect_ratio must be one of the following/);
        assert.equal(e.param, 'aspect_ratio');
      });
    });

    it('maps a 429 to a retryable rate limit with its Retry-After', async () => {
      fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 12 });
      await expectError(generate(), 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 12));
    });

    it('reads the wait from a 429 body when there is no header: "resets in ~Ns" or retry_after', async () => {
      fake.server.queue({ kind: 'status', status: 429, body: { detail: 'Request was throttled. Your rate limit resets in ~7s.' } });
      await expectError(generate(), 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7));
      fake.server.queue({ kind: 'status', status: 429, body: { title: 'Too Many Requests', detail: 'Request was throttled.', status: 429, retry_after: 3 } });
      await expectError(generate(), 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 3));
    });

    it('maps 500 to a retryable upstream error', async () => {
      fake.server.queue({ kind: 'status', status: 500 });
      await expectError(generate(), 'upstream_error', true);
    });

    it('maps 401 to a 502 configuration error that never names the key', async () => {
      fake.server.queue({ kind: 'auth' });
      await expectError(generate(), 'upstream_configuration_error', false, (e) => assert.ok(!e.message.includes(fake.apiKey)));
    });

    it('maps 402 (out of credit) and an unknown model (404) to configuration errors', async () => {
      fake.server.queue({
        kind: 'status',
        status: 402,
        body: { title: 'Insufficient credit', detail: 'You have insufficient credit to run this model.', status: 402 },
      });
      await expectError(generate(), 'upstream_configuration_error', false);
      const wrong = channel('replicate-wrong', FAST_POLLS, { 'flux-dev': 'black-forest-labs/flux-nonexistent' });
      await expectError(gen(requestFor({ model: 'flux-dev', prompt: 'a cat' }), wrong), 'upstream_configuration_error', false);
    });

    it('refuses an upstream model that is not owner/name without calling Replicate', async () => {
      const bad = channel('replicate-bad-name', FAST_POLLS, { 'flux-dev': 'flux-dev' });
      await expectError(gen(requestFor({ model: 'flux-dev', prompt: 'a cat' }), bad), 'upstream_configuration_error', false);
      assert.equal(fake.server.received.length, 0);
    });

    it('treats a truncated answer as retryable and a garbled one as malformed', async () => {
      fake.server.queue({ kind: 'truncate' });
      await expectError(generate(), 'upstream_error', true);
      fake.server.queue({ kind: 'invalid_json' });
      await expectError(generate(), 'upstream_malformed', true);
    });

    it('rides out a failed poll without creating a second prediction', async () => {
      fake.pollsUntilDone = 2;
      fake.server.queue({ kind: 'ok' }, { kind: 'status', status: 503 });
      const result = await generate();
      assert.equal(fake.creates.length, 1);
      assert.equal(fake.polls.length, 3);
      assert.equal(result.images.length, 1);
    });

    it("never sends the key to prediction URLs off the base URL's site", async () => {
      fake.pollsUntilDone = 2;
      fake.urlsOrigin = fake.server.url.replace('127.0.0.1', 'localhost');
      await expectError(generate(), 'upstream_error', false, (e) => assert.match(e.message, /outside its own site/));
      assert.equal(fake.polls.length, 0);
    });

    it('cancels the prediction (urls.cancel) when the signal aborts while it runs', async () => {
      fake.pollsUntilDone = 1_000_000;
      const controller = new AbortController();
      const run = generate({}, controller.signal);
      await waitUntil(() => fake.polls.length >= 2);
      controller.abort(new Error('client left'));
      await assert.rejects(run, /client left/);
      await waitUntil(() => fake.cancels.length === 1);
      const id = fake.predictionIds[0] ?? '';
      assert.equal(fake.cancels[0]?.path, `/v1/predictions/${id}/cancel`);
      assert.equal(fake.cancels[0]?.headers['authorization'], `Bearer ${fake.apiKey}`);
      assert.ok(fake.wasCanceled(id));
      const polls = fake.polls.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(fake.polls.length, polls, 'no poll after the abort');
    });

    it('cuts a stalled create call with the signal (Cancel-After bounds the prediction upstream)', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.server.aborted === 1);
      assert.equal(fake.creates[0]?.headers['cancel-after'], '10s');
    });
  });

  describe('edits (Kontext)', () => {
    const editRequest = async (fields: Record<string, unknown>, images: Buffer[], mask: Buffer | null = null): Promise<EditRequest> => {
      const params = validateEditFields({ model: 'flux-kontext-pro', prompt: 'make it night', ...fields }, 'multipart', {
        catalog,
        defaultModel: 'flux-kontext-pro',
        unsupportedParams: 'error',
      });
      const raw = images.map((bytes, i) => ({ param: images.length === 1 ? 'image' : `image[${i}]`, bytes, declaredType: 'image/png', filename: `${i}.png` }));
      return validateEditImages(params, raw, mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' });
    };
    const edit = async (request: EditRequest): Promise<ProviderResult> => {
      const bound = main.provider.edit ?? assert.fail('replicate edits');
      return bound(request, callFor(main, request));
    };

    it('sends the image as a data URI in input_image with aspect_ratio match_input_image', async () => {
      const photo = await fakePng(1536, 1024, 1);
      const result = await edit(await editRequest({ seed: 9 }, [photo]));
      assert.equal(fake.creates[0]?.path, '/v1/models/black-forest-labs/flux-kontext-pro/predictions');
      const input = inputOf();
      assert.equal(input['input_image'], `data:image/png;base64,${photo.toString('base64')}`);
      assert.equal(input['aspect_ratio'], 'match_input_image');
      assert.equal(input['seed'], 9);
      assert.ok(!('mask' in input) && !('num_outputs' in input));
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.ok(Math.abs(image.width / image.height - 1.5) < 0.03, `${image.width}x${image.height}`);
    });

    it('refuses reference images it cannot send (one input_image) without creating a prediction', async () => {
      const images = [await fakePng(512, 512, 5), await fakePng(512, 512, 6)];
      await expectError(edit(await editRequest({}, images)), 'unsupported_parameter', false, (e) => assert.equal(e.param, 'image'));
      assert.equal(fake.creates.length, 0);
    });

    it('refuses a mask (Kontext edits by instruction) without creating a prediction', async () => {
      const image = await fakePng(512, 512, 3);
      const mask = await sharp(await fakePng(512, 512, 4))
        .ensureAlpha()
        .png()
        .toBuffer();
      await expectError(edit(await editRequest({}, [image], mask)), 'unsupported_parameter', false, (e) => assert.equal(e.param, 'mask'));
      assert.equal(fake.creates.length, 0);
    });
  });

  describe('channel options and capabilities', () => {
    it('refuses an option it cannot read when the channel is built (at boot), naming it', () => {
      assert.throws(
        () => channel('replicate-bad', { preferWaitSeconds: 61 }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /channels\.0 \(replicate-bad\)\.options\.preferWaitSeconds/);
          return true;
        },
      );
      assert.throws(() => channel('replicate-unknown', { steps: 28 }), /options/);
      assert.throws(() => channel('replicate-bad-profile', { modelInputs: { 'flux-dev': {} } }), /modelInputs/);
    });

    it("sends a channel's own model profile: fixed inputs, one image a prediction, a shorter wait", async () => {
      const custom = channel('replicate-custom', {
        ...FAST_POLLS,
        preferWaitSeconds: '5',
        modelInputs: { 'black-forest-labs/flux-dev': { maxOutputs: 1, fixedInput: { go_fast: false, megapixels: '1' } } },
      });
      await gen(requestFor({ model: 'flux-dev', prompt: 'a cat', n: 2, size: '1024x1024' }), custom);
      assert.equal(fake.creates.length, 2);
      assert.ok(fake.creates.every((c) => c.headers['prefer'] === 'wait=5'));
      const input = inputOf();
      assert.equal(input['go_fast'], false);
      assert.equal(input['megapixels'], '1');
      assert.ok(!('num_outputs' in input));
    });

    it("sends a width_height model (the README's SDXL profile) plain width/height, negative_prompt and no output_format", async () => {
      const { wireSize, predictionInput } = await import('../../src/providers/replicate/wire.ts');
      const { ReplicateOptionsSchema } = await import('../../src/providers/replicate/options.ts');
      const options = ReplicateOptionsSchema.parse({
        modelInputs: {
          'stability-ai/sdxl': {
            size: 'width_height',
            multipleOfPx: 8,
            minEdgePx: 512,
            maxEdgePx: 1536,
            maxOutputs: 4,
            negativePrompt: true,
            outputFormats: {},
          },
        },
      });
      const profile = options.modelInputs['stability-ai/sdxl'] ?? assert.fail('profile parsed');
      const request = requestFor({ model: 'flux-dev', prompt: 'a fox', size: '1024x576', seed: 3 });
      const input = predictionInput({ ...request, negativePrompt: 'blur' }, profile, wireSize(request, profile), 2, 3);
      assert.deepEqual(input, { prompt: 'a fox', width: 1024, height: 576, num_outputs: 2, seed: 3, negative_prompt: 'blur' });
    });

    it('serves any catalog model, makes up to four images a call, and defaults to api.replicate.com', async () => {
      const { PROVIDERS } = await import('../../src/providers/registry.ts');
      const replicate = PROVIDERS.get('replicate') ?? assert.fail('replicate is registered');
      assert.equal(replicate.defaultBaseUrl, 'https://api.replicate.com/v1');
      for (const id of ['flux-dev', 'flux-schnell', 'gpt-image-1', 'stable-image-core'])
        assert.equal(replicate.serves(catalog.get(id) ?? assert.fail(id)), true, id);
      assert.equal(main.provider.maxImagesPerCall(catalog.get('flux-dev') ?? assert.fail('flux-dev')), 4);
    });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
