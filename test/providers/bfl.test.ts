import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { validateEditFields, validateEditImages, type EditRequest } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import { snapToGrid, wireSizeFor } from '../../src/providers/bfl/sizes.ts';
import { isOnUpstreamSite, registrableDomain } from '../../src/providers/shared/upstream-site.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { type BflFake, type BflTaskOutcome, startBflFake } from '../fakes/bfl-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Polls come fast in tests; the spacing between polls keeps its default. */
const FAST_POLLS = { pollInitialMs: '5', pollMaxMs: '20' };

const MODELS = {
  'flux-pro-1.1': 'flux-pro-1.1',
  'flux-pro-1.1-ultra': 'flux-pro-1.1-ultra',
  'flux-dev': 'flux-dev',
  'flux-kontext-pro': 'flux-kontext-pro',
  'flux-kontext-max': 'flux-kontext-max',
  'flux-2-pro': 'flux-2-pro',
};

describe('bfl provider against a fake BFL API', () => {
  let fake: BflFake;
  const built: Array<ReturnType<typeof channelFor>> = [];
  const channel = (id: string, options: Record<string, unknown> = FAST_POLLS, models: Record<string, string> = MODELS): RoutedChannel => {
    const made = channelFor({ id, provider: 'bfl', baseUrl: fake.baseUrl, apiKey: fake.apiKey, models, options });
    built.push(made);
    return made.routed;
  };
  let main: RoutedChannel;
  const gen = (request: GenerationRequest, routed: RoutedChannel = main, signal?: AbortSignal): Promise<ProviderResult> =>
    routed.provider.generate(request, callFor(routed, request, signal));
  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> =>
    gen(requestFor({ model: 'flux-pro-1.1', prompt: 'a lighthouse in a storm', size: '1024x768', ...body }), main, signal);

  before(async () => {
    fake = await startBflFake({ pollsUntilDone: 3 });
    main = channel('bfl-main');
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
    it('submits to /v1/{model} with x-key, polls the polling_url it was given, and downloads the sample at once', async () => {
      const result = await generate({ seed: 42 });
      const [submit, ...others] = fake.api.received;
      assert.equal(others.length, 0, 'only the submit goes to the base URL');
      assert.equal(submit?.method, 'POST');
      assert.equal(submit?.path, '/v1/flux-pro-1.1');
      assert.equal(submit?.headers['x-key'], fake.apiKey);
      assert.equal(submit?.headers['authorization'], undefined, 'BFL authenticates with x-key, not Bearer');
      assert.equal(submit?.headers['content-type'], 'application/json');
      assert.deepEqual(submit?.json, {
        prompt: 'a lighthouse in a storm',
        width: 1024,
        height: 768,
        seed: 42,
        output_format: 'png',
        safety_tolerance: 2,
        prompt_upsampling: false,
      });

      // The polls go where polling_url points (another host:port of the fake), with the key.
      assert.equal(fake.polls.length, 3, 'Pending, Pending, Ready');
      assert.ok(fake.polls.every((p) => p.method === 'GET' && p.headers['x-key'] === fake.apiKey && p.query.get('id') !== null));
      assert.equal(fake.downloads.length, 1);
      assert.equal(fake.downloads[0]?.headers['x-key'], undefined, 'the signed sample link gets no key');
      assert.ok(fake.downloads[0]?.query.get('sig'), 'the signed query string is kept');

      assert.equal(result.images.length, 1);
      assert.equal(result.images[0]?.mime, 'image/png');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 768]);
      assert.equal(result.deliveredSize, undefined, 'BFL drew the size the request resolved to');
    });

    it('sends no seed when none was asked, and never fields BFL does not take', async () => {
      await generate({ output_format: 'webp' });
      const body = fake.submits[0]?.json as Record<string, unknown>;
      for (const field of ['seed', 'n', 'num_images', 'model', 'size', 'aspect_ratio', 'negative_prompt', 'webhook_url', 'input_image', 'response_format']) {
        assert.ok(!(field in body), `${field} was sent`);
      }
      assert.equal(body['output_format'], 'webp');
    });

    it("snaps a size off BFL's grid onto it and reports the size delivered", async () => {
      // 800x160 passes the catalog's free rule, but BFL's edges start at 256: scaled up, ratio kept.
      const result = await generate({ size: '800x160' });
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.deepEqual([body['width'], body['height']], [1280, 256]);
      assert.deepEqual(result.deliveredSize, { width: 1280, height: 256 });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1280, 256]);
    });

    it('sends Ultra an aspect ratio and no pixels, in the format asked', async () => {
      fake.pollsUntilDone = 1;
      const result = await gen(requestFor({ model: 'flux-pro-1.1-ultra', prompt: 'a desert road', size: '1792x1024', output_format: 'jpeg' }));
      assert.equal(fake.submits[0]?.path, '/v1/flux-pro-1.1-ultra');
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.equal(body['aspect_ratio'], '16:9');
      assert.ok(!('width' in body) && !('height' in body));
      assert.equal(result.images[0]?.mime, 'image/jpeg');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.equal(image.format, 'jpeg');
      assert.ok(image.width > image.height, `${image.width}x${image.height} is 16:9`);
      assert.equal(result.deliveredSize, undefined, 'Ultra picks its pixels; the media step measures them');
    });

    it('sends FLUX.2 its 16-pixel grid, safety_tolerance at most 5 and no prompt_upsampling', async () => {
      const strict = channel('bfl-flux2', { ...FAST_POLLS, safetyTolerance: '6', promptUpsampling: 'true' });
      const result = await gen(requestFor({ model: 'flux-2-pro', prompt: 'a poster', size: '1104x624' }), strict);
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.equal(fake.submits[0]?.path, '/v1/flux-2-pro');
      assert.deepEqual([body['width'], body['height'], body['safety_tolerance']], [1104, 624, 5]);
      assert.ok(!('prompt_upsampling' in body), 'Flux2Inputs has no prompt_upsampling');
      assert.equal(result.deliveredSize, undefined);
    });

    it("sends the channel's safety tolerance and prompt upsampling to FLUX.1 endpoints", async () => {
      const loose = channel('bfl-loose', { ...FAST_POLLS, safetyTolerance: '6', promptUpsampling: true });
      await gen(requestFor({ model: 'flux-dev', prompt: 'a kite' }), loose);
      const body = fake.submits[0]?.json as Record<string, unknown>;
      assert.equal(fake.submits[0]?.path, '/v1/flux-dev');
      assert.deepEqual([body['safety_tolerance'], body['prompt_upsampling'], body['width'], body['height']], [6, true, 1024, 1024]);
    });

    it('keeps polling through Queued and Processing', async () => {
      for (const status of ['Queued', 'Processing']) {
        fake.reset();
        fake.pendingStatus = status;
        const result = await generate();
        assert.equal(result.images.length, 1);
        assert.equal(fake.polls.length, 3, status);
      }
    });
  });

  describe('task outcomes', () => {
    const endsWith = (outcome: BflTaskOutcome, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.queueTasks(outcome);
      await expectError(generate(), code, retryable, check);
      assert.equal(fake.downloads.length, 0, 'nothing to download');
    };
    it("maps Content Moderated (HTTP 200) to content_policy_violation with BFL's reason", () =>
      endsWith('content_moderated', 'content_policy_violation', false, (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /Derivative Works Filter/);
      })());
    it('maps Request Moderated (HTTP 200) to content_policy_violation', endsWith('request_moderated', 'content_policy_violation', false));
    it('maps Error to a retryable 502, ending the polls at once', async () => {
      await endsWith('error', 'upstream_error', true, (e) => assert.equal(e.status, 502))();
      assert.equal(fake.polls.length, 3, 'no poll after the task ended');
    });
    it('rides out "Task not found" twice, then fails with a retryable 502', async () => {
      await endsWith('not_found', 'upstream_error', true, (e) => assert.equal(e.status, 502))();
      assert.equal(fake.polls.length, 3);
    });
    it('maps a Ready task without a sample to a retryable malformed answer', endsWith('ready_without_sample', 'upstream_malformed', true));

    it('fails with a retryable error when the sample link has expired (403)', async () => {
      fake.queueTasks('expired_sample');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /403/));
      assert.equal(fake.downloads.length, 1);
    });

    it('maps a moderated poll answer to content_policy_violation without polling on', async () => {
      fake.regional.queue({ kind: 'moderation' });
      await expectError(generate(), 'content_policy_violation', false);
      assert.equal(fake.polls.length, 1);
    });
  });

  describe('submit faults', () => {
    const submitFails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.api.queue(fault);
      await expectError(generate(), code, retryable, check);
      assert.equal(fake.polls.length, 0, 'nothing to poll after a refused submit');
    };
    it('maps 429 to a retryable rate limit with the retry_after of its body', () =>
      submitFails({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7))());
    it('prefers a Retry-After header on a 429 when there is one', () =>
      submitFails(
        { kind: 'status', status: 429, body: { detail: 'Too many active tasks' }, headers: { 'retry-after': '3' } },
        'rate_limit_exceeded',
        true,
        (e) => assert.equal(e.retryAfterSeconds, 3),
      )());
    it('maps 500 to a retryable upstream error', submitFails({ kind: 'status', status: 500 }, 'upstream_error', true));
    it('maps 401 to a 502 configuration error that never names the key', () =>
      submitFails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes(fake.apiKey));
      })());
    it(
      'maps 402 (no credits) to a configuration error',
      submitFails({ kind: 'status', status: 402, body: { detail: 'Insufficient credits' } }, 'upstream_configuration_error', false),
    );
    it('maps a 422 to invalid_value quoting the field BFL names', () =>
      submitFails(
        { kind: 'status', status: 422, body: { detail: [{ loc: ['body', 'width'], msg: 'Input should be a multiple of 32', type: 'multiple_of' }] } },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /width: Input should be a multiple of 32/),
      )());
    it('treats a truncated submit answer as retryable', submitFails({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a submit answer that is not JSON as malformed (retryable)', submitFails({ kind: 'invalid_json' }, 'upstream_malformed', true));

    it('maps an endpoint BFL does not have (404) to a configuration error', async () => {
      const wrong = channel('bfl-wrong', FAST_POLLS, { 'flux-pro-1.1': 'flux-pro-9' });
      await expectError(gen(requestFor({ model: 'flux-pro-1.1', prompt: 'x' }), wrong), 'upstream_configuration_error', false);
    });

    it("never sends the key to a polling_url off the base URL's site", async () => {
      fake.pollingOrigin = fake.regional.url.replace('127.0.0.1', 'localhost');
      await expectError(generate(), 'upstream_error', false, (e) => assert.match(e.message, /polling URL outside/));
      assert.equal(fake.submits.length, 1);
      assert.equal(fake.regional.received.length, 0, 'no request reached the foreign host');
    });
  });

  describe('poll faults and cancellation', () => {
    it('rides out failed polls (garbled, 5xx, throttled) without creating a second task', async () => {
      fake.pollsUntilDone = 5;
      fake.regional.queue(
        { kind: 'ok' },
        { kind: 'invalid_json' },
        { kind: 'status', status: 502 },
        { kind: 'ok' },
        { kind: 'truncate' },
        { kind: 'rate_limit', retryAfterSeconds: 1 },
      );
      const result = await generate();
      assert.equal(result.images.length, 1);
      assert.equal(fake.submits.length, 1);
      assert.equal(fake.polls.length, 7, 'three clean polls and four faults, never more than two in a row');
    });

    it('gives up with a retryable error after three failed polls in a row', async () => {
      fake.regional.queue({ kind: 'ok' }, { kind: 'invalid_json' }, { kind: 'status', status: 503 }, { kind: 'truncate' });
      await expectError(generate(), 'upstream_error', true);
      assert.equal(fake.polls.length, 4);
    });

    it('ends at once when a poll is refused for good (401)', async () => {
      fake.regional.queue({ kind: 'auth' });
      await expectError(generate(), 'upstream_configuration_error', false);
      assert.equal(fake.polls.length, 1);
    });

    it('stops polling when the signal aborts, and rejects with its reason', async () => {
      fake.pollsUntilDone = 1_000_000;
      const controller = new AbortController();
      const run = generate({}, controller.signal);
      await waitUntil(() => fake.polls.length > 2);
      controller.abort(new Error('client left'));
      await assert.rejects(run, /client left/);
      const pollsAtAbort = fake.polls.length;
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(fake.polls.length, pollsAtAbort, 'no poll after the abort');
    });

    it('cuts a stalled poll with the signal', async () => {
      fake.regional.queue({ kind: 'stall' });
      await assert.rejects(generate({}, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.regional.aborted === 1);
      assert.equal(fake.polls.length, 1);
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
    const edit = async (request: EditRequest, routed: RoutedChannel = main): Promise<ProviderResult> => {
      const bound = routed.provider.edit ?? assert.fail('bfl edits');
      return bound(request, callFor(routed, request));
    };

    it('sends the image as base64 in input_image, references in input_image_2…, and the aspect ratio of the image', async () => {
      const first = await fakePng(1536, 1024, 1);
      const second = await fakePng(512, 512, 2);
      const result = await edit(await editRequest({ seed: 9 }, [first, second]));
      const submit = fake.submits[0];
      assert.equal(submit?.path, '/v1/flux-kontext-pro');
      const body = submit?.json as Record<string, unknown>;
      assert.equal(body['input_image'], first.toString('base64'));
      assert.equal(body['input_image_2'], second.toString('base64'));
      assert.equal(body['aspect_ratio'], '3:2');
      assert.equal(body['seed'], 9);
      assert.equal(body['prompt'], 'make it night');
      assert.ok(!('width' in body) && !('mask' in body));
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.ok(image.width > image.height);
    });

    it('refuses a mask (Kontext edits by instruction) without creating a task', async () => {
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
        () => channel('bfl-bad', { safetyTolerance: 7 }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /channels\.0 \(bfl-bad\)\.options\.safetyTolerance/);
          return true;
        },
      );
      assert.throws(() => channel('bfl-unknown', { steps: 28 }), /options/);
    });

    it('makes one image per call, serves FLUX models only, and defaults to api.bfl.ai', async () => {
      const model = catalog.get('flux-pro-1.1') ?? assert.fail('no flux-pro-1.1');
      assert.equal(main.provider.maxImagesPerCall(model), 1);
      const { PROVIDERS } = await import('../../src/providers/registry.ts');
      const bfl = PROVIDERS.get('bfl') ?? assert.fail('bfl is registered');
      assert.equal(bfl.defaultBaseUrl, 'https://api.bfl.ai/v1');
      for (const id of ['flux-pro-1.1', 'flux-pro-1.1-ultra', 'flux-dev', 'flux-schnell', 'flux-kontext-pro', 'flux-kontext-max', 'flux-2-pro']) {
        assert.equal(bfl.serves(catalog.get(id) ?? assert.fail(id)), true, id);
      }
      assert.match(String(bfl.serves(catalog.get('gpt-image-1') ?? assert.fail('gpt-image-1'))), /owned by openai/);
    });
  });
});

describe('bfl sizes', () => {
  const FLUX_1 = { multipleOf: 32, minEdgePx: 256, maxEdgePx: 1440, maxPixels: 1440 * 1440 };
  it('keeps sizes on the grid and snaps others onto it, ratio kept, within the limits', () => {
    assert.deepEqual(snapToGrid({ width: 1024, height: 768 }, FLUX_1), { width: 1024, height: 768 });
    assert.deepEqual(snapToGrid({ width: 1000, height: 1000 }, FLUX_1), { width: 992, height: 992 });
    assert.deepEqual(snapToGrid({ width: 1792, height: 1024 }, FLUX_1), { width: 1440, height: 832 });
    assert.deepEqual(snapToGrid({ width: 800, height: 160 }, FLUX_1), { width: 1280, height: 256 });
    assert.deepEqual(snapToGrid({ width: 4000, height: 100 }, FLUX_1), { width: 1440, height: 256 });
    const flux2 = { multipleOf: 16, minEdgePx: 64, maxEdgePx: 2048, maxPixels: 2048 * 2048 };
    assert.deepEqual(snapToGrid({ width: 3000, height: 3000 }, flux2), { width: 2048, height: 2048 });
  });

  it('picks the dialect by endpoint: pixels for pro/dev/FLUX.2, aspect ratios for Ultra and Kontext', () => {
    const request = { size: { width: 1536, height: 1024 }, aspect: null };
    assert.deepEqual(wireSizeFor(request, 'flux-pro-1.1'), { kind: 'pixels', width: 1440, height: 960 });
    assert.deepEqual(wireSizeFor(request, 'flux-2-max'), { kind: 'pixels', width: 1536, height: 1024 });
    assert.deepEqual(wireSizeFor(request, 'flux-kontext-max'), { kind: 'aspect', ratio: '3:2' });
    assert.deepEqual(wireSizeFor({ ...request, aspect: { ratio: '21:9', tier: '4MP' } }, 'flux-pro-1.1-ultra'), { kind: 'aspect', ratio: '21:9' });
  });
});

describe('upstream site check (polling URLs)', () => {
  it("accepts the base URL's host and hosts of its registrable domain", () => {
    const base = 'https://api.bfl.ai/v1';
    assert.equal(isOnUpstreamSite('https://api.bfl.ai/v1/get_result?id=1', base), true);
    assert.equal(isOnUpstreamSite('https://api.eu2.bfl.ai/v1/get_result?id=1', base), true);
    assert.equal(isOnUpstreamSite('https://gateway.bfl.ai/v1/get_result?id=1', base), true);
    assert.equal(isOnUpstreamSite('https://bfl.ai/v1/get_result', base), true);
    assert.equal(isOnUpstreamSite('https://api.bfl.ai:8443/v1/get_result', base), true);
  });

  it('refuses other hosts, look-alikes, downgrades and embedded credentials', () => {
    const base = 'https://api.bfl.ai/v1';
    for (const url of [
      'https://evilbfl.ai/v1/get_result',
      'https://bfl.ai.evil.example/v1/get_result',
      'https://api.bfl.ml/v1/get_result',
      'http://api.bfl.ai/v1/get_result',
      'https://user:pass@api.bfl.ai/v1/get_result',
      'ftp://api.bfl.ai/x',
      'not a url',
    ]) {
      assert.equal(isOnUpstreamSite(url, base), false, url);
    }
  });

  it('holds an address or a one-label host to itself, and a country domain to its registrant', () => {
    assert.equal(isOnUpstreamSite('http://127.0.0.1:9000/v1/get_result', 'http://127.0.0.1:8000/v1'), true);
    assert.equal(isOnUpstreamSite('http://127.0.0.2:8000/v1/get_result', 'http://127.0.0.1:8000/v1'), false);
    assert.equal(isOnUpstreamSite('http://localhost:8000/x', 'http://127.0.0.1:8000/v1'), false);
    assert.equal(isOnUpstreamSite('http://other/x', 'http://bfl-proxy:8000/v1'), false);
    assert.equal(registrableDomain('api.example.co.uk'), 'example.co.uk');
    assert.equal(isOnUpstreamSite('https://poll.example.co.uk/x', 'https://api.example.co.uk/v1'), true);
    assert.equal(isOnUpstreamSite('https://other.co.uk/x', 'https://api.example.co.uk/v1'), false);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
