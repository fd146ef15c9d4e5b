import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { channelSecrets, scrubGatewayError, scrubSecrets } from '../../src/providers/shared/scrub-secrets.ts';
import { z } from 'zod';
import { registerProvider } from '../../src/providers/register.ts';
import type { Channel, ProviderResult } from '../../src/providers/types.ts';
import { Router, type RoutingSettings } from '../../src/routing/router.ts';
import { requestFor } from '../support/requests.ts';
import { BodyReads } from '../../src/http/body-reads.ts';

describe('scrubSecrets', () => {
  for (const [text, leaked] of [
    ['Received Authorization: Bearer abc.def-123', 'abc.def-123'],
    ['authorization: Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA=='],
    ['Incorrect API key provided: sk-proj-AbCdEf0123456789xyz', 'sk-proj-AbCdEf0123456789xyz'],
    ['our own key sk-ig-q2Lk1ZpZ8l6y_0P3nq-abcdEFGH was refused', 'sk-ig-q2Lk1ZpZ8l6y_0P3nq-abcdEFGH'],
    ['API key not valid: AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW', 'AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW'],
    ['The AWS Access Key Id AKIAIOSFODNN7EXAMPLE does not exist', 'AKIAIOSFODNN7EXAMPLE'],
    ['GET /v1/models?key=0123456789abcdef0123 failed', '0123456789abcdef0123'],
    ['header api-key: 9f86d081884c7d659a2feaa0c55ad015 refused', '9f86d081884c7d659a2feaa0c55ad015'],
    ['bad token=dGhpcyBpcyBhIHRva2VuIHZhbHVlIQ==', 'dGhpcyBpcyBhIHRva2VuIHZhbHVlIQ=='],
    ['{"api_key": "b64Secret0123456789"}', 'b64Secret0123456789'],
    ['replicate says r8_AbCdEfGhIjKlMnOpQrStUvWx is unknown', 'r8_AbCdEfGhIjKlMnOpQrStUvWx'],
    ['proxy https://admin:hunter2@proxy.internal:3128 refused', 'hunter2'],
    ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
  ] as const) {
    it(`removes ${leaked.slice(0, 12)}… from "${text.slice(0, 30)}…"`, () => {
      const scrubbed = scrubSecrets(text);
      assert.ok(!scrubbed.includes(leaked), scrubbed);
      assert.match(scrubbed, /\[redacted\]/);
    });
  }

  it('keeps ordinary upstream messages readable', () => {
    for (const text of [
      "Unknown parameter: 'response_format'.",
      "Missing required key: 'prompt'.",
      'Your request was rejected by the safety system.',
      'Rate limit reached for images per minute.',
      'The token limit was exceeded.',
      'Invalid size 1536x1536; use 1024x1024.',
    ]) {
      assert.equal(scrubSecrets(text), text);
    }
  });

  it("removes a channel's own secrets exactly, whatever their shape, also URL-encoded or JSON-escaped", () => {
    const secret = 'plain/secret+value"here';
    const text = `echo ${secret} ${encodeURIComponent(secret)} ${JSON.stringify(secret)}`;
    const scrubbed = scrubSecrets(text, [secret]);
    assert.ok(!scrubbed.includes('plain/secret'), scrubbed);
    assert.ok(!scrubbed.includes('plain%2Fsecret'), scrubbed);
  });

  it('finds the secrets a channel holds: key, URL credentials, secret-named options', () => {
    const secrets = channelSecrets({
      apiKey: 'k-123456',
      baseUrl: 'https://user:p%40ss@up.example/v1',
      options: { organization: 'org-1', accessToken: 'tok-999999', apiVersion: '2025-04-01' },
    });
    assert.deepEqual(secrets, ['k-123456', 'user', 'p%40ss', 'p@ss', 'tok-999999']);
  });
});

describe('scrubGatewayError', () => {
  it('keeps code, param, retryability and Retry-After; scrubs message, stack and causes', () => {
    const cause = new Error('body: {"error":"Received Authorization: Bearer chan-key-1234"}', { cause: 'inner chan-key-1234' });
    const original = new GatewayError('rate_limit_exceeded', 'slow down, chan-key-1234', { param: 'prompt', retryable: true, retryAfterSeconds: 7, cause });
    const scrubbed = scrubGatewayError(original, ['chan-key-1234']);
    assert.deepEqual([scrubbed.code, scrubbed.param, scrubbed.retryable, scrubbed.retryAfterSeconds], ['rate_limit_exceeded', 'prompt', true, 7]);
    assert.equal(scrubbed.message, 'slow down, [redacted]');
    assert.ok(!(scrubbed.stack ?? '').includes('chan-key'));
    const scrubbedCause = scrubbed.cause;
    assert.ok(scrubbedCause instanceof Error);
    assert.ok(!scrubbedCause.message.includes('chan-key'), scrubbedCause.message);
    assert.equal(scrubbedCause.cause, 'inner [redacted]');
  });
});

describe('the router scrubs every adapter error with the channel secrets', () => {
  const SETTINGS: RoutingSettings = {
    fallbackToLocal: false,
    deadlineMs: 5_000,
    maxAttempts: 1,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    maxRetryAfterMs: 2_000,
    breaker: { consecutiveFailures: 3, failureRate: 0.5, minSamples: 10, windowMs: 60_000, cooldownMs: 200 },
  };

  it('a 4xx message echoing the key reaches the caller without it', async () => {
    const key = 'azure0123456789abcdef0123456789ab';
    const bound = registerProvider({
      id: 'echoing',
      optionsSchema: z.strictObject({}),
      serves: () => true,
      maxImagesPerCall: () => 10,
      async generate(_request, call): Promise<ProviderResult> {
        throw new GatewayError('invalid_value', `The upstream provider (echoing) rejected the request: bad key ${call.channel.apiKey ?? ''}`, {
          param: 'size',
        });
      },
    }).bind({});
    if (!bound.ok) throw new Error('options');
    const channel: Channel = {
      id: 'echo',
      provider: 'echoing',
      baseUrl: 'http://unused',
      apiKey: key,
      secrets: channelSecrets({ apiKey: key, baseUrl: 'http://unused', options: {} }),
      models: { 'gpt-image-1': 'gpt-image-1' },
      timeoutMs: 10_000,
      http: { dispatcher: undefined as never, download: async () => Buffer.alloc(0), acquireBodyRead: (signal) => new BodyReads(8).acquire(signal) },
    };
    const router = new Router({
      channels: [{ channel, provider: bound.provider, priority: 0, weight: 1, maxConcurrency: 1 }],
      local: null,
      settings: SETTINGS,
      logger: createLogger('silent'),
    });
    await assert.rejects(
      router.execute(requestFor({ model: 'gpt-image-1', prompt: 'x' }), { signal: new AbortController().signal, requestId: 'req_s' }),
      (err: unknown) => {
        assert.ok(err instanceof GatewayError);
        assert.equal(err.code, 'invalid_value');
        assert.equal(err.param, 'size');
        assert.ok(!err.message.includes(key), err.message);
        return true;
      },
    );
  });
});

describe('the logger scrubs credential shapes from messages and errors', () => {
  it('never writes a bearer token or key that an error message or its cause quotes', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', sink);
    const cause = new Error('upstream said: Received Authorization: Bearer sk-proj-leak0123456789abcdef');
    logger.error({ err: new GatewayError('upstream_error', 'failed: api-key: 9f86d081884c7d659a2feaa0c55ad015', { cause }) }, 'request failed');
    logger.warn({ err: 'key=AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW', detail: 'token=abcdef0123456789' }, 'webhook said Bearer sk-ig-abc123def456ghi');
    logger.info('printf %s', 'sk-ig-abc123def456ghi');
    for (const secret of ['sk-proj-leak', '9f86d081884c7d659a2feaa0c55ad015', 'AIzaSy', 'abcdef0123456789', 'sk-ig-abc123']) {
      assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
    }
    for (const line of out.trim().split('\n')) JSON.parse(line); // still JSON lines
    assert.match(out, /request failed/);
  });
});
