import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { type EditRequest, validateEditFields, validateEditImages } from '../../src/contract/edit.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { type ReceivedForm, type StabilityFake, type StabilityOutcome, startStabilityFake } from '../fakes/stability-fake.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

/** Catalog model → Stability's name for it, as a channel maps them. */
const MODELS = {
  'stable-image-ultra': 'ultra',
  'stable-image-core': 'core',
  'sd3.5-large': 'sd3.5-large',
  'sd3.5-large-turbo': 'sd3.5-large-turbo',
  'sd3.5-medium': 'sd3.5-medium',
};

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

/** The mask's pixels, one byte each, and whether the PNG itself has one channel. */
async function maskPixels(png: Buffer): Promise<{ data: Buffer; width: number; channels: number | undefined }> {
  const meta = await sharp(png).metadata();
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, channels: meta.channels };
}

describe('stability provider against a fake Stability API', () => {
  let fake: StabilityFake;
  const closers: Array<() => Promise<void>> = [];
  const channel = (id: string, options: Record<string, unknown> = {}, models: Record<string, string> = MODELS): RoutedChannel => {
    const built = channelFor({ id, provider: 'stability', baseUrl: fake.url, models, options });
    closers.push(built.close);
    return built.routed;
  };
  let plain: RoutedChannel;
  before(async () => {
    fake = await startStabilityFake();
    plain = channel('stability-test');
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown>, routed: RoutedChannel = plain, signal?: AbortSignal): Promise<ProviderResult> => {
    const request: GenerationRequest = requestFor({ model: 'stable-image-ultra', prompt: 'a lighthouse at dusk', ...body });
    return routed.provider.generate(request, callFor(routed, request, signal));
  };
  const edit = async (request: EditRequest, routed: RoutedChannel = plain): Promise<ProviderResult> => {
    const run = routed.provider.edit ?? assert.fail('the stability provider edits');
    return run(request, callFor(routed, request));
  };
  const form = (index = 0): ReceivedForm => fake.forms[index] ?? assert.fail(`no form ${index}`);

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
    it('posts a multipart form to /generate/ultra with the Bearer key and reads the JSON answer', async () => {
      const result = await generate({ size: '1792x1024', seed: 42, negative_prompt: 'people', output_format: 'jpeg' });
      const received = fake.server.received[0];
      assert.equal(received?.method, 'POST');
      assert.equal(received?.path, '/v2beta/stable-image/generate/ultra');
      assert.equal(received?.headers['authorization'], 'Bearer sk-upstream-test');
      assert.equal(received?.headers['accept'], 'application/json');
      assert.match(String(received?.headers['content-type']), /^multipart\/form-data; boundary=/);
      // Exactly the fields Stability takes: no n, size, model, response_format or quality.
      assert.deepEqual(Object.fromEntries(form().fields), {
        prompt: 'a lighthouse at dusk',
        aspect_ratio: '16:9',
        output_format: 'jpeg',
        negative_prompt: 'people',
        seed: '42',
      });
      assert.equal(form().files.size, 0);

      assert.equal(result.images.length, 1);
      const image = result.images[0] ?? assert.fail('no image');
      const decoded = await decode(image.bytes);
      // Stability picks the pixels for 16:9; the adapter claims no size (the media step measures).
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', 1344, 768]);
      assert.equal(result.deliveredSize, undefined);
      assert.equal(image.base64, image.bytes.toString('base64'), 'the upstream base64 is kept for b64_json answers');
      assert.equal(image.mime, 'image/jpeg');
    });

    it('maps every OpenAI size to the nearest of the nine ratios', async () => {
      const asked: Record<string, string> = {
        '1024x1024': '1:1',
        '1024x1792': '9:16',
        '1536x1024': '3:2',
        '1024x1536': '2:3',
        '2048x880': '21:9',
        '880x2048': '9:21',
        '1280x1024': '5:4',
      };
      for (const size of Object.keys(asked)) await generate({ size });
      assert.deepEqual(
        fake.forms.map((f) => f.fields.get('aspect_ratio')),
        Object.values(asked),
      );
    });

    it('sends SD 3.5 models to /sd3 with their model name, and asks PNG where /sd3 cannot write webp', async () => {
      const request = requestFor({ model: 'sd3.5-large', prompt: 'a fox', output_format: 'webp', size: '1024x1536' });
      const result = await plain.provider.generate(request, callFor(plain, request));
      assert.equal(form().path, '/v2beta/stable-image/generate/sd3');
      assert.deepEqual(Object.fromEntries(form().fields), { prompt: 'a fox', model: 'sd3.5-large', aspect_ratio: '2:3', output_format: 'png' });
      const decoded = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 832, 1216]);

      const medium = requestFor({ model: 'sd3.5-medium', prompt: 'a fox', output_format: 'jpeg' });
      await plain.provider.generate(medium, callFor(plain, medium));
      assert.equal(form(1).fields.get('model'), 'sd3.5-medium');
      assert.equal(form(1).fields.get('output_format'), 'jpeg');
    });

    it('sends Core to /core (webp as asked) and draws its 1.5 megapixels', async () => {
      const request = requestFor({ model: 'stable-image-core', prompt: 'a fox', output_format: 'webp' });
      const result = await plain.provider.generate(request, callFor(plain, request));
      assert.equal(form().path, '/v2beta/stable-image/generate/core');
      assert.equal(form().fields.get('output_format'), 'webp');
      assert.equal(form().fields.get('model'), undefined);
      const decoded = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['webp', 1280, 1280]);
    });

    it("sends the channel's style preset, and refuses an unknown one when the channel is built", async () => {
      await generate({}, channel('stability-anime', { stylePreset: 'anime' }));
      assert.equal(form().fields.get('style_preset'), 'anime');
      assert.equal(form().fields.get('seed'), undefined, 'no seed unless asked');
      assert.throws(
        () => channel('stability-bad', { stylePreset: 'watercolour' }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /\(stability-bad\)\.options\.stylePreset/);
          return true;
        },
      );
    });

    it('takes one image per call; asked for more directly, it makes one call each with seeds that differ', async () => {
      const model = catalog.get('stable-image-ultra') ?? assert.fail('no stable-image-ultra');
      assert.equal(plain.provider.maxImagesPerCall(model), 1);
      const result = await generate({ n: 3, seed: 7 });
      assert.equal(result.images.length, 3);
      assert.deepEqual(fake.forms.map((f) => f.fields.get('seed')).sort(), ['7', '8', '9']);
    });

    it('refuses an upstream model Stability does not serve, without calling it', async () => {
      const odd = channel('stability-odd', {}, { 'stable-image-ultra': 'sdxl-1.0' });
      await expectError(generate({}, odd), 'upstream_configuration_error', false, (e) => assert.match(e.message, /sdxl-1\.0/));
      assert.equal(fake.server.received.length, 0);
    });
  });

  describe('refusals and faults', () => {
    const failsWith = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate({}), code, retryable, check);
    };
    const endsWith = (outcome: StabilityOutcome, code: string, retryable: boolean) => async () => {
      fake.queueOutcomes(outcome);
      await expectError(generate({}), code, retryable);
    };

    it(
      "maps 403 content_moderation to content_policy_violation, with Stability's words",
      failsWith({ kind: 'moderation' }, 'content_policy_violation', false, (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /flagged by our content moderation system/);
      }),
    );
    it('maps a flagged prompt the same way', async () => {
      await expectError(generate({ prompt: 'something forbidden' }), 'content_policy_violation', false);
    });
    it('maps finish_reason CONTENT_FILTERED in an HTTP 200 to content_policy_violation', endsWith('content_filtered', 'content_policy_violation', false));
    it('maps an undocumented finish_reason to a retryable malformed answer', endsWith('unknown_finish', 'upstream_malformed', true));
    it('maps a SUCCESS without an image to a retryable malformed answer', endsWith('no_image', 'upstream_malformed', true));

    it(
      'maps 401 to a 502 configuration error that never names the key',
      failsWith({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes('sk-'));
      }),
    );
    it(
      'maps 402 payment_required (no credits left) to a configuration error',
      failsWith(
        { kind: 'status', status: 402, body: { id: 'e1', name: 'payment_required', errors: ['You lack sufficient credits to make this request.'] } },
        'upstream_configuration_error',
        false,
        (e) => assert.match(e.message, /credits/),
      ),
    );
    it(
      "reads a 403 that is not Stability's (a proxy's page) as a configuration error",
      failsWith({ kind: 'status', status: 403, body: '<html>Forbidden</html>' }, 'upstream_configuration_error', false),
    );
    it(
      "turns a 400 {name, errors} into a readable invalid_value with Stability's words",
      failsWith(
        { kind: 'status', status: 400, body: { id: 'e2', name: 'bad_request', errors: ['prompt: is required', 'seed: must be a number'] } },
        'invalid_value',
        false,
        (e) => assert.match(e.message, /prompt: is required; seed: must be a number \(bad_request\)/),
      ),
    );
    it(
      'maps 413 to payload_too_large',
      failsWith(
        { kind: 'status', status: 413, body: { id: 'e3', name: 'payload_too_large', errors: ['body: payloads cannot be larger than 10MiB in size'] } },
        'payload_too_large',
        false,
      ),
    );
    it(
      "maps 429 without Retry-After to a retryable rate limit with Stability's 60-second lockout",
      failsWith({ kind: 'rate_limit' }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 60)),
    );
    it(
      'maps 429 with a Retry-After to that wait',
      failsWith({ kind: 'rate_limit', retryAfterSeconds: 3 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 3)),
    );
    it('maps 500 to a retryable upstream error', failsWith({ kind: 'status', status: 500 }, 'upstream_error', true));
    it('treats a truncated answer as retryable', failsWith({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a garbled JSON answer as a retryable malformed answer', failsWith({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it('treats bad base64 as a retryable malformed answer', failsWith({ kind: 'bad_base64' }, 'upstream_malformed', true));

    it('cuts a stalled call with the signal, closing the connection (Stability has no cancel)', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, plain, AbortSignal.timeout(300)), (err: unknown) => (err as Error).name === 'TimeoutError');
      for (let i = 0; i < 50 && fake.server.aborted === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(fake.server.aborted, 1, 'the fake saw the connection go');
    });
  });

  describe('edits (Inpaint)', () => {
    const contract = { catalog, defaultModel: 'gpt-image-1', unsupportedParams: 'error' } as const;
    const editRequest = async (fields: Record<string, unknown>, image: Buffer, mask: Buffer | null): Promise<EditRequest> => {
      const params = validateEditFields({ model: 'stable-image-ultra', prompt: 'a red door', ...fields }, 'multipart', contract);
      return validateEditImages(
        params,
        [{ param: 'image', bytes: image, declaredType: 'image/png', filename: 'photo.png' }],
        mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' },
      );
    };

    it('posts image, a black-and-white mask (white where the OpenAI mask is transparent) and the fields to /edit/inpaint', async () => {
      const image = await fakePng(320, 192);
      const result = await edit(await editRequest({ seed: 5, negative_prompt: 'rust', output_format: 'webp' }, image, await transparentLeft(320, 192, 100)));
      assert.equal(form().path, '/v2beta/stable-image/edit/inpaint');
      assert.equal(fake.server.received[0]?.headers['authorization'], 'Bearer sk-upstream-test');
      assert.deepEqual(Object.fromEntries(form().fields), { prompt: 'a red door', output_format: 'webp', negative_prompt: 'rust', seed: '5' });
      const sentImage = form().files.get('image') ?? assert.fail('no image part');
      assert.equal(sentImage.contentType, 'image/png');
      assert.ok(sentImage.data.equals(image), 'the image goes as it came');

      const mask = form().files.get('mask') ?? assert.fail('no mask part');
      assert.equal(mask.contentType, 'image/png');
      const pixels = await maskPixels(mask.data);
      assert.equal(pixels.channels, 1, 'a grayscale mask');
      for (const [x, y, value] of [
        [0, 0, 255],
        [99, 191, 255],
        [100, 0, 0],
        [319, 191, 0],
      ] as const) {
        assert.equal(pixels.data[y * pixels.width + x], value, `mask at ${x},${y}`);
      }

      // Inpaint answers at the input's size.
      const decoded = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['webp', 320, 192]);
    });

    it("without a mask, inpaints where the image itself is transparent (Stability's and dall-e-2's rule)", async () => {
      await edit(await editRequest({}, await transparentLeft(256, 256, 64), null));
      const pixels = await maskPixels(form().files.get('mask')?.data ?? Buffer.alloc(0));
      assert.equal(pixels.data[0], 255);
      assert.equal(pixels.data[200], 0);
    });

    it('refuses, before any call, an edit with nothing transparent to repaint', async () => {
      await expectError(edit(await editRequest({}, await fakePng(256, 256), null)), 'invalid_value', false, (e) => assert.equal(e.param, 'mask'));
      const opaqueMask = await sharp({ create: { width: 256, height: 256, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } })
        .png()
        .toBuffer();
      await expectError(edit(await editRequest({}, await fakePng(256, 256), opaqueMask)), 'invalid_value', false, (e) => assert.equal(e.param, 'mask'));
      assert.equal(fake.server.received.length, 0);
    });

    it('maps a refused edit like a refused generation', async () => {
      fake.server.queue({ kind: 'moderation' });
      await expectError(edit(await editRequest({}, await fakePng(256, 256), await transparentLeft(256, 256, 10))), 'content_policy_violation', false);
      fake.queueOutcomes('content_filtered');
      await expectError(edit(await editRequest({}, await fakePng(256, 256), await transparentLeft(256, 256, 10))), 'content_policy_violation', false);
    });

    it('edits Ultra and Core only: the SD 3.5 rows declare no edit rules', () => {
      const editors = ['stable-image-ultra', 'stable-image-core', 'sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium'].filter(
        (id) => catalog.get(id)?.edit !== null,
      );
      assert.deepEqual(editors, ['stable-image-ultra', 'stable-image-core']);
    });
  });

  it("defaults a channel's baseUrl to https://api.stability.ai and serves only Stability's models", () => {
    const built = channelFor({ id: 'stability-default', provider: 'stability', models: { 'stable-image-core': 'core' } });
    closers.push(built.close);
    assert.equal(built.routed.channel.baseUrl, 'https://api.stability.ai');
    assert.throws(() => channel('stability-wrong', {}, { 'gpt-image-1': 'ultra' }), /Stability serves its own models/);
  });

  it('the fake answers Accept: image/* with the bytes and finish-reason/seed headers, as Stability does', async () => {
    const body = new FormData();
    body.set('prompt', 'a fox');
    const response = await fetch(`${fake.url}/v2beta/stable-image/generate/core`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-upstream-test', accept: 'image/*' },
      body,
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('finish-reason'), 'SUCCESS');
    assert.ok(response.headers.get('seed') !== null);
    assert.equal((await decode(Buffer.from(await response.arrayBuffer()))).format, 'png');
  });
});
