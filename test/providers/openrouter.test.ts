import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { buildCatalog, MODELS } from '../../src/catalog/index.ts';
import { ConfigError, type ChannelConfig } from '../../src/config.ts';
import { type EditRequest, validateEditFields, validateEditImages } from '../../src/contract/edit.ts';
import { validateGeneration } from '../../src/contract/generation.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import { imageConfig } from '../../src/providers/openrouter/wire.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import type { ProviderResult } from '../../src/providers/types.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { fakeImage } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { GEMINI_TEST_MODELS, type OpenRouterFake, startOpenRouterFake } from '../fakes/openrouter-fake.ts';
import { callFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

const KEY = 'sk-or-v1-upstream-test';
const catalog = buildCatalog(MODELS, { models: GEMINI_TEST_MODELS, aliases: {}, prices: {} });
const contract = { catalog, defaultModel: 'gemini-2.5-flash-image', unsupportedParams: 'error' } as const;
const requestFor = (body: Record<string, unknown>): GenerationRequest => validateGeneration({ model: 'gemini-2.5-flash-image', ...body }, contract);

/** A channel built the way the gateway builds it, on this test's catalog. */
function channelFor(config: Partial<ChannelConfig> & Pick<ChannelConfig, 'models'>): { routed: RoutedChannel; close: () => Promise<void> } {
  const full: ChannelConfig = {
    id: 'openrouter-test',
    provider: 'openrouter',
    priority: 0,
    weight: 1,
    timeoutMs: 10_000,
    maxConcurrency: 8,
    local: true,
    options: {},
    apiKey: KEY,
    ...config,
  };
  const built = buildChannels([full], PROVIDERS, catalog, { maxDownloadBytes: 20 * 1024 * 1024, downloadTimeoutMs: 5000 });
  return { routed: built.channels[0] ?? assert.fail('no channel'), close: built.close };
}

describe('openrouter provider against a fake OpenRouter', () => {
  let fake: OpenRouterFake;
  let routed: RoutedChannel;
  const closers: Array<() => Promise<void>> = [];
  const channel = (config: Partial<ChannelConfig> & Pick<ChannelConfig, 'models'>): RoutedChannel => {
    const built = channelFor({ baseUrl: fake.baseUrl, ...config });
    closers.push(built.close);
    return built.routed;
  };
  before(async () => {
    fake = await startOpenRouterFake({ apiKey: KEY });
    routed = channel({
      models: {
        'gemini-2.5-flash-image': 'google/gemini-2.5-flash-image',
        'gemini-3-pro-image-preview': 'google/gemini-3-pro-image-preview',
        'gpt-image-1': 'openai/gpt-5-image',
        'grok-imagine-image': 'x-ai/grok-imagine-image',
      },
    });
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown> = {}, on: RoutedChannel = routed, signal?: AbortSignal): Promise<ProviderResult> => {
    const request = requestFor({ prompt: 'a red kite over the sea', ...body });
    return on.provider.generate(request, callFor(on, request, signal));
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
    it('asks chat completions for an image with the aspect ratio, and decodes the data URL', async () => {
      const result = await generate({ size: '1024x1024' });
      const sent = fake.server.received[0];
      assert.equal(sent?.method, 'POST');
      assert.equal(sent?.path, '/api/v1/chat/completions');
      assert.equal(sent?.headers['authorization'], `Bearer ${KEY}`);
      assert.equal(sent?.headers['http-referer'], undefined);
      assert.equal(sent?.headers['x-title'], undefined);
      assert.deepEqual(sent?.json, {
        model: 'google/gemini-2.5-flash-image',
        messages: [{ role: 'user', content: 'a red kite over the sea' }],
        modalities: ['image', 'text'],
        stream: false,
        image_config: { aspect_ratio: '1:1' },
      });
      assert.equal(result.images.length, 1);
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.format, image.width, image.height], ['png', 1024, 1024]);
      assert.equal(result.images[0]?.mime, 'image/png');
    });

    it('sends a wide request as 16:9 and keeps the pixels Gemini drew', async () => {
      const result = await generate({ size: '1792x1024' });
      assert.deepEqual(fake.bodies()[0]?.['image_config'], { aspect_ratio: '16:9' });
      const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([image.width, image.height], [1344, 768]);
    });

    it('names image_size only for a model with tiers, and the nearest ratio for a model without an aspect rule', async () => {
      await generate({ model: 'gemini-3-pro-image-preview', aspect_ratio: '21:9', resolution: '2K' });
      assert.deepEqual(fake.bodies()[0]?.['image_config'], { aspect_ratio: '21:9', image_size: '2K' });
      assert.deepEqual(imageConfig(requestFor({ model: 'gpt-image-1', prompt: 'p', size: '1536x1024' })), { aspect_ratio: '3:2' });
      assert.deepEqual(imageConfig(requestFor({ model: 'gpt-image-1', prompt: 'p', size: '1024x1536' })), { aspect_ratio: '2:3' });
    });

    it('forwards seed and user, and the attribution headers the channel sets', async () => {
      const attributed = channel({
        id: 'or-attributed',
        models: { 'gemini-2.5-flash-image': 'google/gemini-2.5-flash-image' },
        options: { referer: 'https://images.example.com', title: 'Example Images', imageConfig: 'false' },
      });
      await generate({ seed: 42, user: 'user-7' }, attributed);
      const sent = fake.server.received[0];
      assert.equal(sent?.headers['http-referer'], 'https://images.example.com');
      assert.equal(sent?.headers['x-title'], 'Example Images');
      const body = fake.bodies()[0] ?? {};
      assert.equal(body['seed'], 42);
      assert.equal(body['user'], 'user-7');
      assert.ok(!('image_config' in body), 'imageConfig: false sends none');
    });

    it('takes one image per call, and only the first when a model draws more', async () => {
      const model = catalog.get('gemini-2.5-flash-image') ?? assert.fail('no model');
      assert.equal(routed.provider.maxImagesPerCall(model), 1);
      fake.queueAnswers('two_images');
      const result = await generate();
      assert.equal(result.images.length, 1);
    });

    it('downloads a picture given as an https link', async () => {
      fake.queueAnswers('link');
      const result = await generate();
      assert.equal(fake.server.received.filter((r) => r.method === 'GET').length, 1);
      assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).width, 1024);
    });

    it('serves any catalog model (an aggregator) and refuses an option it cannot read at boot', () => {
      assert.equal(PROVIDERS.get('openrouter')?.serves(catalog.get('grok-imagine-image') ?? assert.fail('no model')), true);
      assert.throws(
        () => channel({ id: 'or-bad', models: { 'gpt-image-1': 'openai/gpt-5-image' }, options: { modalities: ['text'] } }),
        (err: unknown) => err instanceof ConfigError && /or-bad.*options\.modalities/.test(err.message),
      );
    });

    it('needs no baseUrl: its default is https://openrouter.ai/api/v1', () => {
      const built = channelFor({ id: 'or-default', baseUrl: undefined, models: { 'gpt-image-1': 'openai/gpt-5-image' } });
      closers.push(built.close);
      assert.equal(built.routed.channel.baseUrl, 'https://openrouter.ai/api/v1');
    });
  });

  describe('refusals and faults', () => {
    it('reads finish_reason "content_filter" in an HTTP 200 as a refusal', async () => {
      fake.queueAnswers('content_filter');
      await expectError(generate(), 'content_policy_violation', false);
    });

    it("reads Gemini's IMAGE_SAFETY (native_finish_reason) without an image as a refusal", async () => {
      fake.queueAnswers('image_safety');
      await expectError(generate(), 'content_policy_violation', false, (e) => assert.match(e.message, /IMAGE_SAFETY/));
    });

    it('reads the 403 moderation error with its reasons as a refusal', async () => {
      fake.server.queue({ kind: 'moderation' });
      await expectError(generate({ prompt: 'something violent' }), 'content_policy_violation', false, (e) => assert.match(e.message, /violence\/graphic/));
    });

    it('maps 402 (no credits) to a configuration error, not a client error', async () => {
      fake.server.queue({
        kind: 'status',
        status: 402,
        body: {
          error: { code: 402, message: 'Insufficient credits. Add more using https://openrouter.ai/credits', metadata: { limit_source: 'openrouter_credits' } },
        },
      });
      await expectError(generate(), 'upstream_configuration_error', false, (e) => assert.equal(e.status, 502));
    });

    it('maps 401 to a configuration error that names no key', async () => {
      fake.server.queue({ kind: 'auth' });
      await expectError(generate(), 'upstream_configuration_error', false, (e) => assert.ok(!e.message.includes(KEY)));
    });

    it('maps 429 to a retryable rate limit with its Retry-After', async () => {
      fake.server.queue({ kind: 'rate_limit', retryAfterSeconds: 9 });
      await expectError(generate(), 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 9));
    });

    it('reads an error inside an HTTP 200 by its code (a provider failure is retryable)', async () => {
      fake.queueAnswers('provider_error');
      await expectError(generate(), 'upstream_error', true);
    });

    it('treats a text-only answer with no stated reason as a retryable fault', async () => {
      fake.queueAnswers('text_only');
      await expectError(generate(), 'upstream_malformed', true, (e) => assert.match(e.message, /calm sea/));
    });

    const faults: Array<[string, Fault, string, boolean]> = [
      ['a 502 (model down)', { kind: 'status', status: 502 }, 'upstream_error', true],
      ['a 503 (no provider available)', { kind: 'status', status: 503 }, 'upstream_error', true],
      ['a 408 (timed out)', { kind: 'status', status: 408 }, 'upstream_error', true],
      ['a 400 (bad request)', { kind: 'status', status: 400, body: { error: { code: 400, message: 'Invalid aspect ratio' } } }, 'invalid_value', false],
      ['a truncated body', { kind: 'truncate' }, 'upstream_error', true],
      ['a body that is not JSON', { kind: 'invalid_json' }, 'upstream_malformed', true],
      ['a data URL that is not base64', { kind: 'bad_base64' }, 'upstream_malformed', true],
    ];
    for (const [what, fault, code, retryable] of faults) {
      it(`maps ${what} to ${code}${retryable ? ' (retryable)' : ''}`, async () => {
        fake.server.queue(fault);
        await expectError(generate(), code, retryable);
      });
    }

    it('cuts a stalled call with the signal, and the upstream sees the connection go', async () => {
      fake.server.queue({ kind: 'stall' });
      await assert.rejects(generate({}, routed, AbortSignal.timeout(200)), (err: unknown) => (err as Error).name === 'TimeoutError');
      await waitUntil(() => fake.server.aborted === 1);
    });
  });

  describe('edits', () => {
    const editFor = async (images: Buffer[], mask: Buffer | null = null): Promise<EditRequest> => {
      const params = validateEditFields({ model: 'gemini-2.5-flash-image', prompt: 'make it night' }, 'multipart', contract);
      const raws = images.map((bytes, i) => ({ param: `image[${i}]`, bytes, declaredType: 'image/png', filename: `${i}.png` }));
      return validateEditImages(params, raws, mask === null ? null : { param: 'mask', bytes: mask, declaredType: 'image/png', filename: 'mask.png' });
    };
    const edit = (request: EditRequest): Promise<ProviderResult> =>
      (routed.provider.edit ?? assert.fail('openrouter edits'))(request, callFor(routed, request));

    it('shows the model the images as data URLs after the prompt', async () => {
      const a = await fakeImage(512, 512, 'png');
      const b = await fakeImage(512, 512, 'webp', 2);
      const result = await edit(await editFor([a, b]));
      const content = (fake.bodies()[0]?.['messages'] as Array<{ content: Array<Record<string, unknown>> }>)[0]?.content ?? [];
      assert.deepEqual(content[0], { type: 'text', text: 'make it night' });
      assert.equal(content.length, 3);
      const second = (content[2]?.['image_url'] as { url: string }).url;
      assert.ok(second.startsWith('data:image/webp;base64,'));
      assert.ok(Buffer.from(second.slice(second.indexOf(',') + 1), 'base64').equals(b));
      assert.equal(result.images.length, 1);
    });

    it('refuses a mask before calling', async () => {
      const mask = await sharp({ create: { width: 512, height: 512, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
        .png()
        .toBuffer();
      await expectError(edit(await editFor([await fakeImage(512, 512, 'png')], mask)), 'unsupported_parameter', false);
      assert.equal(fake.server.received.length, 0);
    });
  });

  it('the fake refuses images-API fields such as n and size', async () => {
    const response = await fetch(`${fake.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'google/gemini-2.5-flash-image', messages: [{ role: 'user', content: 'x' }], modalities: ['image', 'text'], n: 2 }),
    });
    assert.equal(response.status, 400);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
