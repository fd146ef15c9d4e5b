import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { MockAgent } from 'undici';
import { type ChannelConfig, ConfigError } from '../../src/config.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';
import { GatewayError } from '../../src/errors.ts';
import { PROVIDERS } from '../../src/providers/registry.ts';
import type { Channel, ProviderResult } from '../../src/providers/types.ts';
import { buildChannels } from '../../src/routing/build-channels.ts';
import type { RoutedChannel } from '../../src/routing/router.ts';
import { type BedrockFake, startBedrockFake } from '../fakes/bedrock-fake.ts';
import { fakePng } from '../fakes/fake-images.ts';
import type { Fault } from '../fakes/fake-server.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

const ACCESS_KEY_ID = 'AKIAFAKEBEDROCK12345';
const SECRET = 'fake-secret-access-key/0123456789abcdef';

/** Catalog model → Bedrock model id, as a channel maps them. */
const MODELS = {
  'sd3.5-large': 'stability.sd3-5-large-v1:0',
  'stable-image-ultra': 'stability.stable-image-ultra-v1:1',
  'stable-image-core': 'stability.stable-image-core-v1:1',
  'nova-canvas': 'amazon.nova-canvas-v1:0',
  'titan-image-generator-v2': 'amazon.titan-image-generator-v2:0',
};

describe('bedrock provider against a fake Bedrock Runtime', () => {
  let fake: BedrockFake;
  const closers: Array<() => Promise<void>> = [];
  const channel = (id: string, options: Record<string, unknown> = {}, extra: Partial<ChannelConfig> = {}): RoutedChannel => {
    const built = channelFor({
      id,
      provider: 'bedrock',
      baseUrl: fake.url,
      models: MODELS,
      apiKey: SECRET,
      options: { accessKeyId: ACCESS_KEY_ID, ...options },
      ...extra,
    });
    closers.push(built.close);
    return built.routed;
  };
  let plain: RoutedChannel;
  before(async () => {
    fake = await startBedrockFake({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET });
    plain = channel('bedrock-test', { region: 'eu-central-1' });
  });
  after(async () => {
    await Promise.all(closers.map((close) => close()));
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown>, routed: RoutedChannel = plain, signal?: AbortSignal): Promise<ProviderResult> => {
    const request: GenerationRequest = requestFor({ model: 'sd3.5-large', prompt: 'a lighthouse at dusk', ...body });
    return routed.provider.generate(request, callFor(routed, request, signal));
  };
  const expectError = async (run: Promise<unknown>, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    await assert.rejects(run, (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code, err.message);
      assert.equal(err.retryable, retryable, err.message);
      check?.(err);
      return true;
    });
  };

  describe('Stability models', () => {
    it('invokes /model/{id}/invoke with a verified SigV4 signature for the channel region and the documented body', async () => {
      const result = await generate({ size: '1792x1024', seed: 42, negative_prompt: 'people', output_format: 'jpeg' });
      const received = fake.server.received[0] ?? assert.fail('no request');
      assert.equal(received.method, 'POST');
      assert.equal(received.path, '/model/stability.sd3-5-large-v1%3A0/invoke');
      assert.match(
        String(received.headers['authorization']),
        /^AWS4-HMAC-SHA256 Credential=AKIAFAKEBEDROCK12345\/\d{8}\/eu-central-1\/bedrock\/aws4_request, /,
      );
      assert.match(String(received.headers['x-amz-date']), /^\d{8}T\d{6}Z$/);
      assert.equal(received.headers['amz-sdk-request'], 'attempt=1; max=1', 'the SDK does not retry inside an attempt');
      const call = fake.invocation();
      assert.equal(call.modelId, 'stability.sd3-5-large-v1:0');
      assert.deepEqual(call.signedBy.signedHeaders.includes('x-amz-date'), true);
      assert.equal(call.signedBy.sessionToken, undefined);
      // Exactly the fields Bedrock's SD3.5 Large takes: no n, size, width, model or quality.
      assert.deepEqual(call.body, {
        prompt: 'a lighthouse at dusk',
        mode: 'text-to-image',
        aspect_ratio: '16:9',
        output_format: 'jpeg',
        seed: 42,
        negative_prompt: 'people',
      });

      assert.equal(result.images.length, 1);
      const image = result.images[0] ?? assert.fail('no image');
      const decoded = await decode(image.bytes);
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['jpeg', 1344, 768]);
      assert.equal(image.base64, image.bytes.toString('base64'));
      assert.equal(result.deliveredSize, undefined, 'Stability picks the pixels; the media step measures them');
    });

    it('sends Ultra and Core no mode, asks PNG for webp (Bedrock writes jpeg or png) and sends no seed unless asked', async () => {
      const ultra = requestFor({ model: 'stable-image-ultra', prompt: 'a fox', output_format: 'webp', size: '1024x1536' });
      const result = await plain.provider.generate(ultra, callFor(plain, ultra));
      assert.equal(fake.invocation().modelId, 'stability.stable-image-ultra-v1:1');
      assert.deepEqual(fake.invocation().body, { prompt: 'a fox', aspect_ratio: '2:3', output_format: 'png' });
      const decoded = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 832, 1216]);

      const core = requestFor({ model: 'stable-image-core', prompt: 'a fox' });
      await plain.provider.generate(core, callFor(plain, core));
      assert.equal(fake.invocation(1).modelId, 'stability.stable-image-core-v1:1');
      assert.equal(fake.invocation(1).body['mode'], undefined);
    });

    it('makes one image per call; asked for more directly, one call each with seeds that differ', async () => {
      const model = catalog.get('sd3.5-large') ?? assert.fail('no sd3.5-large');
      assert.equal(plain.provider.maxImagesPerCall(model), 1);
      const result = await generate({ n: 3, seed: 7 });
      assert.equal(result.images.length, 3);
      assert.deepEqual(fake.invocations.map((i) => i.body['seed']).sort(), [7, 8, 9]);
    });

    it('maps finish_reasons "Filter reason: prompt" in an HTTP 200 to content_policy_violation', async () => {
      await expectError(generate({ prompt: 'something forbidden' }), 'content_policy_violation', false, (e) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /Filter reason: prompt/);
      });
    });
    it('never delivers an image whose finish reason is "Filter reason: output image"', async () => {
      fake.queueOutcomes('filter_output');
      await expectError(generate({}), 'content_policy_violation', false, (e) => assert.match(e.message, /output image/));
    });
    it('maps "Inference error" to a retryable upstream error', async () => {
      fake.queueOutcomes('inference_error');
      await expectError(generate({}), 'upstream_error', true);
    });
  });

  describe('Amazon models (Nova Canvas, Titan)', () => {
    const nova = (body: Record<string, unknown>, routed: RoutedChannel = plain) => generate({ model: 'nova-canvas', ...body }, routed);

    it('sends a TEXT_IMAGE task with numberOfImages = n, the size in pixels and the quality, and reads {images, error}', async () => {
      const result = await nova({ n: 3, size: '1792x1024', quality: 'premium', seed: 900_000_000, negative_prompt: 'fog' });
      assert.equal(fake.server.received.length, 1, 'one call for three images');
      assert.equal(fake.server.received[0]?.path, '/model/amazon.nova-canvas-v1%3A0/invoke');
      assert.deepEqual(fake.invocation().body, {
        taskType: 'TEXT_IMAGE',
        textToImageParams: { text: 'a lighthouse at dusk', negativeText: 'fog' },
        // Nova's seeds stop at 858,993,459: a larger one wraps.
        imageGenerationConfig: { width: 1792, height: 1024, quality: 'premium', numberOfImages: 3, seed: 900_000_000 % 858_993_460 },
      });
      assert.equal(result.images.length, 3);
      for (const image of result.images) {
        const decoded = await decode(image.bytes);
        assert.deepEqual([decoded.format, decoded.width, decoded.height], ['png', 1792, 1024]);
      }
      assert.equal(result.deliveredSize, undefined, 'the size asked is the size drawn');
      const model = catalog.get('nova-canvas') ?? assert.fail('no nova-canvas');
      assert.equal(plain.provider.maxImagesPerCall(model), 5);
    });

    it('raises a short edge below 320 px and reports the delivered size', async () => {
      const result = await nova({ size: '1024x256' });
      const config = fake.invocation().body['imageGenerationConfig'];
      assert.deepEqual(config, { width: 1280, height: 320, quality: 'standard', numberOfImages: 1 });
      assert.deepEqual(result.deliveredSize, { width: 1280, height: 320 });
      const decoded = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.width, decoded.height], [1280, 320]);
    });

    it("sends the channel's cfgScale, and refuses a bad option when the channel is built", async () => {
      await nova({}, channel('bedrock-cfg', { cfgScale: 4.5 }));
      assert.equal((fake.invocation().body['imageGenerationConfig'] as Record<string, unknown>)['cfgScale'], 4.5);
      assert.throws(
        () => channel('bedrock-bad', { cfgScale: 50 }),
        (err: unknown) => err instanceof ConfigError && /\(bedrock-bad\)\.options\.cfgScale/.test(err.message),
      );
      assert.throws(() => channel('bedrock-bad-region', { region: 'Frankfurt' }), /options\.region/);
    });

    it('sends Titan its listed size for an OpenAI size', async () => {
      const result = await generate({ model: 'titan-image-generator-v2', size: '1536x1024', n: 2 });
      assert.equal(fake.invocation().modelId, 'amazon.titan-image-generator-v2:0');
      assert.deepEqual(fake.invocation().body['imageGenerationConfig'], { width: 1152, height: 768, quality: 'standard', numberOfImages: 2 });
      assert.equal(result.images.length, 2);
      const decoded = await decode(result.images[1]?.bytes ?? Buffer.alloc(0));
      assert.deepEqual([decoded.width, decoded.height], [1152, 768]);
    });

    it('maps the content filter ValidationException to content_policy_violation', async () => {
      await expectError(nova({ prompt: 'something forbidden' }), 'content_policy_violation', false, (e) =>
        assert.match(e.message, /blocked by our content filters/),
      );
      fake.queueOutcomes('output_blocked');
      await expectError(nova({}), 'content_policy_violation', false, (e) => assert.match(e.message, /generated image has been blocked/));
    });
    it('maps an HTTP 200 whose error says images were removed to content_policy_violation', async () => {
      fake.queueOutcomes('inband_error');
      await expectError(nova({ n: 2 }), 'content_policy_violation', false);
    });
    it('treats fewer images than asked, with no error, as a retryable malformed answer', async () => {
      fake.queueOutcomes('fewer_images');
      await expectError(nova({ n: 2 }), 'upstream_malformed', true);
    });
  });

  describe('errors and faults', () => {
    const failsWith = (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => async () => {
      fake.server.queue(fault);
      await expectError(generate({}), code, retryable, check);
    };
    const bedrockError = (status: number, type: string, message: string): Fault => ({
      kind: 'status',
      status,
      body: { message },
      headers: { 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
    });

    it(
      'maps AccessDeniedException to a 502 configuration error',
      failsWith({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => assert.equal(e.status, 502)),
    );
    it('maps a signature the service refuses (wrong secret) to a configuration error', async () => {
      const wrong = channel('bedrock-wrong-secret', {}, { apiKey: 'not-the-secret' });
      await expectError(generate({}, wrong), 'upstream_configuration_error', false);
    });
    it('maps ThrottlingException to a retryable rate limit, with its Retry-After when it sends one', async () => {
      await failsWith({ kind: 'rate_limit' }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, undefined))();
      await failsWith({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7))();
    });
    it('maps ServiceUnavailableException to a retryable upstream error', failsWith({ kind: 'status', status: 503 }, 'upstream_error', true));
    it('maps InternalServerException to a retryable upstream error', failsWith({ kind: 'status', status: 500 }, 'upstream_error', true));
    it(
      'maps ModelNotReadyException (429) to a retryable upstream error, not a rate limit',
      failsWith(bedrockError(429, 'ModelNotReadyException', 'Model is not ready for inference.'), 'upstream_error', true),
    );
    it(
      'maps ModelTimeoutException to a retryable upstream error',
      failsWith(bedrockError(408, 'ModelTimeoutException', 'Model has timed out.'), 'upstream_error', true),
    );
    it(
      'maps ResourceNotFoundException to a configuration error',
      failsWith(bedrockError(404, 'ResourceNotFoundException', 'Could not resolve the foundation model.'), 'upstream_configuration_error', false),
    );
    it(
      "maps any other ValidationException to invalid_value with Bedrock's words",
      failsWith(bedrockError(400, 'ValidationException', 'Malformed input request: #/seed: expected type: Integer'), 'invalid_value', false, (e) =>
        assert.match(e.message, /expected type: Integer/),
      ),
    );
    it('treats a truncated answer as retryable', failsWith({ kind: 'truncate' }, 'upstream_error', true));
    it('treats a garbled JSON answer as a retryable malformed answer', failsWith({ kind: 'invalid_json' }, 'upstream_malformed', true));
    it('treats bad base64 as a retryable malformed answer', failsWith({ kind: 'bad_base64' }, 'upstream_malformed', true));
    it(
      'treats an answer of the wrong shape as a retryable malformed answer',
      failsWith({ kind: 'status', status: 200, body: { images: 'nope' } }, 'upstream_malformed', true),
    );

    it('cancels the SDK request when the signal aborts: the fake sees the connection go', async () => {
      fake.server.queue({ kind: 'stall' });
      const controller = new AbortController();
      const run = generate({}, plain, controller.signal);
      for (let i = 0; i < 100 && fake.server.received.length === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      controller.abort(new Error('client gone'));
      await assert.rejects(run, (err: unknown) => err instanceof Error && err.message === 'client gone');
      for (let i = 0; i < 100 && fake.server.aborted === 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(fake.server.aborted, 1, 'the fake saw the connection go');
    });
  });

  describe('credentials and endpoints', () => {
    it('sends the session token of temporary credentials', async () => {
      await generate({}, channel('bedrock-session', { sessionToken: 'FQoGZXIvYXdzEXAMPLETOKEN' }));
      assert.equal(fake.invocation().signedBy.sessionToken, 'FQoGZXIvYXdzEXAMPLETOKEN');
      assert.ok(fake.invocation().signedBy.signedHeaders.includes('x-amz-security-token'));
      assert.throws(() => channel('bedrock-token-alone', { accessKeyId: undefined, sessionToken: 'x' }), /sessionToken needs accessKeyId/);
    });

    it('signs for us-east-1 when neither the option nor the base URL names a region', async () => {
      await generate({}, channel('bedrock-no-region'));
      assert.equal(fake.invocation().signedBy.region, 'us-east-1');
    });

    it('refuses an apiKey without accessKeyId instead of signing with other credentials', async () => {
      const odd = channel('bedrock-key-alone', { accessKeyId: undefined });
      await expectError(generate({}, odd), 'upstream_configuration_error', false, (e) => assert.match(e.message, /accessKeyId/));
      assert.equal(fake.server.received.length, 0);
    });

    it('uses the AWS default credential chain (here the environment) when the channel names no key', async () => {
      const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'], token: process.env['AWS_SESSION_TOKEN'] };
      process.env['AWS_ACCESS_KEY_ID'] = ACCESS_KEY_ID;
      process.env['AWS_SECRET_ACCESS_KEY'] = SECRET;
      delete process.env['AWS_SESSION_TOKEN'];
      try {
        const config: ChannelConfig = {
          id: 'bedrock-chain',
          provider: 'bedrock',
          baseUrl: fake.url,
          models: MODELS,
          priority: 0,
          weight: 1,
          timeoutMs: 10_000,
          maxConcurrency: 4,
          local: true,
          options: {},
        };
        const built = buildChannels([config], PROVIDERS, catalog, { maxDownloadBytes: 1024 * 1024, downloadTimeoutMs: 5000 });
        closers.push(built.close);
        const routed = built.channels[0] ?? assert.fail('no channel');
        await generate({}, routed);
        assert.equal(fake.invocation().signedBy.accessKeyId, ACCESS_KEY_ID);
      } finally {
        for (const [name, value] of [
          ['AWS_ACCESS_KEY_ID', saved.id],
          ['AWS_SECRET_ACCESS_KEY', saved.secret],
          ['AWS_SESSION_TOKEN', saved.token],
        ] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    });

    it("without a baseUrl, goes to the SDK's regional endpoint for options.region over the channel's pool", async () => {
      const built = channelFor({
        id: 'bedrock-default',
        provider: 'bedrock',
        models: MODELS,
        apiKey: SECRET,
        options: { accessKeyId: ACCESS_KEY_ID, region: 'eu-west-3' },
      });
      closers.push(built.close);
      assert.equal(built.routed.channel.baseUrl, 'https://bedrock-runtime.us-east-1.amazonaws.com');
      // The channel's dispatcher, swapped for a mock: nothing leaves the machine.
      const agent = new MockAgent();
      agent.disableNetConnect();
      let seenPath = '';
      agent
        .get('https://bedrock-runtime.eu-west-3.amazonaws.com')
        .intercept({ path: (path) => ((seenPath = path), true), method: 'POST' })
        .reply(200, { seeds: [1], finish_reasons: [null], images: [(await fakePng(64, 64)).toString('base64')] });
      const original = built.routed.channel;
      const mocked: Channel = { ...original, http: { ...original.http, dispatcher: agent } };
      const request = requestFor({ model: 'stable-image-core', prompt: 'a fox' });
      const result = await built.routed.provider.generate(request, { ...callFor(built.routed, request), channel: mocked });
      assert.equal(result.images.length, 1);
      assert.equal(seenPath, '/model/stability.stable-image-core-v1%3A1/invoke');
      await agent.close();
    });

    it('takes the region from a regional base URL (a VPC endpoint) when no option names one', async () => {
      const agent = new MockAgent();
      agent.disableNetConnect();
      let authorization = '';
      const vpce = 'https://vpce-0abc123-xyz.bedrock-runtime.ap-northeast-1.vpce.amazonaws.com';
      agent
        .get(vpce)
        .intercept({
          path: '/model/amazon.nova-canvas-v1%3A0/invoke',
          method: 'POST',
          headers: (headers) => ((authorization = String(headers['authorization'] ?? '')), true),
        })
        .reply(200, { images: [(await fakePng(1024, 1024)).toString('base64')], error: null });
      const built = channelFor({
        id: 'bedrock-vpce',
        provider: 'bedrock',
        baseUrl: vpce,
        models: MODELS,
        apiKey: SECRET,
        options: { accessKeyId: ACCESS_KEY_ID },
      });
      closers.push(built.close);
      const mocked: Channel = { ...built.routed.channel, http: { ...built.routed.channel.http, dispatcher: agent } };
      const request = requestFor({ model: 'nova-canvas', prompt: 'a fox' });
      await built.routed.provider.generate(request, { ...callFor(built.routed, request), channel: mocked });
      assert.match(authorization, /\/ap-northeast-1\/bedrock\/aws4_request/);
      await agent.close();
    });

    it("serves Stability's and Amazon's models only", () => {
      assert.throws(() => channel('bedrock-wrong', {}, { models: { 'gpt-image-1': 'openai.gpt' } }), /Bedrock serves Stability and Amazon image models/);
    });
  });
});
