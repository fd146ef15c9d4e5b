import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { GatewayError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { registerProvider } from '../../src/providers/register.ts';
import type { BoundProvider, Channel, ProviderResult } from '../../src/providers/types.ts';
import { RecentOutcomes } from '../../src/routing/recent-outcomes.ts';
import { type RoutedChannel, Router } from '../../src/routing/router.ts';
import { requestFor } from '../support/requests.ts';
import { BodyReads } from '../../src/http/body-reads.ts';

/* Router.channelStatus: what GET /admin/v1/channels and the console's channels view read. */

const NO_OPTIONS = z.strictObject({});

/** A provider whose channel `bad` always fails with a retryable 502 and `good` always answers. */
function provider(): BoundProvider {
  const result = registerProvider<z.infer<typeof NO_OPTIONS>>({
    id: 'scripted',
    optionsSchema: NO_OPTIONS,
    serves: () => true,
    maxImagesPerCall: () => 10,
    async generate(request, call): Promise<ProviderResult> {
      if (call.channel.id === 'bad') throw new GatewayError('upstream_error', 'upstream failed', { retryable: true });
      return { images: Array.from({ length: request.n }, () => ({ bytes: Buffer.from('x') })) };
    },
  }).bind({});
  if (!result.ok) throw new Error('options');
  return result.provider;
}

function channel(id: string, priority: number, bound: BoundProvider): RoutedChannel {
  const ch: Channel = {
    id,
    provider: 'scripted',
    baseUrl: 'http://unused',
    apiKey: null,
    secrets: [],
    models: { 'gpt-image-1': 'gpt-image-1' },
    timeoutMs: 10_000,
    http: { dispatcher: undefined as never, download: async () => Buffer.alloc(0), acquireBodyRead: (signal) => new BodyReads(8).acquire(signal) },
  };
  return { channel: ch, provider: bound, priority, weight: 1, maxConcurrency: 4 };
}

describe('Router.channelStatus', () => {
  it('reports each channel with its models, breaker and recent attempts', async () => {
    const bound = provider();
    const router = new Router({
      channels: [channel('bad', 1, bound), channel('good', 0, bound)],
      local: null,
      settings: {
        fallbackToLocal: false,
        deadlineMs: 5_000,
        maxAttempts: 2,
        backoffBaseMs: 1,
        backoffMaxMs: 2,
        maxRetryAfterMs: 1_000,
        breaker: { consecutiveFailures: 2, failureRate: 0.5, minSamples: 10, windowMs: 60_000, cooldownMs: 60_000 },
      },
      logger: createLogger('silent'),
    });
    assert.deepEqual(
      router.channelStatus().map((c) => [c.id, c.breaker, c.recent.length]),
      [
        ['bad', 'closed', 0],
        ['good', 'closed', 0],
      ],
    );
    // Two failures on `bad` open its breaker; the next request goes straight to `good`.
    await assert.rejects(router.execute(requestFor({ model: 'gpt-image-1', prompt: 'x' }), { signal: new AbortController().signal, requestId: 'r1' }));
    await router.execute(requestFor({ model: 'gpt-image-1', prompt: 'x' }), { signal: new AbortController().signal, requestId: 'r2' });
    const [bad, good] = router.channelStatus();
    assert.equal(bad?.breaker, 'open');
    assert.ok((bad?.openForMs ?? 0) > 0);
    assert.deepEqual(
      bad?.recent.map((o) => [o.ok, o.code]),
      [
        [false, 'upstream_error'],
        [false, 'upstream_error'],
      ],
    );
    assert.deepEqual(good?.models, ['gpt-image-1']);
    assert.deepEqual(
      good?.recent.map((o) => o.ok),
      [true],
    );
  });

  it('keeps only the last attempts, oldest first', () => {
    const recent = new RecentOutcomes(3);
    for (let i = 0; i < 5; i += 1) recent.record({ atMs: i, ok: true, latencyMs: i, code: null });
    assert.deepEqual(
      recent.list().map((o) => o.atMs),
      [2, 3, 4],
    );
  });
});
