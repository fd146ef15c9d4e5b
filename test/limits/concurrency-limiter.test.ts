import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConcurrencyLimiter, Lease } from '../../src/limits/concurrency-limiter.ts';
import { MemoryConcurrencyLimiter } from '../../src/limits/memory-concurrency-limiter.ts';
import { RedisConcurrencyLimiter } from '../../src/limits/redis-concurrency-limiter.ts';
import { fakeClock, realClock, redisFixture, type TestClock } from './support.ts';

interface ConcurrencyFixture {
  readonly limiter: ConcurrencyLimiter;
  readonly clock: TestClock;
  close(): Promise<void>;
}

/** Long enough that no lease in a test expires unless the test waits for it. */
const LONG_LEASE_MS = 60_000;
/** Short enough to wait out in real time. */
const SHORT_LEASE_MS = 250;

function granted(leases: ReadonlyArray<Lease | null>): Lease[] {
  return leases.filter((lease): lease is Lease => lease !== null);
}

/** The behaviour every ConcurrencyLimiter backend must show. */
function concurrencySuite(name: string, factory: () => Promise<ConcurrencyFixture>): void {
  describe(`ConcurrencyLimiter: ${name}`, () => {
    let fx: ConcurrencyFixture;
    before(async () => {
      fx = await factory();
    });
    after(async () => {
      await fx.close();
    });

    it('grants exactly max of 50 concurrent acquires, and one more after a release', async () => {
      const leases = await Promise.all(Array.from({ length: 50 }, () => fx.limiter.acquire('crowd', 5, LONG_LEASE_MS)));
      const held = granted(leases);
      assert.equal(held.length, 5);
      assert.equal(await fx.limiter.acquire('crowd', 5, LONG_LEASE_MS), null);
      await held[0]?.release();
      const next = await fx.limiter.acquire('crowd', 5, LONG_LEASE_MS);
      assert.notEqual(next, null);
      assert.equal(await fx.limiter.acquire('crowd', 5, LONG_LEASE_MS), null);
      await Promise.all([...held.slice(1), next].map(async (lease) => lease?.release()));
    });

    it('frees one slot however often a lease is released', async () => {
      const held = granted(await Promise.all([1, 2].map(() => fx.limiter.acquire('twice', 2, LONG_LEASE_MS))));
      assert.equal(held.length, 2);
      await held[0]?.release();
      await held[0]?.release();
      assert.notEqual(await fx.limiter.acquire('twice', 2, LONG_LEASE_MS), null);
      assert.equal(await fx.limiter.acquire('twice', 2, LONG_LEASE_MS), null, 'a second release freed a second slot');
    });

    it('frees an unreleased lease after leaseMs', async () => {
      assert.notEqual(await fx.limiter.acquire('crash', 1, SHORT_LEASE_MS), null);
      assert.equal(await fx.limiter.acquire('crash', 1, SHORT_LEASE_MS), null);
      await fx.clock.advance(SHORT_LEASE_MS + 50);
      assert.notEqual(await fx.limiter.acquire('crash', 1, SHORT_LEASE_MS), null);
    });

    it("releasing an expired lease does not free its successor's slot", async () => {
      const stale = await fx.limiter.acquire('stale', 1, SHORT_LEASE_MS);
      await fx.clock.advance(SHORT_LEASE_MS + 50);
      const successor = await fx.limiter.acquire('stale', 1, LONG_LEASE_MS);
      assert.notEqual(successor, null);
      await stale?.release();
      assert.equal(await fx.limiter.acquire('stale', 1, LONG_LEASE_MS), null);
    });

    it('keeps keys apart', async () => {
      assert.notEqual(await fx.limiter.acquire('apart-a', 1, LONG_LEASE_MS), null);
      assert.notEqual(await fx.limiter.acquire('apart-b', 1, LONG_LEASE_MS), null);
    });

    it('rejects a max below 1 and a non-positive lease', async () => {
      await assert.rejects(fx.limiter.acquire('bad', 0, LONG_LEASE_MS), RangeError);
      await assert.rejects(fx.limiter.acquire('bad', 1.5, LONG_LEASE_MS), RangeError);
      await assert.rejects(fx.limiter.acquire('bad', 1, 0), RangeError);
    });
  });
}

concurrencySuite('memory', async () => {
  const clock = fakeClock();
  return { limiter: new MemoryConcurrencyLimiter({ now: clock.read }), clock, close: async () => {} };
});

concurrencySuite('redis', async () => {
  const redis = await redisFixture();
  return { limiter: new RedisConcurrencyLimiter(redis.clients[0], redis.prefix), clock: realClock, close: redis.close };
});

describe('MemoryConcurrencyLimiter', () => {
  it('forgets keys whose leases all expired unreleased', async () => {
    const clock = fakeClock();
    const limiter = new MemoryConcurrencyLimiter({ now: clock.read, sweepIntervalMs: 0 });
    await limiter.acquire('leaked', 1, SHORT_LEASE_MS);
    await clock.advance(SHORT_LEASE_MS);
    await limiter.acquire('other', 1, LONG_LEASE_MS);
    assert.equal(limiter.keyCount, 1);
  });
});

describe('RedisConcurrencyLimiter', () => {
  let redis: Awaited<ReturnType<typeof redisFixture>>;
  before(async () => {
    redis = await redisFixture(3);
  });
  after(async () => {
    await redis.close();
  });

  it('grants exactly max of 50 concurrent acquires over 3 connections', async () => {
    const limiters = redis.clients.map((client) => new RedisConcurrencyLimiter(client, redis.prefix));
    const leases = await Promise.all(Array.from({ length: 50 }, async (_, i) => limiters[i % limiters.length]?.acquire('replicas', 5, LONG_LEASE_MS) ?? null));
    assert.equal(granted(leases).length, 5);
  });

  it('lets the key expire with its longest lease', async () => {
    const limiter = new RedisConcurrencyLimiter(redis.clients[0], redis.prefix);
    await limiter.acquire('ttl', 3, LONG_LEASE_MS);
    await limiter.acquire('ttl', 3, SHORT_LEASE_MS);
    const pttlMs = await redis.clients[0].pttl(`${redis.prefix}cc:ttl`);
    assert.ok(pttlMs > SHORT_LEASE_MS && pttlMs <= LONG_LEASE_MS, `PTTL ${pttlMs}`);
  });
});
