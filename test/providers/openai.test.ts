import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import type { FakeServer } from '../fakes/fake-server.ts';
import { startOpenAIFake } from '../fakes/openai-fake.ts';
import { callFor, channelFor, requestFor } from '../support/channels.ts';
import { decode } from '../support/images.ts';

describe('openai provider against a fake OpenAI', () => {
  let fake: FakeServer;
  let channel: ReturnType<typeof channelFor>;
  before(async () => {
    fake = await startOpenAIFake();
    channel = channelFor({
      provider: 'openai',
      baseUrl: `${fake.url}/v1`,
      models: { 'gpt-image-1': 'gpt-image-1', 'dall-e-3': 'dall-e-3', 'dall-e-2': 'dall-e-2' },
    });
  });
  after(async () => {
    await channel.close();
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const generate = (body: Record<string, unknown>) => {
    const request = requestFor(body);
    return channel.routed.provider.generate(request, callFor(channel.routed, request));
  };

  it('sends GPT image fields and never response_format; reads images and usage', async () => {
    const result = await generate({
      model: 'gpt-image-1',
      prompt: 'a cat',
      n: 2,
      quality: 'low',
      output_format: 'webp',
      output_compression: 70,
      response_format: 'url',
    });
    const sent = fake.received[0]?.json as Record<string, unknown>;
    assert.equal(fake.received[0]?.headers['authorization'], 'Bearer sk-upstream-test');
    assert.equal(sent['response_format'], undefined);
    assert.deepEqual(
      {
        model: sent['model'],
        n: sent['n'],
        quality: sent['quality'],
        output_format: sent['output_format'],
        output_compression: sent['output_compression'],
        size: sent['size'],
      },
      { model: 'gpt-image-1', n: 2, quality: 'low', output_format: 'webp', output_compression: 70, size: '1024x1024' },
    );
    assert.equal(result.images.length, 2);
    assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).format, 'webp');
    assert.equal(result.usage?.output_tokens, 200);
  });

  it('sends dall-e fields only, asks for bytes, and keeps the revised prompt', async () => {
    const result = await generate({ model: 'dall-e-3', prompt: 'a fox', quality: 'hd', style: 'natural' });
    const sent = fake.received[0]?.json as Record<string, unknown>;
    assert.deepEqual(sent, { model: 'dall-e-3', prompt: 'a fox', n: 1, size: '1024x1024', response_format: 'b64_json', quality: 'hd', style: 'natural' });
    assert.match(result.images[0]?.revisedPrompt ?? '', /a fox/);
    await generate({ model: 'dall-e-2', prompt: 'a fox', size: '256x256' });
    assert.deepEqual(Object.keys(fake.received[1]?.json as object).sort(), ['model', 'n', 'prompt', 'response_format', 'size']);
  });

  it('downloads images when the upstream answers with URLs', async () => {
    fake.queue({ kind: 'url_answer' });
    const result = await generate({ model: 'gpt-image-1', prompt: 'a cat' });
    assert.equal((await decode(result.images[0]?.bytes ?? Buffer.alloc(0))).width, 1024);
    assert.equal(fake.received.filter((r) => r.method === 'GET').length, 1);
  });

  const expectError = async (fault: Parameters<FakeServer['queue']>[0], code: string, retryable: boolean, check?: (e: GatewayError) => void) => {
    fake.queue(fault);
    await assert.rejects(generate({ model: 'gpt-image-1', prompt: 'a cat' }), (err: unknown) => {
      assert.ok(err instanceof GatewayError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.retryable, retryable);
      check?.(err);
      return true;
    });
  };

  it('maps moderation to a 400 content_policy_violation, not retried', () => expectError({ kind: 'moderation' }, 'content_policy_violation', false));
  it('maps a refused key to a 502 configuration error that never names the key', () =>
    expectError({ kind: 'auth' }, 'upstream_configuration_error', false, (e) => {
      assert.equal(e.status, 502);
      assert.ok(!e.message.includes('sk-'));
    }));
  it('maps 429 with retry-after to a retryable rate limit', () =>
    expectError({ kind: 'rate_limit', retryAfterSeconds: 7 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 7)));
  it('reads retry-after-ms', () =>
    expectError({ kind: 'rate_limit', retryAfterMs: 1500 }, 'rate_limit_exceeded', true, (e) => assert.equal(e.retryAfterSeconds, 2)));
  it('maps 500 and 503 to retryable upstream errors', async () => {
    await expectError({ kind: 'status', status: 500 }, 'upstream_error', true);
    await expectError({ kind: 'status', status: 503 }, 'upstream_error', true);
  });
  it('treats a truncated body as retryable', () => expectError({ kind: 'truncate' }, 'upstream_error', true));
  it('treats invalid JSON as retryable', () => expectError({ kind: 'invalid_json' }, 'upstream_malformed', true));
  it('treats bad base64 as retryable', () => expectError({ kind: 'bad_base64' }, 'upstream_malformed', true));
  it('passes an upstream 400 on as a 400', () =>
    expectError(
      { kind: 'status', status: 400, body: { error: { message: 'Invalid size', type: 'invalid_request_error', param: 'size', code: null } } },
      'invalid_value',
      false,
    ));

  it('aborts the upstream call when the signal fires', async () => {
    fake.queue({ kind: 'stall' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('client left')), 100);
    await assert.rejects(
      channel.routed.provider.generate(
        requestFor({ model: 'gpt-image-1', prompt: 'x' }),
        callFor(channel.routed, { model: { id: 'gpt-image-1' } }, controller.signal),
      ),
      /client left/,
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(fake.aborted, 1, 'the upstream saw the connection go');
  });
});
