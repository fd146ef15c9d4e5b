import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import type { Fault, FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { callFor, catalog, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

describe('azure-openai provider against a fake Azure OpenAI', () => {
  let fake: FakeServer;
  let classic: ReturnType<typeof channelFor>;
  let v1: ReturnType<typeof channelFor>;
  // The fake tells a model by its deployment's name, so the dall-e-3 deployment is named after it.
  const deployments = { 'gpt-image-1': 'gpt-image-1-prod', 'dall-e-3': 'dall-e-3' };
  before(async () => {
    fake = await startOpenAIFake({ azure: true });
    classic = channelFor({ id: 'azure-classic', provider: 'azure-openai', baseUrl: fake.url, models: deployments });
    v1 = channelFor({ id: 'azure-v1', provider: 'azure-openai', baseUrl: fake.url, models: deployments, options: { apiVersion: 'v1' } });
  });
  after(async () => {
    await classic.close();
    await v1.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown>, channel = classic) => {
    const request = requestFor(body);
    return channel.routed.provider.generate(request, callFor(channel.routed, request));
  };

  it('calls the deployment path with api-version and api-key, and sends no model', async () => {
    const result = await generate({ model: 'gpt-image-1', prompt: 'a lighthouse', n: 2, quality: 'low', size: '1536x1024' });
    const sent = fake.received[0];
    assert.equal(sent?.path, '/openai/deployments/gpt-image-1-prod/images/generations');
    assert.equal(sent?.query.get('api-version'), '2025-04-01-preview');
    assert.equal(sent?.headers['api-key'], 'sk-upstream-test');
    assert.equal(sent?.headers['authorization'], undefined);
    const body = sent?.json as Record<string, unknown>;
    assert.equal('model' in body, false);
    assert.deepEqual({ n: body['n'], size: body['size'], quality: body['quality'] }, { n: 2, size: '1536x1024', quality: 'low' });
    assert.equal(result.images.length, 2);
    const image = await decode(result.images[0]?.bytes ?? Buffer.alloc(0));
    assert.deepEqual([image.format, image.width, image.height], ['png', 1536, 1024]);
    assert.equal(result.usage?.output_tokens, 200);
  });

  it('uses the api-version the channel names', async () => {
    const pinned = channelFor({ id: 'azure-pinned', provider: 'azure-openai', baseUrl: fake.url, models: deployments, options: { apiVersion: '2024-10-21' } });
    try {
      await generate({ model: 'dall-e-3', prompt: 'a fox' }, pinned);
      assert.equal(fake.received[0]?.path, '/openai/deployments/dall-e-3/images/generations');
      assert.equal(fake.received[0]?.query.get('api-version'), '2024-10-21');
    } finally {
      await pinned.close();
    }
  });

  it('on the v1 API, calls /openai/v1 without api-version and names the deployment in model', async () => {
    await generate({ model: 'gpt-image-1', prompt: 'a lighthouse' }, v1);
    const sent = fake.received[0];
    assert.equal(sent?.path, '/openai/v1/images/generations');
    assert.equal(sent?.query.has('api-version'), false);
    assert.equal((sent?.json as Record<string, unknown>)['model'], 'gpt-image-1-prod');
  });

  it("tolerates Azure's content_filter_results and prompt_filter_results and keeps dall-e-3's revised prompt", async () => {
    const result = await generate({ model: 'dall-e-3', prompt: 'a fox in snow' });
    // The fake adds both filter keys on every Azure answer; the adapter must read past them.
    assert.equal(result.images.length, 1);
    assert.match(result.images[0]?.revisedPrompt ?? '', /a fox in snow/);
    assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).width, 1024);
  });

  it('fans dall-e-3 out one image per call (a catalog provider limit), and lets GPT image models take their whole n', () => {
    const model = (id: string) => catalog.get(id) ?? assert.fail(id);
    assert.equal(model('dall-e-3').providerLimits['azure-openai']?.maxImagesPerCall, 1);
    assert.equal(classic.routed.provider.maxImagesPerCall(model('gpt-image-1')), model('gpt-image-1').maxN);
  });

  const expectError = async (fault: Fault, code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    fake.queue(fault);
    await assert.rejects(generate({ model: 'gpt-image-1', prompt: 'a lighthouse' }), (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.retryable, retryable);
      check?.(err);
      return true;
    });
  };

  it('maps ResponsibleAIPolicyViolation to a 400 content_policy_violation, not retried', () =>
    expectError({ kind: 'moderation' }, 'content_policy_violation', false, (e) => assert.equal(e.status, 400)));
  it('maps a refused api-key to a 502 configuration error that never names the key', () =>
    expectError({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
      assert.equal(e.status, 502);
      assert.ok(!e.message.includes('sk-'));
    }));
  it('maps 429 with retry-after-ms to a retryable rate limit with its wait', () =>
    expectError({ kind: 'rate_limit', retryAfterMs: 2500 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 3)));
  it('maps 500 to a retryable upstream error', () => expectError({ kind: 'status', status: 500 }, 'upstream_error', true));
  it('treats a truncated body as retryable', () => expectError({ kind: 'truncate' }, 'upstream_error', true));
  it('treats invalid JSON as retryable', () => expectError({ kind: 'invalid_json' }, 'upstream_malformed', true));
  it('treats bad base64 as retryable', () => expectError({ kind: 'bad_base64' }, 'upstream_malformed', true));
});
