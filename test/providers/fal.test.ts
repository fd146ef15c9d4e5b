import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { validateEditFields, validateEditImages, type EditRequest } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import { falProvider } from '../../src/providers/fal/index.ts';
import { endpointUrl } from '../../src/providers/fal/queue.ts';
import { imageSize } from '../../src/providers/fal/wire.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { type FalFake, type FalOutcome, startFalFake } from '../fakes/fal-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Polls come fast in tests; the spacing between polls keeps its default. */
const FAST_POLLS = { pollInitialMs: '5', pollMaxMs: '20' };

const MODELS = {
  'flux-dev': 'fal-ai/flux/dev',
  'flux-schnell': 'fal-ai/flux/schnell',
  'flux-pro-1.1-ultra': 'fal-ai/flux-pro/v1.1-ultra',
  'flux-kontext-pro': 'fal-ai/flux-pro/kontext',
};

describe('fal provider against a fake fal queue', () => {
  let fake: FalFake;
  const built: Array<ReturnType<typeof channelFor>> = [];
  const channel = (id: string, options: Record<string, unknown> = FAST_POLLS, models: Record<string, string> = MODELS): RoutedChannel => {
    const made = channelFor({ id, provider: 'fal', baseUrl: fake.baseUrl, apiKey: fake.apiKey, models, options });
    built.push(made);
    return made.routed;
  };
  let main: RoutedChannel;
  const gen = (request: GenerationRequest, routed: RoutedChannel = main, signal?: AbortSignal): Promise<ProviderResult> =>
    routed.provider.generate(request, callFor(routed, request, signal));
  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> =>
    gen(requestFor({ model: 'flux-dev', prompt: 'a lighthouse in a storm', size: '1024x768', ...body }), main, signal);

  before(async () => {
    fake = await startFalFake({ pollsUntilDone: 3 });
    main = channel('fal-main');
  });
  after(async () => {
    await Promise.all(built.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => {
    fake.reset();
    fake.pollsUntilDone = 3;
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
    it('queues at /{endpoint_id} with "Authorization: Key", polls the status_url it was given, fetches response_url and downloads at once', async () => {
      const result = await generate({ seed: 42 });
      const [submit] = fake.submits;
      assert.equal(submit?.path, '/fal-ai/flux/dev');
      assert.equal(submit?.headers['authorization'], `Key ${fake.apiKey}`, 'fal authenticates with "Key", not Bearer');
      assert.equal(submit?.headers['content-type'], 'application/json');
      assert.equal(submit?.headers['x-fal-store-io'], undefined);
      assert.deepEqual(submit?.json, {
        prompt: 'a lighthouse in a storm',
        num_images: 1,
        image_size: 'landscape_4_3',
        seed: 42,
        output_format: 'png',
        enable_safety_checker: true,
      });
      // The queue URLs drop the endpoint's sub-path (fal-ai/flux/dev → fal-ai/flux/requests/<id>).
      assert.equal(fake.polls.length, 3, 'IN_QUEUE, IN_PROGRESS, COMPLETED');
      assert.ok(fake.polls.every((p) => /^\/fal-ai\/flux\/requests\/[^/]+\/status$/.test(p.path) && p.headers['authorization'] === `Key ${fake.apiKey}`));
      assert.equal(fake.resultFetches.length, 1);
      assert.equal(fake.resultFetches[0]?.headers['authorization'], `Key ${fake.apiKey}`);
      assert.equal(fake.cancels.length, 0);
      assert.equal(fake.downloads.length, 1);
      assert.equal(fake.downloads[0]?.headers['authorization'], undefined, 'the CDN link gets no key');

      assert.equal(result.images.length, 1);
      assert.equal(result.images[0]?.mime, 'image/png');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 768]);
      assert.equal(result.deliveredSize, undefined, 'fal drew the size asked');
    });

    it('sends no seed when none was asked, png for webp (the gateway transcodes), and never fields fal does not take', async () => {
      const result = await generate({ output_format: 'webp' });
      const body = fake.submits[0]?.json as Record<string, unknown>;
      for (const field of [
        'seed',
        'n',
        'model',
        'size',
        'aspect_ratio',
        'negative_prompt',
        'response_format',
        'sync_mode',
        'image_url',
        'quality',
        'user',
        'background',
      ]) {
        assert.ok(!(field in body), `${field} was sent`);
      }
      assert.equal(body['output_format'], 'png');
      assert.equal(result.images[0]?.mime, 'image/png');
    });

    it('asks for n images in num_images and delivers n distinct ones', async () => {
      const result = await generate({ n: 3, size: '1024x1024' });
      assert.equal(fake.submits.length, 1, 'one queued request');
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.deepEqual([body['num_images'], body['image_size']], [3, 'square_hd']);
      assert.equal(result.images.length, 3);
      assert.equal(fake.downloads.length, 3);
      const distinct = new Set(result.images.map((i) => i.bytes.toString('base64')));
      assert.equal(distinct.size, 3);
    });

    it('sends a size that is no preset as {width, height}, in jpeg when asked', async () => {
      const result = await generate({ size: '1440x960', output_format: 'jpeg' });
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.deepEqual(body['image_size'], { width: 1440, height: 960 });
      assert.equal(body['output_format'], 'jpeg');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1440, 960]);
      assert.equal(result.deliveredSize, undefined);
    });

    it('sends aspect-ratio models aspect_ratio, and reports the size fal says it delivered', async () => {
      const result = await gen(requestFor({ model: 'flux-pro-1.1-ultra', prompt: 'a desert road', size: '1792x1024' }));
      assert.equal(fake.submits[0]?.path, '/fal-ai/flux-pro/v1.1-ultra');
      assert.ok(fake.polls.every((p) => p.path.startsWith('/fal-ai/flux-pro/requests/')));
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.equal(body['aspect_ratio'], '16:9');
      assert.ok(!('image_size' in body));
      assert.deepEqual(result.deliveredSize, { width: 2752, height: 1536 });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [2752, 1536]);
    });

    it('decodes images that come as data URIs without downloading anything', async () => {
      fake.queueOutcomes('data_uri');
      const result = await generate({ n: 2 });
      assert.equal(fake.downloads.length, 0);
      assert.equal(result.images.length, 2);
      assert.ok(result.images[0]?.base64, 'the base64 is kept for a b64_json answer');
      const image = await decode(result.images[1]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1024, 768]);
    });

    it('sends X-Fal-Store-IO: 0 when the channel opts out of fal keeping payloads', async () => {
      await gen(requestFor({ model: 'flux-dev', prompt: 'a quiet harbour' }), channel('fal-private', { ...FAST_POLLS, storeIo: 'false' }));
      assert.equal(fake.submits[0]?.headers['x-fal-store-io'], '0');
    });
  });

  describe('refusals', () => {
    it('refuses when fal flagged every image (black squares, HTTP 200), downloading none', async () => {
      fake.queueOutcomes('nsfw_all');
      await expectError(generate({ n: 2 }), 'content_policy_violation', false, (e) => assert.match(e.message, /flagged/));
      assert.equal(fake.downloads.length, 0, 'a black square is never fetched');
    });

    it('refuses a partial refusal too: the gateway never answers with fewer images than asked', async () => {
      fake.queueOutcomes('nsfw_first');
      await expectError(generate({ n: 3 }), 'content_policy_violation', false, (e) => assert.match(e.message, /1 of the 3/));
      assert.equal(fake.downloads.length, 0);
    });

    it('maps a 422 content_policy_violation of the result to a refusal with its categories', async () => {
      fake.queueOutcomes('policy_422');
      await expectError(generate(), 'content_policy_violation', false, (e) => assert.match(e.message, /flagged by a content checker.*sexual/));
    });

    it('maps the moderation fault of a submit (a flagged prompt) to a refusal', async () => {
      fake.queue.queue({ kind: 'moderation' });
      await expectError(generate(), 'content_policy_violation', false);
    });
  });

  describe('request outcomes', () => {
    it('maps a 422 validation error of the result to invalid_value quoting the field fal names', () => (
      fake.queueOutcomes('validation_422'),
      expectError(generate(), 'invalid_value', false, (e) => assert.match(e.message, /guidance_scale: Input should be less than or equal to 20/))
    ));

    it('maps a COMPLETED request with an error to a retryable 502, without fetching a result', async () => {
      fake.queueOutcomes('run_failed');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /runner_disconnected/));
      assert.equal(fake.resultFetches.length, 0);
      assert.equal(fake.polls.length, 3, 'the polls end at COMPLETED');
    });

    it('treats a result with fewer images than asked (and none flagged) as malformed', () => (
      fake.queueOutcomes('too_few' satisfies FalOutcome),
      expectError(generate({ n: 2 }), 'upstream_malformed', true)
    ));
  });

  describe('submit faults', () => {
    const submitFails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.queue.queue(fault);
      await expectError(generate(), code, retryable, check);
      assert.equal(fake.polls.length, 0);
    };
    it(
      'maps 429 to a retryable rate limit with its Retry-After',
      submitFails({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7)),
    );
    it('maps 500 to a retryable upstream error', submitFails({ kind: 'status', status: 500 }, 'upstream_error', true));
    it(
      'maps 401 to a 502 configuration error that never names the key',
      submitFails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => assert.ok(!e.message.includes(fake.apiKey))),
    );
    it(
      "maps a 422 of the submit to invalid_value with fal's message",
      submitFails(
        {
          kind: 'status',
          status: 422,
          body: { detail: [{ loc: ['body', 'num_images'], msg: 'Input should be less than or equal to 4', type: 'less_than_equal' }] },
        },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /num_images: Input should be less than or equal to 4/),
      ),
    );
    it('treats a truncated submit answer as retryable', submitFails({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a submit answer that is not JSON as malformed (retryable)', submitFails({ kind: 'invalid_json' }, 'upstream_malformed', true));

    it('maps an endpoint fal does not have (404) to a configuration error', async () => {
      const wrong = channel('fal-wrong', FAST_POLLS, { 'flux-dev': 'fal-ai/no-such-model' });
      await expectError(gen(requestFor({ model: 'flux-dev', prompt: 'x' }), wrong), 'upstream_configuration_error', false);
    });

    it("never sends the key to a status_url off the base URL's site", async () => {
      fake.urlOrigin = 'http://127.0.0.2:9';
      await expectError(generate(), 'upstream_error', false, (e) => assert.match(e.message, /outside its own site/));
      assert.equal(fake.polls.length, 0);
    });
  });

  describe('poll faults and cancellation', () => {
    it('rides out failed polls (5xx, throttled, garbled) without queueing a second request', async () => {
      fake.pollsUntilDone = 2;
      fake.queue.queue({ kind: 'ok' }, { kind: 'status', status: 503 }, { kind: 'ok' }, { kind: 'invalid_json' });
      const result = await generate();
      assert.equal(result.images.length, 1);
      assert.equal(fake.requestCount, 1);
    });

    it('gives up with a retryable error when fal keeps not knowing the request (404 on status)', async () => {
      const lost = { kind: 'status', status: 404, body: { detail: 'Request not found' } } as const;
      fake.queue.queue({ kind: 'ok' }, lost, lost, lost);
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /does not know the request/));
      assert.equal(fake.requestCount, 1);
    });

    it('cancels the request (PUT cancel_url with the key) when the signal aborts mid-queue', async () => {
      fake.pollsUntilDone = 1000;
      const controller = new AbortController();
      const run = generate({}, controller.signal);
      await waitUntil(() => fake.polls.length >= 2);
      controller.abort(new Error('client left'));
      await assert.rejects(run, /client left/);
      await waitUntil(() => fake.cancels.length === 1);
      const [cancel] = fake.cancels;
      assert.match(cancel?.path ?? '', /^\/fal-ai\/flux\/requests\/[^/]+\/cancel$/);
      assert.equal(cancel?.headers['authorization'], `Key ${fake.apiKey}`);
      assert.equal(fake.requests[0]?.cancelled, true);
    });

    it('cuts a stalled poll with the signal and cancels the request', async () => {
      fake.pollsUntilDone = 1000;
      fake.queue.queue({ kind: 'ok' }, { kind: 'stall' });
      await assert.rejects(generate({}, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.cancels.length === 1);
      assert.equal(fake.requests[0]?.cancelled, true);
    });
  });

  describe('edits (Kontext on fal)', () => {
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
      const bound = main.provider.edit ?? assert.fail('fal edits');
      return bound(request, callFor(main, request));
    };

    it('sends the image as a data URI in image_url with the aspect ratio of the image', async () => {
      const first = await fakePng(1536, 1024, 1);
      const result = await edit(await editRequest({ seed: 9 }, [first]));
      const submit = fake.submits[0];
      assert.equal(submit?.path, '/fal-ai/flux-pro/kontext');
      const body = submit?.json as Record<string, unknown>;
      assert.equal(body['image_url'], `data:image/png;base64,${first.toString('base64')}`);
      assert.equal(body['aspect_ratio'], '3:2');
      assert.deepEqual([body['seed'], body['prompt'], body['num_images']], [9, 'make it night', 1]);
      assert.ok(!('image_size' in body) && !('mask' in body) && !('image_urls' in body));
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.ok(image.width > image.height);
    });

    it('refuses a mask (Kontext edits by instruction) without queueing a request', async () => {
      const image = await fakePng(512, 512, 3);
      const mask = await sharp(await fakePng(512, 512, 4))
        .ensureAlpha()
        .png()
        .toBuffer();
      await expectError(edit(await editRequest({}, [image], mask)), 'unsupported_parameter', false, (e) => assert.equal(e.param, 'mask'));
      assert.equal(fake.submits.length, 0);
    });
  });

  describe('channel options and capabilities', () => {
    it('refuses an option it cannot read when the channel is built (at boot), naming it', () => {
      assert.throws(
        () => channel('fal-bad', { maxImagesPerCall: 0 }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /channels\.0 \(fal-bad\)\.options\.maxImagesPerCall/);
          return true;
        },
      );
      assert.throws(() => channel('fal-unknown', { steps: 28 }), /options/);
    });

    it('serves any catalog model (an aggregator), up to four images a call, on queue.fal.run by default', () => {
      for (const model of catalog.all()) assert.equal(falProvider.serves(model), true, model.id);
      const flux = catalog.get('flux-dev');
      assert.ok(flux);
      assert.equal(main.provider.maxImagesPerCall(flux), 4);
      assert.equal(channel('fal-one', { ...FAST_POLLS, maxImagesPerCall: '1' }).provider.maxImagesPerCall(flux), 1);
      assert.equal(PROVIDERS.get('fal')?.defaultBaseUrl, 'https://queue.fal.run');
    });
  });
});

describe('fal wire helpers', () => {
  it("names fal's presets and sends other sizes as {width, height}", () => {
    assert.equal(imageSize({ width: 1024, height: 1024 }), 'square_hd');
    assert.equal(imageSize({ width: 576, height: 1024 }), 'portrait_16_9');
    assert.deepEqual(imageSize({ width: 1344, height: 768 }), { width: 1344, height: 768 });
  });

  it("keeps the endpoint id's slashes as path separators and refuses ids that are not a path", () => {
    assert.equal(endpointUrl('https://queue.fal.run', 'fal-ai/flux/dev'), 'https://queue.fal.run/fal-ai/flux/dev');
    assert.equal(endpointUrl('https://queue.fal.run', 'fal-ai/flux lora'), 'https://queue.fal.run/fal-ai/flux%20lora');
    for (const bad of ['fal-ai/../admin', '/fal-ai/flux', 'fal-ai//flux']) {
      assert.throws(
        () => endpointUrl('https://queue.fal.run', bad),
        (err: unknown) => err instanceof GatewayError && err.code === 'upstream_configuration_error',
        bad,
      );
    }
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
