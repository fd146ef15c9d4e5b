import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/limits/memory-rate-limiter.ts';
import type { RateDecision, RateLimiter, RateRule } from '../../src/limits/rate-limiter.ts';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.ts';
import { assertBetween, fakeClock, realClock, redisFixture, type TestClock } from './support.ts';

interface RateFixture {
  readonly limiter: RateLimiter;
  readonly clock: TestClock;
  close(): Promise<void>;
}

/** 5 tokens refilled over a second: one token every 200 ms, short enough to wait for in real time. */
const RULE: RateRule = { limit: 5, windowMs: 1_000 };
const MS_PER_TOKEN = 200;

/** The behaviour every RateLimiter backend must show. */
function rateLimiterSuite(name: string, factory: () => Promise<RateFixture>): void {
  describe(`RateLimiter: ${name}`, () => {
    let fx: RateFixture;
    before(async () => {
      fx = await factory();
    });
    after(async () => {
      await fx.close();
    });
    const consume = (key: string, cost: number, rule: RateRule = RULE): Promise<RateDecision> => fx.limiter.consume(key, cost, rule, fx.clock.nowMs());

    it('lets a full bucket burst to its limit, then denies with the time until one token', async () => {
      for (let i = 0; i < RULE.limit; i += 1) {
        const decision = await consume('burst', 1);
        assert.equal(decision.allowed, true);
        assert.equal(decision.remaining, RULE.limit - 1 - i);
        assert.equal(decision.retryAfterMs, 0);
        assert.equal(decision.limit, RULE.limit);
      }
      const denied = await consume('burst', 1);
      assert.equal(denied.allowed, false);
      assert.equal(denied.remaining, 0);
      if (fx.clock.exact) {
        assert.equal(denied.retryAfterMs, MS_PER_TOKEN);
        assert.equal(denied.resetMs, RULE.windowMs);
      } else {
        // The real clock ran on a little between the calls, refilling a sliver.
        assertBetween(denied.retryAfterMs, MS_PER_TOKEN - 60, MS_PER_TOKEN, 'retryAfterMs');
        assertBetween(denied.resetMs, RULE.windowMs - 60, RULE.windowMs, 'resetMs');
      }
    });

    it('takes nothing on a denied consume', async () => {
      assert.equal((await consume('deny', 3)).remaining, 2);
      assert.equal((await consume('deny', 3)).allowed, false);
      const rest = await consume('deny', 2);
      assert.equal(rest.allowed, true);
      assert.equal(rest.remaining, 0);
    });

    it('refills continuously rather than per window', async () => {
      assert.equal((await consume('refill', RULE.limit)).allowed, true);
      await fx.clock.advance(450); // 2.25 tokens
      const two = await consume('refill', 2);
      assert.equal(two.allowed, true);
      if (fx.clock.exact) {
        assert.equal(two.remaining, 0);
        const third = await consume('refill', 1);
        assert.equal(third.allowed, false);
        assert.equal(third.retryAfterMs, 150); // the missing 0.75 token
      }
      await fx.clock.advance(RULE.windowMs + 100);
      const full = await consume('refill', 0);
      assert.equal(full.allowed, true);
      assert.equal(full.remaining, RULE.limit, 'a bucket never holds more than its limit');
      assert.equal(full.resetMs, 0);
    });

    it('gives a retryAfterMs after which the same cost fits', async () => {
      assert.equal((await consume('retry', RULE.limit)).allowed, true);
      const denied = await consume('retry', 3);
      assert.equal(denied.allowed, false);
      if (fx.clock.exact) {
        assert.equal(denied.retryAfterMs, 3 * MS_PER_TOKEN);
        await fx.clock.advance(denied.retryAfterMs - 1);
        const early = await consume('retry', 3);
        assert.equal(early.allowed, false);
        assert.equal(early.retryAfterMs, 1);
        await fx.clock.advance(1);
      } else {
        assertBetween(denied.retryAfterMs, 3 * MS_PER_TOKEN - 60, 3 * MS_PER_TOKEN, 'retryAfterMs');
        await fx.clock.advance(denied.retryAfterMs);
      }
      const allowed = await consume('retry', 3);
      assert.equal(allowed.allowed, true);
      assert.equal(allowed.retryAfterMs, 0);
    });

    it('denies a cost above the limit with retryAfterMs = windowMs, taking nothing', async () => {
      const denied = await consume('huge', RULE.limit + 1);
      assert.equal(denied.allowed, false);
      assert.equal(denied.retryAfterMs, RULE.windowMs);
      assert.equal(denied.remaining, RULE.limit);
      assert.equal((await consume('huge', RULE.limit)).allowed, true);
    });

    it('keeps keys apart', async () => {
      assert.equal((await consume('apart-a', RULE.limit)).allowed, true);
      assert.equal((await consume('apart-a', 1)).allowed, false);
      assert.equal((await consume('apart-b', 1)).remaining, RULE.limit - 1);
    });

    it('allows exactly the limit out of 200 concurrent consumes', async () => {
      // An hour-long window: the refill during the burst (well under one token) cannot let a 51st in.
      const rule: RateRule = { limit: 50, windowMs: 3_600_000 };
      const decisions = await Promise.all(Array.from({ length: 200 }, () => consume('crowd', 1, rule)));
      assert.equal(decisions.filter((d) => d.allowed).length, 50);
      for (const denied of decisions.filter((d) => !d.allowed)) {
        assert.equal(denied.remaining, 0);
        assert.ok(denied.retryAfterMs > 0);
      }
    });

    it('rejects a negative or non-finite cost and an invalid rule', async () => {
      await assert.rejects(consume('bad', -1), RangeError);
      await assert.rejects(consume('bad', Number.NaN), RangeError);
      await assert.rejects(consume('bad', Number.POSITIVE_INFINITY), RangeError);
      await assert.rejects(consume('bad', 1, { limit: 0, windowMs: 1_000 }), RangeError);
      await assert.rejects(consume('bad', 1, { limit: 5, windowMs: 0 }), RangeError);
    });
  });
}

rateLimiterSuite('memory', async () => {
  const clock = fakeClock();
  return { limiter: new MemoryRateLimiter({ now: clock.read }), clock, close: async () => {} };
});

rateLimiterSuite('redis', async () => {
  const redis = await redisFixture();
  return { limiter: new RedisRateLimiter(redis.clients[0], redis.prefix), clock: realClock, close: redis.close };
});

describe('MemoryRateLimiter', () => {
  it('forgets buckets once they have refilled', async () => {
    const clock = fakeClock();
    const limiter = new MemoryRateLimiter({ now: clock.read, sweepIntervalMs: 0 });
    await limiter.consume('a', 1, RULE);
    await limiter.consume('b', RULE.limit, RULE);
    assert.equal(limiter.bucketCount, 2);
    await clock.advance(MS_PER_TOKEN); // 'a' is full again, 'b' is not
    await limiter.consume('c', 0, RULE);
    assert.equal(limiter.bucketCount, 1);
    assert.equal((await limiter.consume('b', 0, RULE)).remaining, 1);
  });

  it('does not drain a bucket when the clock steps back', async () => {
    const limiter = new MemoryRateLimiter();
    await limiter.consume('k', 2, RULE, 10_000);
    assert.equal((await limiter.consume('k', 0, RULE, 5_000)).remaining, 3);
  });
});

describe('RedisRateLimiter', () => {
  let redis: Awaited<ReturnType<typeof redisFixture>>;
  before(async () => {
    redis = await redisFixture(3);
  });
  after(async () => {
    await redis.close();
  });

  it('allows exactly the limit out of 200 concurrent consumes over 3 connections', async () => {
    const limiters = redis.clients.map((client) => new RedisRateLimiter(client, redis.prefix));
    const rule: RateRule = { limit: 50, windowMs: 3_600_000 };
    const decisions = await Promise.all(Array.from({ length: 200 }, async (_, i) => limiters[i % limiters.length]?.consume('replicas', 1, rule)));
    assert.equal(decisions.filter((d) => d?.allowed === true).length, 50);
  });

  it('stores a bucket only while it is not full, expiring it after windowMs', async () => {
    const limiter = new RedisRateLimiter(redis.clients[0], redis.prefix);
    await limiter.consume('ttl', RULE.limit + 1, RULE);
    assert.equal(await redis.clients[0].exists(`${redis.prefix}rl:ttl`), 0, 'a denial writes nothing');
    await limiter.consume('ttl', 1, RULE);
    assertBetween(await redis.clients[0].pttl(`${redis.prefix}rl:ttl`), 1, RULE.windowMs, 'PTTL');
  });

  it('uses the Redis clock, ignoring nowMs', async () => {
    const limiter = new RedisRateLimiter(redis.clients[0], redis.prefix);
    await limiter.consume('clock', RULE.limit, RULE, 0);
    assert.equal((await limiter.consume('clock', 1, RULE, Date.now() + 3_600_000)).allowed, false);
  });
});
