import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/log.ts';
import { z } from 'zod';
import { registerProvider } from '../../src/providers/register.ts';
import type { BoundProvider, Channel, ProviderAdapter, ProviderResult } from '../../src/providers/types.ts';
import { type RoutedChannel, Router, type RoutingSettings } from '../../src/routing/router.ts';
import { requestFor } from '../support/requests.ts';
import { type BodyReadTurn, BodyReads } from '../../src/http/body-reads.ts';

const SETTINGS: RoutingSettings = {
  fallbackToLocal: false,
  deadlineMs: 5_000,
  maxAttempts: 4,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  maxRetryAfterMs: 2_000,
  breaker: { consecutiveFailures: 3, failureRate: 0.5, minSamples: 10, windowMs: 60_000, cooldownMs: 200 },
};

type Step = 'ok' | GatewayError | { hangMs: number };

const NO_OPTIONS = z.strictObject({});
type TestAdapter = ProviderAdapter<z.infer<typeof NO_OPTIONS>>;

/** An adapter as a channel holds it, its (empty) options bound. */
function bound(adapter: Omit<TestAdapter, 'optionsSchema' | 'serves'>): BoundProvider {
  const result = registerProvider<z.infer<typeof NO_OPTIONS>>({ ...adapter, optionsSchema: NO_OPTIONS, serves: () => true }).bind({});
  if (!result.ok) throw new Error('options');
  return result.provider;
}

/** An adapter that plays a script per channel and records every call. */
function scripted(perCall = 10) {
  const scripts = new Map<string, Step[]>();
  const calls: Array<{ channel: string; n: number; at: number }> = [];
  const adapter = bound({
    id: 'scripted',
    maxImagesPerCall: () => perCall,
    async generate(request, call): Promise<ProviderResult> {
      const { channel } = call;
      calls.push({ channel: channel.id, n: request.n, at: Date.now() });
      const step = scripts.get(channel.id)?.shift() ?? 'ok';
      if (step instanceof GatewayError) throw step;
      if (step !== 'ok') {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, step.hangMs);
          call.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(call.signal.reason);
          });
        });
      }
      return { images: Array.from({ length: request.n }, () => ({ bytes: Buffer.from(channel.id) })) };
    },
  });
  return { adapter, scripts, calls };
}

function channel(
  id: string,
  provider: BoundProvider,
  options: Partial<{ priority: number; weight: number; timeoutMs: number; maxConcurrency: number }> = {},
): RoutedChannel {
  const ch: Channel = {
    id,
    provider: 'scripted',
    baseUrl: 'http://unused',
    apiKey: null,
    secrets: [],
    models: { 'gpt-image-1': 'gpt-image-1', 'dall-e-3': 'dall-e-3' },
    timeoutMs: options.timeoutMs ?? 10_000,
    http: { dispatcher: undefined as never, download: async () => Buffer.alloc(0), acquireBodyRead: (signal) => new BodyReads(8).acquire(signal) },
  };
  return { channel: ch, provider, priority: options.priority ?? 0, weight: options.weight ?? 1, maxConcurrency: options.maxConcurrency ?? 8 };
}

const retryable = (code: 'upstream_error' | 'upstream_timeout' = 'upstream_error') => new GatewayError(code, 'upstream failed', { retryable: true });
const ctx = (signal = new AbortController().signal) => ({ signal, requestId: 'req_t' });
const gpt = (n = 1) => requestFor({ model: 'gpt-image-1', prompt: 'x', n });
const logger = createLogger('silent');

describe('Router', () => {
  it('hands body-read turns to the request only when one call makes all its images (fan-out parts never wait on each other)', async () => {
    const retained: string[] = [];
    const seen: boolean[] = [];
    const adapter = bound({
      id: 'scripted',
      maxImagesPerCall: () => 2,
      async generate(request, call): Promise<ProviderResult> {
        seen.push(call.retain !== undefined);
        const turn = await call.channel.http.acquireBodyRead(call.signal);
        if (call.retain === undefined) turn.release();
        else call.retain(turn);
        return { images: Array.from({ length: request.n }, () => ({ bytes: Buffer.from('x') })) };
      },
    });
    const router = new Router({ channels: [channel('a', adapter)], local: null, settings: SETTINGS, logger });
    const withRetain = {
      ...ctx(),
      retain: (turn: BodyReadTurn) => {
        retained.push('turn');
        turn.release();
      },
    };
    await router.execute(gpt(2), withRetain);
    assert.deepEqual(seen, [true]);
    assert.deepEqual(retained, ['turn'], 'one call: its turn goes to the request');
    await router.execute(gpt(4), withRetain);
    assert.deepEqual(seen, [true, false, false], 'two parts: neither keeps its turn');
    assert.deepEqual(retained, ['turn']);
  });

  it('retries a retryable failure on the same channel, then succeeds: exactly 3 calls', async () => {
    const s = scripted();
    s.scripts.set('a', [retryable(), retryable(), 'ok']);
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: SETTINGS, logger });
    const outcome = await router.execute(gpt(), ctx());
    assert.equal(outcome.attempts, 3);
    assert.equal(s.calls.length, 3);
    assert.equal(outcome.channel.id, 'a');
  });

  it('does not retry a content policy refusal or a bad request', async () => {
    const s = scripted();
    s.scripts.set('a', [new GatewayError('content_policy_violation', 'no')]);
    const router = new Router({ channels: [channel('a', s.adapter), channel('b', s.adapter, { priority: -1 })], local: null, settings: SETTINGS, logger });
    await assert.rejects(router.execute(gpt(), ctx()), (err: unknown) => (err as GatewayError).code === 'content_policy_violation');
    assert.equal(s.calls.length, 1);
  });

  it('stops after maxAttempts over all channels and returns the last error', async () => {
    const s = scripted();
    s.scripts.set(
      'a',
      Array.from({ length: 10 }, () => retryable()),
    );
    const lenient = { ...SETTINGS, breaker: { ...SETTINGS.breaker, consecutiveFailures: 10 } };
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: lenient, logger });
    await assert.rejects(router.execute(gpt(), ctx()), (err: unknown) => (err as GatewayError).code === 'upstream_error');
    assert.equal(s.calls.length, 4);
  });

  it('falls back to the next priority on credential errors without retrying the broken channel', async () => {
    const s = scripted();
    s.scripts.set('primary', [new GatewayError('upstream_configuration_error', 'bad key')]);
    const router = new Router({
      channels: [channel('backup', s.adapter, { priority: 1 }), channel('primary', s.adapter, { priority: 5 })],
      local: null,
      settings: SETTINGS,
      logger,
    });
    const outcome = await router.execute(gpt(), ctx());
    assert.deepEqual(
      s.calls.map((c) => c.channel),
      ['primary', 'backup'],
    );
    assert.equal(outcome.channel.id, 'backup');
    assert.equal(outcome.attempts, 2);
  });

  it('honours Retry-After within the cap, and falls back at once when it is longer', async () => {
    const s = scripted();
    s.scripts.set('a', [new GatewayError('rate_limit_exceeded', 'slow down', { retryable: true, retryAfterSeconds: 1 })]);
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: SETTINGS, logger });
    await router.execute(gpt(), ctx());
    const gapMs = (s.calls[1]?.at ?? 0) - (s.calls[0]?.at ?? 0);
    assert.ok(gapMs >= 950, `waited only ${gapMs} ms`);

    const t = scripted();
    t.scripts.set('a', [new GatewayError('rate_limit_exceeded', 'slow down', { retryable: true, retryAfterSeconds: 60 })]);
    const router2 = new Router({ channels: [channel('a', t.adapter, { priority: 1 }), channel('b', t.adapter)], local: null, settings: SETTINGS, logger });
    const outcome = await router2.execute(gpt(), ctx());
    assert.deepEqual(
      t.calls.map((c) => c.channel),
      ['a', 'b'],
    );
    assert.equal(outcome.channel.id, 'b');
  });

  it('an upstream 429 that persists reaches the client as 429 with Retry-After', async () => {
    const s = scripted();
    s.scripts.set(
      'a',
      Array.from({ length: 5 }, () => new GatewayError('rate_limit_exceeded', 'slow', { retryable: true, retryAfterSeconds: 30 })),
    );
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: SETTINGS, logger });
    await assert.rejects(router.execute(gpt(), ctx()), (err: unknown) => {
      const e = err as GatewayError;
      return e.status === 429 && e.retryAfterSeconds === 30;
    });
    assert.equal(s.calls.length, 1);
  });

  it('an attempt that hangs times out per channel and is retried; the deadline bounds everything', async () => {
    const s = scripted();
    s.scripts.set('a', [{ hangMs: 10_000 }, 'ok']);
    const router = new Router({ channels: [channel('a', s.adapter, { timeoutMs: 100 })], local: null, settings: SETTINGS, logger });
    const outcome = await router.execute(gpt(), ctx());
    assert.equal(outcome.attempts, 2);

    const t = scripted();
    t.scripts.set(
      'a',
      Array.from({ length: 10 }, () => ({ hangMs: 10_000 })),
    );
    const tight = new Router({ channels: [channel('a', t.adapter, { timeoutMs: 10_000 })], local: null, settings: { ...SETTINGS, deadlineMs: 1000 }, logger });
    const started = Date.now();
    await assert.rejects(tight.execute(gpt(), ctx()), (err: unknown) => (err as GatewayError).code === 'upstream_timeout');
    const tookMs = Date.now() - started;
    assert.ok(tookMs >= 950 && tookMs < 2000, `deadline of 1000 ms ended after ${tookMs} ms`);
  });

  it('aborting the client signal stops the upstream call at once', async () => {
    const s = scripted();
    s.scripts.set('a', [{ hangMs: 10_000 }]);
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: SETTINGS, logger });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(new Error('client left')), 50);
    await assert.rejects(router.execute(gpt(), ctx(controller.signal)), /client left/);
    assert.ok(Date.now() - started < 1000);
    assert.equal(s.calls.length, 1);
  });

  it('opens the breaker after consecutive failures, fails fast with 503 and Retry-After, then half-opens with one probe', async () => {
    const s = scripted();
    s.scripts.set(
      'a',
      Array.from({ length: 3 }, () => retryable()),
    );
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: { ...SETTINGS, maxAttempts: 3 }, logger });
    await assert.rejects(router.execute(gpt(), ctx()));
    assert.equal(s.calls.length, 3);
    await assert.rejects(router.execute(gpt(), ctx()), (err: unknown) => {
      const e = err as GatewayError;
      return e.status === 503 && (e.retryAfterSeconds ?? 0) >= 1;
    });
    assert.equal(s.calls.length, 3, 'an open breaker makes no upstream call');
    await new Promise((resolve) => setTimeout(resolve, 250));
    // Half-open: one probe passes; it fails, so the breaker opens again at once.
    s.scripts.set('a', [retryable()]);
    await assert.rejects(router.execute(gpt(), ctx()));
    assert.equal(s.calls.length, 4);
    await new Promise((resolve) => setTimeout(resolve, 250));
    const outcome = await router.execute(gpt(), ctx());
    assert.equal(outcome.attempts, 1);
    const again = await router.execute(gpt(), ctx());
    assert.equal(again.attempts, 1, 'the breaker closed after a good probe');
  });

  it('fans n out over calls when a channel takes fewer per call, and fails the whole request if one part fails', async () => {
    const s = scripted(2);
    const router = new Router({ channels: [channel('a', s.adapter)], local: null, settings: SETTINGS, logger });
    const outcome = await router.execute(gpt(5), ctx());
    assert.equal(outcome.result.images.length, 5);
    assert.deepEqual(s.calls.map((c) => c.n).sort(), [1, 2, 2]);
    assert.equal(outcome.attempts, 3);

    const t = scripted(1);
    t.scripts.set('a', [new GatewayError('content_policy_violation', 'no'), { hangMs: 5000 }, { hangMs: 5000 }]);
    const router2 = new Router({ channels: [channel('a', t.adapter)], local: null, settings: SETTINGS, logger });
    const started = Date.now();
    await assert.rejects(router2.execute(gpt(3), ctx()), (err: unknown) => (err as GatewayError).code === 'content_policy_violation');
    assert.ok(Date.now() - started < 1000, 'the other parts were cancelled');
  });

  it('spreads equal-priority traffic by weight', async () => {
    const s = scripted();
    let seed = 1;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    const router = new Router({
      channels: [channel('heavy', s.adapter, { weight: 3 }), channel('light', s.adapter, { weight: 1 })],
      local: null,
      settings: SETTINGS,
      logger,
      random,
    });
    for (let i = 0; i < 400; i += 1) await router.execute(gpt(), ctx());
    const heavy = s.calls.filter((c) => c.channel === 'heavy').length;
    assert.ok(heavy > 260 && heavy < 340, `heavy got ${heavy} of 400`);
  });

  it('caps concurrent calls per channel', async () => {
    let inFlight = 0;
    let peak = 0;
    const adapter = bound({
      id: 'counting',
      maxImagesPerCall: () => 10,
      async generate(request) {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        return { images: Array.from({ length: request.n }, () => ({ bytes: Buffer.alloc(1) })) };
      },
    });
    const router = new Router({ channels: [channel('a', adapter, { maxConcurrency: 2 })], local: null, settings: SETTINGS, logger });
    await Promise.all(Array.from({ length: 8 }, () => router.execute(gpt(), ctx())));
    assert.equal(peak, 2);
  });

  it('a model with no channel is a 503 naming it, unless local fallback is on', async () => {
    const s = scripted();
    const router = new Router({ channels: [channel('a', s.adapter)], local: channel('local', s.adapter), settings: SETTINGS, logger });
    await assert.rejects(router.execute(requestFor({ model: 'dall-e-2', prompt: 'x' }), ctx()), (err: unknown) => {
      const e = err as GatewayError;
      return e.status === 503 && e.message.includes('dall-e-2');
    });
    const withFallback = new Router({
      channels: [channel('a', s.adapter)],
      local: channel('local', s.adapter),
      settings: { ...SETTINGS, fallbackToLocal: true },
      logger,
    });
    const outcome = await withFallback.execute(requestFor({ model: 'dall-e-2', prompt: 'x' }), ctx());
    assert.equal(outcome.channel.id, 'local');
  });
});

describe('Router with a shared breaker board', () => {
  it('a channel another replica found failing is skipped here without a call', async () => {
    const posted = new Map<string, number>();
    const board = {
      isOpen: (id: string) => (posted.get(id) ?? 0) > Date.now(),
      openForMs: (id: string) => Math.max(0, (posted.get(id) ?? 0) - Date.now()),
      post: (id: string, ms: number) => void posted.set(id, Date.now() + ms),
      close: () => {},
    };
    const s = scripted();
    s.scripts.set(
      'a',
      Array.from({ length: 3 }, () => retryable()),
    );
    const channels = () => [channel('a', s.adapter, { priority: 10 }), channel('b', s.adapter)];
    const replicaA = new Router({ channels: channels(), local: null, settings: { ...SETTINGS, maxAttempts: 3 }, logger, board });
    const replicaB = new Router({ channels: channels(), local: null, settings: SETTINGS, logger, board });
    await assert.rejects(replicaA.execute(gpt(), ctx()));
    assert.equal(s.calls.length, 3);
    const outcome = await replicaB.execute(gpt(), ctx());
    assert.equal(outcome.channel.id, 'b');
    assert.equal(s.calls.filter((call) => call.channel === 'a').length, 3, 'replica B made no call to a');
  });

  it('the only channel of a model is never shut off: an open breaker lets a probe through every sole-channel cool-down', async () => {
    const s = scripted();
    s.scripts.set(
      'only',
      Array.from({ length: 3 }, () => retryable()),
    );
    const settings = { ...SETTINGS, maxAttempts: 3, breaker: { ...SETTINGS.breaker, cooldownMs: 60_000, soleChannelCooldownMs: 100 } };
    const router = new Router({ channels: [channel('only', s.adapter)], local: null, settings, logger });
    await assert.rejects(router.execute(gpt(), ctx()));
    // Open now: refused at once, with the short wait as Retry-After...
    await assert.rejects(router.execute(gpt(), ctx()), (err: unknown) => (err as GatewayError).status === 503 && (err as GatewayError).retryAfterSeconds === 1);
    // ...and once the sole-channel cool-down passed, a probe goes through and closes it.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal((await router.execute(gpt(), ctx())).channel.id, 'only');
  });
});

describe('Router with the default breaker settings', () => {
  it('keeps serving a sole channel that fails 20% of calls, bursts included: at most 1% of requests fail', async () => {
    const settings = { ...loadConfig({}, '/nonexistent').routing, backoffBaseMs: 1, backoffMaxMs: 2 };
    // 20% of calls fail, spread evenly, plus one burst of six failures in a row (a bad moment,
    // which five-in-a-row breakers answered by shutting the only channel off for 30 s).
    const failAt = new Set<number>();
    for (let call = 0; call < 2000; call += 5) failAt.add(call + 3);
    for (let call = 400; call < 406; call += 1) failAt.add(call);
    let calls = 0;
    const adapter = bound({
      id: 'flaky',
      maxImagesPerCall: () => 10,
      async generate(request): Promise<ProviderResult> {
        const failing = failAt.has(calls);
        calls += 1;
        if (failing) throw retryable();
        return { images: Array.from({ length: request.n }, () => ({ bytes: Buffer.alloc(1) })) };
      },
    });
    const router = new Router({ channels: [channel('only', adapter)], local: null, settings, logger });
    let failed = 0;
    for (let i = 0; i < 1000; i += 1) {
      await router.execute(gpt(), ctx()).catch(() => {
        failed += 1;
      });
    }
    assert.ok(failed <= 10, `${failed} of 1000 requests failed`);
  });
});

describe('Router fan-out with a seed', () => {
  it('gives each part the seed plus its offset, so n images are n different pictures', async () => {
    const seeds: Array<number | null> = [];
    const adapter = bound({
      id: 'one-per-call',
      maxImagesPerCall: () => 1,
      async generate(request): Promise<ProviderResult> {
        seeds.push(request.seed);
        return { images: [{ bytes: Buffer.from(String(request.seed)) }] };
      },
    });
    const router = new Router({ channels: [channel('a', adapter)], local: null, settings: SETTINGS, logger });
    await router.execute(requestFor({ model: 'gpt-image-1', prompt: 'x', n: 3, seed: 2_147_483_646 }), ctx());
    assert.deepEqual(
      [...seeds].sort((a, b) => (a ?? 0) - (b ?? 0)),
      [0, 2_147_483_646, 2_147_483_647],
    );
  });
});
