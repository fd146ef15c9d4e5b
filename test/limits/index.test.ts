import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createLimits } from '../../src/limits/index.ts';
import { MemoryConcurrencyLimiter } from '../../src/limits/memory-concurrency-limiter.ts';
import { MemoryIdempotencyStore } from '../../src/limits/memory-idempotency-store.ts';
import { MemoryRateLimiter } from '../../src/limits/memory-rate-limiter.ts';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.ts';
import { deleteKeys, randomPrefix, redisFixture, REDIS_URL } from './support.ts';

const RULE = { limit: 2, windowMs: 3_600_000 };

describe('createLimits', () => {
  it('builds in-memory backends without a Redis URL', async () => {
    const limits = createLimits(undefined, 'unused:');
    assert.ok(limits.rateLimiter instanceof MemoryRateLimiter);
    assert.ok(limits.concurrency instanceof MemoryConcurrencyLimiter);
    assert.ok(limits.idempotency instanceof MemoryIdempotencyStore);
    await limits.close();
  });

  describe('with a Redis URL', () => {
    const prefix = randomPrefix();
    after(async () => {
      // The replicas wrote under `prefix`, not under the fixture's own (unused) prefix.
      const redis = await redisFixture();
      await deleteKeys(redis.clients[0], prefix);
      await redis.close();
    });

    it('gives replicas with one prefix one set of limits', async () => {
      const replicaA = createLimits(REDIS_URL, prefix);
      const replicaB = createLimits(REDIS_URL, prefix);
      try {
        assert.ok(replicaA.rateLimiter instanceof RedisRateLimiter);
        assert.equal((await replicaA.rateLimiter.consume('k', 2, RULE)).allowed, true);
        assert.equal((await replicaB.rateLimiter.consume('k', 1, RULE)).allowed, false);
        const lease = await replicaA.concurrency.acquire('k', 1, 60_000);
        assert.equal(await replicaB.concurrency.acquire('k', 1, 60_000), null);
        await lease?.release();
        assert.equal((await replicaA.idempotency.begin('scope', 'k', 'fp')).state, 'started');
        assert.equal((await replicaB.idempotency.begin('scope', 'k', 'fp')).state, 'in_progress');
      } finally {
        await Promise.all([replicaA.close(), replicaB.close()]);
      }
    });

    it('fails a call within seconds, and closes, when Redis is unreachable', async () => {
      const errors: Error[] = [];
      // Port 1 on loopback: nothing listens, so every connection attempt is refused.
      const limits = createLimits('redis://127.0.0.1:1', prefix, { onRedisError: (error) => errors.push(error) });
      const startedMs = Date.now();
      await assert.rejects(limits.rateLimiter.consume('k', 1, RULE));
      assert.ok(Date.now() - startedMs < 5_000);
      assert.ok(errors.length > 0, 'connection errors reach the handler');
      await limits.close();
    });
  });
});
