import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ConfigError } from '../../src/config.ts';
import type { EditRequest } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import type { InputImage } from '../../src/contract/input-image.ts';
import { GatewayError } from '../../src/errors.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { arkError, type ArkFake, startArkFake } from '../fakes/ark-fake.ts';
import { fakeImage } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

const SEEDREAM_4 = 'doubao-seedream-4-0-250828';
const SEEDREAM_45 = 'doubao-seedream-4-5-251128';

/** The fields Seedream 4.x/5.0 never get from the gateway (Ark has no `n`; seed is Seedream 3.0's). */
const NEVER_SENT = ['n', 'seed', 'guidance_scale', 'quality', 'style', 'user', 'stream', 'output_format', 'negative_prompt', 'background'];

describe('ark provider against a fake Volcengine Ark', () => {
  let fake: ArkFake;
  const built: Array<ReturnType<typeof channelFor>> = [];
  const channel = (
    id: string,
    options: Record<string, unknown> = {},
    models: Record<string, string> = { [SEEDREAM_4]: SEEDREAM_4, [SEEDREAM_45]: SEEDREAM_45 },
  ) => {
    const made = channelFor({ id, provider: 'ark', baseUrl: fake.baseUrl, models, options });
    built.push(made);
    return made.routed;
  };
  let ark: RoutedChannel;
  const gen = (request: GenerationRequest, routed: RoutedChannel = ark, signal?: AbortSignal): Promise<ProviderResult> =>
    routed.provider.generate(request, callFor(routed, request, signal));
  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> =>
    gen(requestFor({ model: SEEDREAM_4, prompt: 'a red kite over the sea', size: '1024x1024', ...body }), ark, signal);
  const sent = (index = 0): Record<string, unknown> => (fake.generations[index]?.json ?? {}) as Record<string, unknown>;

  before(async () => {
    fake = await startArkFake();
    ark = channel('ark-main');
  });
  after(async () => {
    await Promise.all(built.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, err.message);
      check?.(err);
      return true;
    });
  };

  describe('the wire format', () => {
    it('posts one image to /images/generations with a Bearer key, exact pixels, no watermark, and reads the JPEG back', async () => {
      const result = await generate({ size: '1280x720' });
      assert.equal(fake.generations.length, 1);
      const request = fake.generations[0];
      assert.equal(request?.method, 'POST');
      assert.equal(request?.headers['authorization'], 'Bearer sk-upstream-test');
      assert.equal(request?.headers['content-type'], 'application/json');
      assert.deepEqual(request?.json, {
        model: SEEDREAM_4,
        prompt: 'a red kite over the sea',
        size: '1280x720',
        response_format: 'b64_json',
        watermark: false,
        sequential_image_generation: 'disabled',
      });
      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1280, 720]);
      const kept = result.images[0]?.base64;
      assert.equal(Buffer.isBuffer(kept) ? kept.toString('latin1') : kept, result.images[0]?.bytes.toString('base64'), 'the upstream base64 is kept for reuse');
      assert.deepEqual(result.deliveredSize, { width: 1280, height: 720 }, 'data[].size is reported');
    });

    it('never sends what Seedream 4.x/5.0 do not take, even when the request carries it', async () => {
      await generate({ user: 'user-1', quality: 'standard', output_format: 'webp' });
      for (const field of NEVER_SENT) assert.ok(!(field in sent()), `${field} was sent`);
      assert.ok(!('sequential_image_generation_options' in sent()), 'no set options for one image');
      assert.ok(!('image' in sent()), 'no references in a generation');
    });

    it('reports the size Ark says it drew (data[].size, also written with ×), not the one asked', async () => {
      const drawn = await fakeImage(1024, 576, 'jpeg');
      fake.server.queue({
        kind: 'status',
        status: 200,
        body: { model: SEEDREAM_4, created: 1, data: [{ b64_json: drawn.toString('base64'), size: '1024×576' }], usage: { generated_images: 1 } },
      });
      const result = await generate({ size: '1280x720' });
      assert.deepEqual(result.deliveredSize, { width: 1024, height: 576 });
    });

    it('ignores a size claim no Seedream model can draw', async () => {
      const drawn = await fakeImage(1280, 720, 'jpeg');
      fake.server.queue({ kind: 'status', status: 200, body: { data: [{ b64_json: drawn.toString('base64'), size: '99999x99999' }] } });
      const result = await generate({ size: '1280x720' });
      assert.equal(result.deliveredSize, undefined);
      assert.equal(result.images.length, 1);
    });

    it('passes an inference endpoint id (ep-…) as the model', async () => {
      fake.bindEndpoint('ep-20261201-abcde', SEEDREAM_45);
      const endpoint = channel('ark-endpoint', {}, { [SEEDREAM_45]: 'ep-20261201-abcde' });
      const result = await gen(requestFor({ model: SEEDREAM_45, prompt: 'a harbour', size: '2560x1440' }), endpoint);
      assert.equal(sent()['model'], 'ep-20261201-abcde');
      assert.deepEqual(result.deliveredSize, { width: 2560, height: 1440 });
    });

    it('asks for the watermark only when the channel says so', async () => {
      await gen(requestFor({ model: SEEDREAM_4, prompt: 'a kite', size: '1024x1024' }), channel('ark-marked', { watermark: 'true' }));
      assert.equal(sent()['watermark'], true);
    });

    it('with responseFormat url, downloads the 24-hour TOS link at once', async () => {
      const urls = channel('ark-url', { responseFormat: 'url' });
      const result = await gen(requestFor({ model: SEEDREAM_4, prompt: 'a kite', size: '1152x864' }), urls);
      assert.equal(sent()['response_format'], 'url');
      const download = fake.server.received.find((r) => r.path.startsWith('/ark-content-generation/'));
      assert.ok(download !== undefined, 'the link was fetched');
      assert.ok(download.query.get('X-Tos-Signature') !== null, 'with its signed query string intact');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1152, 864]);
      assert.equal(result.images[0]?.base64, undefined);
    });

    it('fails with a retryable error when the link has already expired (TOS answers 403)', async () => {
      fake.urlTtlMs = -1000;
      try {
        await expectError(
          gen(requestFor({ model: SEEDREAM_4, prompt: 'a kite', size: '1024x1024' }), channel('ark-url-expired', { responseFormat: 'url' })),
          'upstream_error',
          true,
          (e) => assert.match(e.message, /403/),
        );
      } finally {
        fake.urlTtlMs = 60_000;
      }
    });

    it('uses the Beijing API root when a channel names no baseUrl', () => {
      const made = channelFor({ id: 'ark-default', provider: 'ark', models: { [SEEDREAM_4]: SEEDREAM_4 } });
      built.push(made);
      assert.equal(made.routed.channel.baseUrl, 'https://ark.cn-beijing.volces.com/api/v3');
    });
  });

  describe('n > 1', () => {
    it('asks for a set in one call and takes the set the prompt describes', async () => {
      const result = await generate({ prompt: 'a set of 4 postcards of one harbour through the seasons', n: 4 });
      assert.equal(fake.generations.length, 1);
      assert.equal(sent()['sequential_image_generation'], 'auto');
      assert.deepEqual(sent()['sequential_image_generation_options'], { max_images: 4 });
      assert.equal(result.images.length, 4);
      const distinct = new Set(result.images.map((image) => image.bytes.toString('base64')));
      assert.equal(distinct.size, 4);
    });

    it('tops up a set that came back short with single-picture calls, keeping what arrived', async () => {
      // The prompt names no count: Ark's model draws one picture whatever max_images says.
      const result = await generate({ prompt: 'a cat on a sofa', n: 3 });
      assert.equal(result.images.length, 3);
      assert.equal(fake.generations.length, 3, 'one set call, two top-ups');
      assert.deepEqual(sent(0)['sequential_image_generation_options'], { max_images: 3 });
      for (const index of [1, 2]) {
        assert.equal(sent(index)['sequential_image_generation'], 'disabled');
        assert.ok(!('sequential_image_generation_options' in sent(index)));
      }
      for (const image of result.images) assert.equal((await decode(image.bytes)).width, 1024);
    });

    it('tops up after a picture that failed on a server error ended the set', async () => {
      fake.queuePictures('ok', 'ok', 'internal');
      const result = await generate({ prompt: 'a set of 4 stickers', n: 4 });
      assert.equal(result.images.length, 4);
      assert.equal(fake.generations.length, 3, 'the set gave two; two single calls made the rest');
    });

    it('refuses the whole request when moderation refused one picture of the set (HTTP 200)', async () => {
      fake.queuePictures('ok', 'sensitive', 'ok');
      await expectError(generate({ prompt: 'a set of 3 posters', n: 3 }), 'content_policy_violation', false);
      assert.equal(fake.generations.length, 1, 'no top-up after a refusal');
    });

    it('fails the request, cancelling the other top-ups, when one top-up fails', async () => {
      // The set call answers one picture; of the two top-ups one fails and the other hangs.
      fake.server.queue({ kind: 'ok' }, { kind: 'status', status: 500 }, { kind: 'stall' });
      await expectError(generate({ prompt: 'a cat', n: 3 }), 'upstream_error', true);
      await waitUntil(() => fake.server.aborted === 1);
      assert.equal(fake.generations.length, 3);
    });

    it('with sequentialImageGeneration disabled, takes one image per call so the router fans n out', () => {
      const model = catalog.get(SEEDREAM_4) ?? assert.fail('no seedream');
      assert.equal(channel('ark-singles', { sequentialImageGeneration: 'disabled' }).provider.maxImagesPerCall(model), 1);
      assert.equal(ark.provider.maxImagesPerCall(model), 15);
    });
  });

  describe('faults', () => {
    const fails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate(), code, retryable, check);
    };
    it(
      'maps a refused prompt (400 InputTextSensitiveContentDetected) to content_policy_violation',
      fails({ kind: 'moderation' }, 'content_policy_violation', false),
    );
    it('maps a refused reference image (400 InputImageSensitiveContentDetected) to content_policy_violation', () =>
      fails(
        {
          kind: 'status',
          status: 400,
          body: arkError('InputImageSensitiveContentDetected', 'BadRequest', 'The request failed because the input image may contain sensitive information.'),
        },
        'content_policy_violation',
        false,
      )());
    it('maps a refusal carried in an HTTP 200 (top-level error) to content_policy_violation', () =>
      fails(
        {
          kind: 'status',
          status: 200,
          body: arkError('OutputImageSensitiveContentDetected', 'BadRequest', 'The output image may contain sensitive information.'),
        },
        'content_policy_violation',
        false,
      )());
    it('maps the only picture failing on a server error (HTTP 200) to a retryable upstream error', async () => {
      fake.queuePictures('internal');
      await expectError(generate(), 'upstream_error', true);
    });
    it(
      'maps 429 RateLimitExceeded to a retryable rate limit with its Retry-After',
      fails({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7)),
    );
    it('maps 429 QuotaExceeded (free quota used up) to a configuration error, not a retry', () =>
      fails(
        { kind: 'status', status: 429, body: arkError('QuotaExceeded', 'TooManyRequests', 'You have exceeded the quota.') },
        'upstream_configuration_error',
        false,
      )());
    it('maps 500 InternalServiceError to a retryable upstream error', fails({ kind: 'status', status: 500 }, 'upstream_error', true));
    it('maps 503 without an Ark body to a retryable upstream error', fails({ kind: 'status', status: 503, body: 'overloaded' }, 'upstream_error', true));
    it('maps 401 AuthenticationError to a 502 configuration error that never names the key', () =>
      fails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes('sk-'));
      })());
    it('maps 403 AccountOverdueError to a configuration error', () =>
      fails(
        { kind: 'status', status: 403, body: arkError('AccountOverdueError', 'Forbidden', 'Your account has an overdue balance.') },
        'upstream_configuration_error',
        false,
      )());
    it('maps an unknown model or endpoint (404) to a configuration error', async () => {
      await expectError(
        gen(requestFor({ model: SEEDREAM_4, prompt: 'x', size: '1024x1024' }), channel('ark-wrong', {}, { [SEEDREAM_4]: 'ep-missing' })),
        'upstream_configuration_error',
        false,
      );
    });
    it('maps 400 InvalidParameter to invalid_value with Ark’s message', () =>
      fails({ kind: 'status', status: 400, body: arkError('InvalidParameter.size', 'BadRequest', 'The size is not valid.') }, 'invalid_value', false, (e) =>
        assert.match(e.message, /size is not valid/),
      )());
    it('treats a truncated answer as retryable', fails({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a garbled answer as retryable upstream_malformed', fails({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it('treats bad base64 as retryable upstream_malformed', fails({ kind: 'bad_base64' }, 'upstream_malformed', true));
    it(
      'treats an answer of another shape as retryable upstream_malformed',
      fails({ kind: 'status', status: 200, body: { data: 'nope' } }, 'upstream_malformed', true),
    );
    it(
      'treats an answer without data or error as retryable upstream_malformed',
      fails({ kind: 'status', status: 200, body: { created: 1 } }, 'upstream_malformed', true),
    );

    it('keeps the pictures when usage.generated_images disagrees with them (logged, not failed)', async () => {
      fake.server.queue({ kind: 'usage', usage: { generated_images: 3, output_tokens: 1, total_tokens: 1 } });
      const result = await generate();
      assert.equal(result.images.length, 1);
    });

    it('cuts a stalled call with the signal and closes the connection', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.server.aborted === 1);
    });

    it('rejects with the abort reason when the client leaves', async () => {
      fake.server.queue({ kind: 'stall' });
      const controller = new AbortController();
      const run = generate({}, controller.signal);
      await waitUntil(() => fake.generations.length === 1);
      controller.abort(new Error('client left'));
      await assert.rejects(run, /client left/);
      await waitUntil(() => fake.server.aborted === 1);
    });
  });

  describe('edits', () => {
    const images = async (count: number): Promise<InputImage[]> =>
      Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const format = i % 2 === 0 ? 'png' : 'jpeg';
          return {
            param: `image[${i}]`,
            bytes: await fakeImage(64, 48, format, i),
            format,
            width: 64,
            height: 48,
            hasAlpha: false,
            filename: `ref${i}.${format}`,
          } as const;
        }),
      );
    const edit = async (refs: readonly InputImage[], body: Record<string, unknown> = {}, mask: InputImage | null = null): Promise<ProviderResult> => {
      const base = requestFor({ model: SEEDREAM_4, prompt: 'put the cat from image 1 on the sofa of image 2', size: '1024x1024', ...body });
      const request: EditRequest = { ...base, operation: 'edit', images: refs, mask, inputFidelity: null, sizeAuto: false };
      const editFn = ark.provider.edit ?? assert.fail('ark edits');
      return editFn(request, callFor(ark, request));
    };

    it('sends one reference image as a lower-case data URL', async () => {
      const [first] = await images(1);
      assert.ok(first !== undefined);
      const result = await edit([first]);
      assert.equal(sent()['image'], `data:image/png;base64,${first.bytes.toString('base64')}`);
      assert.equal(result.images.length, 1);
    });

    it('sends several references as an array, and caps the set at 15 pictures in all', async () => {
      const refs = await images(13);
      const result = await edit(refs, { prompt: 'a set of 4 scenes with these characters', n: 4 });
      const image = sent()['image'];
      assert.ok(Array.isArray(image) && image.length === 13);
      assert.match(String(image[1]), /^data:image\/jpeg;base64,/);
      assert.deepEqual(sent()['sequential_image_generation_options'], { max_images: 2 }, '13 references + 2 pictures = 15');
      assert.equal(result.images.length, 4, 'the rest is topped up');
      assert.ok(fake.generations.every((g) => Array.isArray((g.json as Record<string, unknown>)['image'])));
    });

    it('refuses a mask: Seedream has none', async () => {
      const [first] = await images(1);
      assert.ok(first !== undefined);
      await expectError(edit([first], {}, first), 'unsupported_parameter', false, (e) => assert.equal(e.param, 'mask'));
      assert.equal(fake.generations.length, 0);
    });
  });

  it('refuses a channel option it cannot read when the channel is built (at boot), naming it', () => {
    assert.throws(
      () => channel('ark-bad', { responseFormat: 'png' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /channels\.0 \(ark-bad\)\.options\.responseFormat/);
        return true;
      },
    );
  });

  it('serves ByteDance models only', () => {
    assert.throws(
      () => channelFor({ id: 'ark-gpt', provider: 'ark', baseUrl: fake.baseUrl, models: { 'gpt-image-1': 'gpt-image-1' } }),
      (err: unknown) => err instanceof ConfigError && /cannot serve it/.test(err.message),
    );
  });
});

describe('seedream catalog rows', () => {
  it('take exact pixels within each model’s documented range, and no seed', () => {
    const model = (id: string) => catalog.get(id) ?? assert.fail(`no ${id}`);
    assert.throws(() => requestFor({ model: SEEDREAM_45, prompt: 'x', size: '1024x1024' }), /pixels/);
    assert.equal(requestFor({ model: SEEDREAM_4, prompt: 'x', size: '1024x1024' }).size.width, 1024);
    assert.deepEqual(requestFor({ model: 'doubao-seedream-5-0-260128', prompt: 'x', size: '3750x1250' }).size, { width: 3750, height: 1250 });
    assert.throws(() => requestFor({ model: 'doubao-seedream-5-0-260128', prompt: 'x', size: '4096x4096' }), /pixels/);
    assert.throws(() => requestFor({ model: SEEDREAM_4, prompt: 'x', size: '4096x200' }), /aspect ratio/);
    assert.deepEqual(requestFor({ model: SEEDREAM_4, prompt: 'x' }).size, { width: 2048, height: 2048 });
    for (const id of [SEEDREAM_4, SEEDREAM_45, 'doubao-seedream-5-0-260128']) {
      assert.equal(model(id).extras.seed, false);
      assert.equal(model(id).maxN, 15);
      assert.equal(model(id).edit?.maxImages, 14);
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
