import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { validateEditFields, validateEditImages, type EditRequest } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { priceUsd } from '../../src/catalog/index.ts';
import { GatewayError } from '../../src/errors.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { type GeminiOutcome, startGeminiFake, type GeminiFake } from '../fakes/gemini-fake.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

const FLASH_25 = 'gemini-2.5-flash-image';
const PRO_3 = 'gemini-3-pro-image-preview';
const FLASH_31 = 'gemini-3.1-flash-image-preview';
const KEY = 'gemini-upstream-test';

/** An edit as the contract hands it on (multipart form, images checked and probed). */
async function editFor(fields: Record<string, unknown>, images: readonly Buffer[], mask: Buffer | null = null): Promise<EditRequest> {
  const params = validateEditFields(fields, 'multipart', { catalog, defaultModel: 'gpt-image-1', unsupportedParams: 'error' });
  return validateEditImages(
    params,
    images.map((bytes, i) => ({ param: `image[${i}]`, bytes, declaredType: 'application/octet-stream', filename: `${i}.png` })),
    mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' },
  );
}

/** A mask: fully transparent (edit) left of `editWidth`, opaque elsewhere. */
async function leftMask(width: number, height: number, editWidth: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 4, 255);
  for (let y = 0; y < height; y += 1) for (let x = 0; x < editWidth; x += 1) data[(y * width + x) * 4 + 3] = 0;
  return sharp(data, { raw: { width, height, channels: 4 } })
    .png()
    .toBuffer();
}

async function rgb(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

describe('gemini provider against a fake Gemini API', () => {
  let fake: GeminiFake;
  const built: Array<ReturnType<typeof channelFor>> = [];
  const channelFor2 = (id: string, models: Record<string, string>, options: Record<string, unknown> = {}, apiKey = KEY): RoutedChannel => {
    const channel = channelFor({ id, provider: 'gemini', baseUrl: fake.baseUrl, apiKey, models, options });
    built.push(channel);
    return channel.routed;
  };
  let channel: RoutedChannel;
  before(async () => {
    fake = await startGeminiFake();
    channel = channelFor2('gemini-test', { [FLASH_25]: FLASH_25, [PRO_3]: PRO_3, [FLASH_31]: FLASH_31 });
  });
  after(async () => {
    await Promise.all(built.map((c) => c.close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown>, on: RoutedChannel = channel, signal?: AbortSignal): Promise<ProviderResult> => {
    const request: GenerationRequest = requestFor({ model: FLASH_25, prompt: 'a lighthouse at dusk', ...body });
    return on.provider.generate(request, callFor(on, request, signal));
  };
  const edit = (request: EditRequest): Promise<ProviderResult> => {
    const edit = channel.provider.edit ?? assert.fail('the gemini provider edits');
    return edit(request, callFor(channel, request));
  };
  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void): Promise<void> => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, err.message);
      check?.(err);
      return true;
    });
  };

  describe('generate', () => {
    it('posts one user turn to :generateContent with the key in x-goog-api-key, and reads the image and usage', async () => {
      const result = await generate({ size: '1024x1024' });
      const sent = fake.server.received[0];
      assert.equal(fake.server.received.length, 1);
      assert.equal(sent?.method, 'POST');
      assert.equal(sent?.path, `/v1beta/models/${FLASH_25}:generateContent`);
      assert.equal(sent?.headers['x-goog-api-key'], KEY);
      assert.equal(sent?.headers['authorization'], undefined, 'the key goes in x-goog-api-key only');
      assert.equal(sent?.query.get('key'), null, 'never in the query string (it would reach access logs)');
      assert.equal(sent?.headers['content-type'], 'application/json');
      // gemini-2.5-flash-image has one resolution: no imageSize, no candidateCount, no n, no size.
      assert.deepEqual(sent?.json, {
        contents: [{ role: 'user', parts: [{ text: 'a lighthouse at dusk' }] }],
        generationConfig: { responseModalities: ['TEXT', 'IMAGE'], imageConfig: { aspectRatio: '1:1' } },
      });
      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
      assert.equal(result.images[0]?.mime, 'image/png');
      assert.equal(result.images[0]?.base64, result.images[0]?.bytes.toString('base64'), "the upstream's base64 is passed on for reuse");
      assert.deepEqual(result.usage, { input_tokens: 8, input_tokens_details: { text_tokens: 8, image_tokens: 0 }, output_tokens: 1300, total_tokens: 1308 });
      assert.equal(result.deliveredSize, undefined, 'Gemini does not say the pixels; the media step measures them');
    });

    it('sends the seed when one is asked', async () => {
      await generate({ seed: 42 });
      assert.equal((fake.server.received[0]?.json as { generationConfig: { seed?: unknown } }).generationConfig.seed, 42);
    });

    it('maps a wide size to the nearest ratio and the tier to imageSize, and skips thought parts (Gemini 3)', async () => {
      const result = await generate({ model: PRO_3, size: '1792x1024' });
      const config = (fake.server.received[0]?.json as { generationConfig: Record<string, unknown> }).generationConfig;
      assert.deepEqual(config['imageConfig'], { aspectRatio: '16:9', imageSize: '1K' });
      assert.equal(result.images.length, 1, 'the interim thought image is a draft, not an answer');
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1376, 768], "Google's pixels for 16:9 at 1K");
      assert.equal(result.usage?.output_tokens, 1130 + 150, 'thinking is billed as output');
    });

    it('sends aspect_ratio and resolution as asked, including the ratios and 512 tier only 3.1 Flash takes', async () => {
      const result = await generate({ model: FLASH_31, aspect_ratio: '1:4', resolution: '512' });
      const config = (fake.server.received[0]?.json as { generationConfig: Record<string, unknown> }).generationConfig;
      assert.deepEqual(config['imageConfig'], { aspectRatio: '1:4', imageSize: '512' });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [256, 1032]);
      assert.throws(() => requestFor({ model: PRO_3, prompt: 'x', aspect_ratio: '1:4' }), /aspect_ratio/);
      assert.throws(() => requestFor({ model: FLASH_25, prompt: 'x', resolution: '2K' }), /resolution/);
    });

    it('takes a channel model written as the resource name models/{id}', async () => {
      await generate({}, channelFor2('gemini-resource-name', { [FLASH_25]: `models/${FLASH_25}` }));
      assert.equal(fake.server.received[0]?.path, `/v1beta/models/${FLASH_25}:generateContent`);
    });

    it('makes one call per image: n=3 is three calls with seeds of their own, usage summed', async () => {
      const result = await generate({ n: 3, seed: 5 });
      assert.equal(fake.server.received.length, 3);
      assert.equal(result.images.length, 3);
      assert.equal(result.usage?.output_tokens, 3 * 1300);
      const seeds = fake.server.received.map((r) => (r.json as { generationConfig: { seed?: number } }).generationConfig.seed).sort();
      assert.deepEqual(seeds, [5, 6, 7], 'seed + i, so that the images are not copies');
      assert.equal(channel.provider.maxImagesPerCall(catalog.get(PRO_3) ?? assert.fail('no model')), 1);
    });

    it('keeps the first image when the model volunteers two', async () => {
      fake.queueAnswers('two_images');
      const result = await generate({});
      assert.equal(result.images.length, 1);
      assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).width, 1024);
    });
  });

  describe('refusals and answers without an image, all in HTTP 200', () => {
    const refusals: GeminiOutcome[] = [
      'prompt_blocked',
      'SAFETY',
      'IMAGE_SAFETY',
      'PROHIBITED_CONTENT',
      'IMAGE_PROHIBITED_CONTENT',
      'RECITATION',
      'IMAGE_RECITATION',
    ];
    for (const outcome of refusals) {
      it(`maps ${outcome} to content_policy_violation, not retried`, async () => {
        fake.queueAnswers(outcome);
        await expectError(generate({}), 'content_policy_violation', false, (e) => {
          assert.equal(e.status, 400);
          assert.match(e.message, outcome === 'prompt_blocked' ? /prompt was blocked \(SAFETY\)/ : new RegExp(`\\(${outcome}\\)`));
        });
        assert.equal(fake.server.received.length, 1);
      });
    }

    it('maps the moderation fault (a blocked prompt with no candidates) the same way', async () => {
      fake.server.queue({ kind: 'moderation' });
      await expectError(generate({}), 'content_policy_violation', false);
    });

    for (const [outcome, reason] of [
      ['NO_IMAGE', /NO_IMAGE/],
      ['IMAGE_OTHER', /IMAGE_OTHER/],
      ['text_only', /text only.*What style/],
    ] as const) {
      it(`maps ${outcome} to a 502 upstream error naming the reason, not retried`, async () => {
        fake.queueAnswers(outcome);
        await expectError(generate({}), 'upstream_error', false, (e) => {
          assert.equal(e.status, 502);
          assert.match(e.message, /without an image/);
          assert.match(e.message, reason);
        });
      });
    }
  });

  describe('errors', () => {
    const fails = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate({}), code, retryable, check);
    };
    it("maps 400 API_KEY_INVALID (Google's answer to a wrong key) to a 502 configuration error that never names the key", () =>
      fails({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes(KEY));
      })());
    it('maps 403 PERMISSION_DENIED and 401 UNAUTHENTICATED to configuration errors', async () => {
      await fails(
        { kind: 'status', status: 403, body: { error: { code: 403, message: 'Permission denied.', status: 'PERMISSION_DENIED' } } },
        'upstream_configuration_error',
        false,
      )();
      await fails(
        { kind: 'status', status: 401, body: { error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } } },
        'upstream_configuration_error',
        false,
      )();
    });
    it('maps 400 FAILED_PRECONDITION (region, billing) to a configuration error', () =>
      fails(
        {
          kind: 'status',
          status: 400,
          body: {
            error: {
              code: 400,
              message: 'Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.',
              status: 'FAILED_PRECONDITION',
            },
          },
        },
        'upstream_configuration_error',
        false,
      )());
    it('maps 429 RESOURCE_EXHAUSTED to a retryable rate limit whose hint is RetryInfo.retryDelay', () =>
      fails({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => {
        assert.equal(e.status, 429);
        assert.equal(e.retryAfterSeconds, 7);
      })());
    it('maps a 429 without a hint to a retryable rate limit without one', () =>
      fails({ kind: 'rate_limit' }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, undefined))());
    it('maps 500 INTERNAL and 503 UNAVAILABLE to retryable upstream errors', async () => {
      await fails({ kind: 'status', status: 500 }, 'upstream_error', true)();
      await fails({ kind: 'status', status: 503 }, 'upstream_error', true)();
    });
    it('reads the canonical code before the HTTP status (a proxy that rewrote UNAVAILABLE to 400)', () =>
      fails(
        { kind: 'status', status: 400, body: { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } } },
        'upstream_error',
        true,
      )());
    it("maps 400 INVALID_ARGUMENT to invalid_value with Google's message", () =>
      fails(
        {
          kind: 'status',
          status: 400,
          body: { error: { code: 400, message: 'Request payload size exceeds the limit: 20971520 bytes.', status: 'INVALID_ARGUMENT' } },
        },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /payload size exceeds/),
      )());
    it('maps an unknown model (404 NOT_FOUND) to a configuration error', async () => {
      await expectError(generate({}, channelFor2('gemini-wrong-model', { [FLASH_25]: 'gemini-9-image' })), 'upstream_configuration_error', false);
    });
    it("maps an error page that is not Google's JSON by its status", () =>
      fails({ kind: 'status', status: 502, body: '<html>Bad gateway</html>' }, 'upstream_error', true)());
    it('treats a truncated answer as a retryable upstream error', fails({ kind: 'truncate' }, 'upstream_error', true));
    it('treats an answer that is not JSON as retryable malformed', fails({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it('treats image data that is not base64 as retryable malformed', fails({ kind: 'bad_base64' }, 'upstream_malformed', true));
    it('treats a 200 with neither candidates nor a block reason as retryable malformed', () =>
      fails({ kind: 'status', status: 200, body: { usageMetadata: { promptTokenCount: 3 } } }, 'upstream_malformed', true)());

    it('cuts a stalled call with the signal and closes the connection', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, channel, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      const deadline = Date.now() + 2000;
      while (fake.server.aborted === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(fake.server.aborted, 1, 'the fake saw the call go');
    });
  });

  describe('edit', () => {
    it('sends the images as inlineData parts before the prompt, with their own MIME types', async () => {
      const first = await fakePng(640, 480, 3);
      const reference = await sharp(await fakePng(300, 300, 9))
        .jpeg()
        .toBuffer();
      const result = await edit(await editFor({ model: PRO_3, prompt: 'make it winter' }, [first, reference]));
      const parts = (fake.server.received[0]?.json as { contents: Array<{ parts: Array<Record<string, unknown>> }> }).contents[0]?.parts ?? [];
      assert.deepEqual(
        parts.map((part) => Object.keys(part)),
        [['inlineData'], ['inlineData'], ['text']],
      );
      assert.deepEqual(parts[0], { inlineData: { mimeType: 'image/png', data: first.toString('base64') } });
      assert.deepEqual(parts[1], { inlineData: { mimeType: 'image/jpeg', data: reference.toString('base64') } });
      assert.deepEqual(parts[2], { text: 'make it winter' });
      // No size asked: the ratio nearest the first image (640x480 → 4:3), as Google's pixels give it.
      assert.deepEqual((fake.server.received[0]?.json as { generationConfig: Record<string, unknown> }).generationConfig['imageConfig'], {
        aspectRatio: '4:3',
        imageSize: '1K',
      });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1200, 896]);
    });

    it('with a mask, keeps every pixel outside it identical to the input and takes the edit inside', async () => {
      const original = await fakePng(640, 480, 11);
      const mask = await leftMask(640, 480, 200);
      const result = await edit(await editFor({ model: FLASH_25, prompt: 'a red door on the left' }, [original], mask));
      assert.equal(fake.calls[0]?.inputImages.length, 1, "the mask is the gateway's business, not sent");
      const out = await rgb(result.images[0]?.bytes ?? Buffer.alloc(0));
      const input = await rgb(original);
      assert.deepEqual([out.width, out.height], [640, 480], "the original's size, so its pixels can be kept");
      let keptDiffer = 0;
      let editedSame = 0;
      for (let p = 0; p < 640 * 480; p += 1) {
        const i = p * 3;
        const same = out.data[i] === input.data[i] && out.data[i + 1] === input.data[i + 1] && out.data[i + 2] === input.data[i + 2];
        if (p % 640 < 200) editedSame += same ? 1 : 0;
        else keptDiffer += same ? 0 : 1;
      }
      assert.equal(keptDiffer, 0, 'no pixel outside the mask changed');
      assert.ok(editedSame < 200 * 480 * 0.05, `the masked area was redrawn (${editedSame} pixels unchanged)`);
    });

    it('treats an edited image that is no image as retryable malformed, when compositing it', async () => {
      const notAnImage = Buffer.from('this is not a picture at all').toString('base64');
      fake.server.queue({
        kind: 'status',
        status: 200,
        body: { candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: notAnImage } }] }, finishReason: 'STOP' }] },
      });
      const request = await editFor({ model: FLASH_25, prompt: 'p' }, [await fakePng(64, 64)], await leftMask(64, 64, 10));
      await expectError(edit(request), 'upstream_malformed', true);
    });

    it('makes n edits with one call each', async () => {
      const result = await edit(await editFor({ model: FLASH_25, prompt: 'p', n: 2 }, [await fakePng(64, 64)]));
      assert.equal(result.images.length, 2);
      assert.equal(fake.server.received.length, 2);
    });
  });

  it('prices each resolution tier as Google does, at every ratio', () => {
    const usd = (body: Record<string, unknown>): number => {
      const request = requestFor({ prompt: 'x', ...body });
      return priceUsd(request.model.price, request.quality, request.size, 1, null);
    };
    assert.equal(usd({ model: FLASH_25, size: '1792x1024' }), 0.039);
    assert.equal(usd({ model: PRO_3 }), 0.134);
    assert.equal(usd({ model: PRO_3, aspect_ratio: '21:9', resolution: '2K' }), 0.134);
    assert.equal(usd({ model: PRO_3, aspect_ratio: '9:16', resolution: '4K' }), 0.24);
    assert.equal(usd({ model: PRO_3, size: '4096x4096' }), 0.24, 'a 4K pixel size maps to the 4K tier');
    assert.equal(usd({ model: FLASH_31, aspect_ratio: '8:1', resolution: '512' }), 0.045);
    assert.equal(usd({ model: FLASH_31, size: '1024x1536' }), 0.067);
    assert.equal(usd({ model: FLASH_31, aspect_ratio: '3:4', resolution: '2K' }), 0.101);
    assert.equal(usd({ model: FLASH_31, aspect_ratio: '16:9', resolution: '4K' }), 0.151);
  });

  it('serves Google models only, and refuses options it does not read when the channel is built', () => {
    assert.throws(
      () => channelFor2('gemini-bad', { [FLASH_25]: FLASH_25 }, { region: 'eu' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /gemini-bad/);
        return true;
      },
    );
    assert.throws(() => channelFor2('gemini-gpt', { 'gpt-image-1': 'gpt-image-1' }), /owned by openai/);
  });
});
