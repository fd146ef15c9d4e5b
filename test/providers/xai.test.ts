import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigError } from '../../src/config.ts';
import { validateEditFields, validateEditImages } from '../../src/contract/edit.ts';
import type { EditRequest } from '../../src/contract/edit.ts';
import { GatewayError } from '../../src/errors.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import { xaiAspect } from '../../src/providers/xai/wire.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { fakeImage } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { startXaiFake, type XaiFake } from '../fakes/xai-fake.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

const KEY = 'xai-upstream-test';
const MODELS = {
  'grok-imagine-image': 'grok-imagine-image',
  'grok-imagine-image-quality': 'grok-imagine-image-quality',
  'grok-imagine-image-2.0': 'grok-imagine-image-2.0',
};

describe('xai provider against a fake xAI', () => {
  let fake: XaiFake;
  let routed: RoutedChannel;
  const closers: Array<() => Promise<void>> = [];
  before(async () => {
    fake = await startXaiFake({ apiKey: KEY });
    const built = channelFor({ id: 'xai-test', provider: 'xai', baseUrl: fake.baseUrl, apiKey: KEY, models: MODELS });
    closers.push(built.close);
    routed = built.routed;
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown> = {}, signal?: AbortSignal): Promise<ProviderResult> => {
    const request = requestFor({ model: 'grok-imagine-image', prompt: 'a lighthouse at dusk', ...body });
    return routed.provider.generate(request, callFor(routed, request, signal));
  };
  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, `retryable for ${err.code}`);
      check?.(err);
      return true;
    });
  };

  describe('generations', () => {
    it('posts an aspect ratio and a resolution, never size, quality or style, and reads the JPEG and its revised prompt', async () => {
      const result = await generate({ size: '1024x1024', quality: 'auto' });
      const sent = fake.server.received[0];
      assert.equal(sent?.method, 'POST');
      assert.equal(sent?.path, '/v1/images/generations');
      assert.equal(sent?.headers['authorization'], `Bearer ${KEY}`);
      assert.deepEqual(sent?.json, {
        model: 'grok-imagine-image',
        prompt: 'a lighthouse at dusk',
        n: 1,
        response_format: 'b64_json',
        aspect_ratio: '1:1',
        resolution: '1k',
      });
      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['jpeg', 1024, 1024]);
      assert.equal(result.images[0]?.revisedPrompt, 'A detailed rendering of a lighthouse at dusk');
    });

    it('maps a wide size to the nearest ratio and a 4-megapixel size to 2k, and keeps the pixels xAI drew', async () => {
      const wide = await generate({ size: '1792x1024' });
      assert.equal(fake.bodies()[0]?.['aspect_ratio'], '16:9');
      assert.equal(fake.bodies()[0]?.['resolution'], '1k');
      const image = await decode(wide.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1408, 768], 'xAI draws 16:9 at 1k as 1408x768');
      // The upstream says nothing of the size: the media step measures it.
      assert.equal(wide.deliveredSize, undefined);

      fake.reset();
      const large = await generate({ size: '2048x2048' });
      assert.equal(fake.bodies()[0]?.['resolution'], '2k');
      assert.equal((await decode(large.images[0]?.bytes ?? Buffer.alloc(0))).width, 2048);
    });

    it("sends the model's own ratio and tier as asked (aspect_ratio, resolution extensions)", async () => {
      await generate({ aspect_ratio: '9:19.5', resolution: '1K' });
      assert.equal(fake.bodies()[0]?.['aspect_ratio'], '9:19.5');
      assert.equal(fake.bodies()[0]?.['resolution'], '1k');
    });

    it('asks for n images in one call and returns them all', async () => {
      const result = await generate({ n: 3 });
      assert.equal(fake.server.received.length, 1);
      assert.equal(fake.bodies()[0]?.['n'], 3);
      assert.equal(result.images.length, 3);
      for (const image of result.images) assert.equal((await decode(image.bytes)).format, 'jpeg');
      assert.equal(routed.provider.maxImagesPerCall(catalog.get('grok-imagine-image') ?? assert.fail('no model')), 10);
    });

    it('sends quality only to grok-imagine-image-2.0, which prices by it, and forwards user', async () => {
      const request = requestFor({ model: 'grok-imagine-image-2.0', prompt: 'a fox', quality: 'low', user: 'user-42' });
      await routed.provider.generate(request, callFor(routed, request));
      assert.equal(fake.bodies()[0]?.['quality'], 'low');
      assert.equal(fake.bodies()[0]?.['user'], 'user-42');
      fake.reset();
      const plain = requestFor({ model: 'grok-imagine-image-quality', prompt: 'a fox', quality: 'standard' });
      await routed.provider.generate(plain, callFor(routed, plain));
      assert.ok(!('quality' in (fake.bodies()[0] ?? {})));
    });

    it('reads b64_json given as a data URL', async () => {
      fake.queueAnswers('data_uri');
      const result = await generate();
      assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).format, 'jpeg');
    });

    it('downloads temporary links at once when xAI answers with them', async () => {
      fake.server.queue({ kind: 'url_answer' });
      const result = await generate({ n: 2 });
      assert.equal(result.images.length, 2);
      assert.equal(fake.server.received.filter((r) => r.method === 'GET').length, 2);
      assert.equal((await decode(result.images[1]?.bytes ?? Buffer.alloc(0))).width, 1024);
    });

    it('fails with a retryable error when a link has already expired', async () => {
      fake.queueAnswers('expired_links');
      await expectError(generate(), 'upstream_error', true, (e) => assert.match(e.message, /403/));
    });
  });

  describe('refusals and faults', () => {
    it('reads an HTTP 200 with data: [] as a refusal, not an empty success', async () => {
      fake.server.queue({ kind: 'moderation' });
      await expectError(generate({ prompt: 'something forbidden' }), 'content_policy_violation', false);
    });

    it('reads an image flagged by moderation (respect_moderation: false) as a refusal', async () => {
      fake.queueAnswers('flagged');
      await expectError(generate({ n: 2 }), 'content_policy_violation', false);
    });

    it('reads a 400 that says moderation as a refusal', async () => {
      fake.server.queue({
        kind: 'status',
        status: 400,
        body: { code: 'Client specified an invalid argument', error: 'Generated image rejected by content moderation.' },
      });
      await expectError(generate(), 'content_policy_violation', false, (e) => assert.match(e.message, /content moderation/));
    });

    it('maps the 400 "Incorrect API key" to a configuration error that names no key', async () => {
      fake.server.queue({ kind: 'auth' });
      await expectError(generate(), 'upstream_configuration_error', false, (e) => {
        assert.equal(e.status, 502);
        assert.ok(!e.message.includes(KEY) && !e.message.includes('xa***'));
      });
    });

    it('maps a 403 (no credits, no permission) to a configuration error', async () => {
      fake.server.queue({ kind: 'status', status: 403, body: { code: 'The caller does not have permission', error: 'Your team has no credits left.' } });
      await expectError(generate(), 'upstream_configuration_error', false);
    });

    it('maps 429 to a retryable rate limit with its Retry-After', async () => {
      fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 7 });
      await expectError(generate(), 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7));
    });

    const faults: Array<[string, Fault, string, boolean]> = [
      ['a 500', { kind: 'status', status: 500 }, 'upstream_error', true],
      ['a 503', { kind: 'status', status: 503 }, 'upstream_error', true],
      ['a truncated body', { kind: 'truncate' }, 'upstream_error', true],
      ['a body that is not JSON', { kind: 'invalid_json' }, 'upstream_malformed', true],
      ['bad base64', { kind: 'bad_base64' }, 'upstream_malformed', true],
      [
        'a refused argument',
        { kind: 'status', status: 400, body: { code: 'Client specified an invalid argument', error: 'Argument not supported: size' } },
        'invalid_value',
        false,
      ],
      [
        'an unknown model',
        { kind: 'status', status: 404, body: { code: 'Some requested entity was not found', error: 'The model does not exist.' } },
        'upstream_configuration_error',
        false,
      ],
    ];
    for (const [what, fault, code, retryable] of faults) {
      it(`maps ${what} to ${code}${retryable ? ' (retryable)' : ''}`, async () => {
        fake.server.queue(fault);
        await expectError(generate(), code, retryable);
      });
    }

    it('reads a body shaped unlike the documented answer as malformed', async () => {
      fake.server.queue({ kind: 'status', status: 200, body: { images: ['x'] } });
      await expectError(generate(), 'upstream_malformed', true);
    });

    it('cuts a stalled call with the signal, and the upstream sees the connection go', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, AbortSignal.timeout(200)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.server.aborted === 1);
    });
  });

  describe('edits', () => {
    const editFor = async (fields: Record<string, unknown>, images: Buffer[], mask: Buffer | null = null): Promise<EditRequest> => {
      const params = validateEditFields({ model: 'grok-imagine-image', prompt: 'make it night', ...fields }, 'multipart', {
        catalog,
        defaultModel: 'grok-imagine-image',
        unsupportedParams: 'error',
      });
      const raws = images.map((bytes, i) => ({ param: `image[${i}]`, bytes, declaredType: 'image/png', filename: `${i}.png` }));
      return validateEditImages(params, raws, mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' });
    };
    const edit = async (request: EditRequest): Promise<ProviderResult> => {
      const run = routed.provider.edit ?? assert.fail('xai edits');
      return run(request, callFor(routed, request));
    };

    it('posts one image as a JSON data URI; the picture keeps its ratio', async () => {
      const source = await fakeImage(1536, 1024, 'png');
      const result = await edit(await editFor({}, [source]));
      const sent = fake.server.received[0];
      assert.equal(sent?.path, '/v1/images/edits');
      assert.match(String(sent?.headers['content-type']), /^application\/json/);
      const body = fake.bodies()[0] ?? {};
      assert.deepEqual(Object.keys(body).sort(), ['image', 'model', 'n', 'prompt', 'resolution', 'response_format']);
      const image = body['image'] as { type: string; url: string };
      assert.equal(image.type, 'image_url');
      assert.ok(image.url.startsWith('data:image/png;base64,'));
      assert.ok(Buffer.from(image.url.slice(image.url.indexOf(',') + 1), 'base64').equals(source));
      const out = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([out.width, out.height], [1296, 864], '3:2 like the input');
    });

    it('posts several images as `images`, with the aspect ratio asked', async () => {
      const a = await fakeImage(512, 512, 'png');
      const b = await fakeImage(512, 512, 'jpeg', 3);
      await edit(await editFor({ size: '1024x1792' }, [a, b]));
      const body = fake.bodies()[0] ?? {};
      assert.equal((body['images'] as unknown[]).length, 2);
      assert.ok(((body['images'] as Array<{ url: string }>)[1]?.url ?? '').startsWith('data:image/jpeg;base64,'));
      assert.equal(body['aspect_ratio'], '9:16');
      assert.ok(!('image' in body));
    });

    it('refuses a mask, which xAI cannot honour, before calling', async () => {
      const source = await fakeImage(256, 256, 'png');
      const mask = await sharp({ create: { width: 256, height: 256, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
        .png()
        .toBuffer();
      await expectError(edit(await editFor({}, [source], mask)), 'unsupported_parameter', false);
      assert.equal(fake.server.received.length, 0);
    });

    it('maps a refused edit like a refused generation', async () => {
      fake.server.queue({ kind: 'moderation' });
      await expectError(edit(await editFor({}, [await fakeImage(256, 256, 'png')])), 'content_policy_violation', false);
    });
  });

  it('serves only xAI models, refusing others when the channel is built (at boot)', () => {
    assert.throws(
      () => channelFor({ id: 'xai-bad', provider: 'xai', baseUrl: fake.baseUrl, models: { 'gpt-image-1': 'gpt-image-1' } }),
      (err: unknown) => err instanceof ConfigError && /xai-bad.*gpt-image-1.*owned by openai/.test(err.message),
    );
  });

  it('needs no baseUrl: its default is https://api.x.ai/v1', () => {
    const built = channelFor({ id: 'xai-default', provider: 'xai', models: MODELS });
    closers.push(built.close);
    assert.equal(built.routed.channel.baseUrl, 'https://api.x.ai/v1');
  });

  it('the fake refuses size as xAI does ("Argument not supported")', async () => {
    const response = await fetch(`${fake.baseUrl}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'grok-imagine-image', prompt: 'x', size: '1024x1024' }),
    });
    assert.equal(response.status, 400);
    assert.match(((await response.json()) as { error: string }).error, /Argument not supported: size/);
  });
});

describe('xai aspect mapping', () => {
  it("uses the request's own ratio and tier, or the nearest of xAI's for other size rules", () => {
    assert.deepEqual(xaiAspect(requestFor({ model: 'grok-imagine-image', prompt: 'p', size: '1024x1536' })), { ratio: '2:3', tier: '1k' });
    assert.deepEqual(xaiAspect(requestFor({ model: 'grok-imagine-image', prompt: 'p', size: '2560x1152' })), { ratio: '20:9', tier: '2k' });
    assert.deepEqual(xaiAspect(requestFor({ model: 'dall-e-3', prompt: 'p', size: '1792x1024' })), { ratio: '16:9', tier: '1k' });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
