import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type IdempotencyStore, requestFingerprint, type StoredResponse } from '../../src/limits/idempotency-store.ts';
import { MemoryIdempotencyStore } from '../../src/limits/memory-idempotency-store.ts';
import { RedisIdempotencyStore } from '../../src/limits/redis-idempotency-store.ts';
import { fakeClock, realClock, redisFixture, type TestClock } from './support.ts';

interface IdempotencyFixture {
  readonly store: IdempotencyStore;
  readonly clock: TestClock;
  close(): Promise<void>;
}

const SCOPE = 'key_live_1';
const FP = requestFingerprint('POST', '/v1/images/generations', '{"prompt":"a boat at dusk"}');
const OTHER_FP = requestFingerprint('POST', '/v1/images/generations', '{"prompt":"a city at noon"}');
const DAY_MS = 86_400_000;
/** Short enough to wait out in real time. */
const SHORT_TTL_MS = 200;

const RESPONSE: StoredResponse = {
  status: 200,
  headers: { 'content-type': 'application/json', 'x-imagegate-provider': 'local' },
  body: '{"created":1,"data":[{"url":"https://img.example/files/x.png"}]}',
};

/** The behaviour every IdempotencyStore backend must show. */
function idempotencySuite(name: string, factory: () => Promise<IdempotencyFixture>): void {
  describe(`IdempotencyStore: ${name}`, () => {
    let fx: IdempotencyFixture;
    before(async () => {
      fx = await factory();
    });
    after(async () => {
      await fx.close();
    });

    it('starts once; a second caller sees in_progress, then the stored response', async () => {
      assert.deepEqual(await fx.store.begin(SCOPE, 'flow', FP), { state: 'started' });
      assert.deepEqual(await fx.store.begin(SCOPE, 'flow', FP), { state: 'in_progress' });
      assert.equal(await fx.store.complete(SCOPE, 'flow', RESPONSE, DAY_MS), true);
      assert.deepEqual(await fx.store.begin(SCOPE, 'flow', FP), { state: 'done', response: RESPONSE });
    });

    it('starts exactly one of 50 concurrent begins', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, () => fx.store.begin(SCOPE, 'crowd', FP)));
      assert.equal(results.filter((r) => r.state === 'started').length, 1);
      assert.equal(results.filter((r) => r.state === 'in_progress').length, 49);
    });

    it('reports a different request under the same key as mismatch, running or done', async () => {
      await fx.store.begin(SCOPE, 'reuse', FP);
      assert.deepEqual(await fx.store.begin(SCOPE, 'reuse', OTHER_FP), { state: 'mismatch' });
      await fx.store.complete(SCOPE, 'reuse', RESPONSE, DAY_MS);
      assert.deepEqual(await fx.store.begin(SCOPE, 'reuse', OTHER_FP), { state: 'mismatch' });
    });

    it('lets a retry start again after abandon', async () => {
      await fx.store.begin(SCOPE, 'failed', FP);
      await fx.store.abandon(SCOPE, 'failed');
      assert.deepEqual(await fx.store.begin(SCOPE, 'failed', OTHER_FP), { state: 'started' });
    });

    it('keeps a done record through a late abandon and a second complete', async () => {
      await fx.store.begin(SCOPE, 'late', FP);
      await fx.store.complete(SCOPE, 'late', RESPONSE, DAY_MS);
      await fx.store.abandon(SCOPE, 'late');
      assert.equal(await fx.store.complete(SCOPE, 'late', { ...RESPONSE, status: 500 }, DAY_MS), false);
      assert.deepEqual(await fx.store.begin(SCOPE, 'late', FP), { state: 'done', response: RESPONSE });
    });

    it('stores nothing for a complete without a running record', async () => {
      assert.equal(await fx.store.complete(SCOPE, 'never-begun', RESPONSE, DAY_MS), false);
      assert.deepEqual(await fx.store.begin(SCOPE, 'never-begun', FP), { state: 'started' });
    });

    it('lets a new begin start once an in-progress lease runs out (its holder died)', async () => {
      await fx.store.begin(SCOPE, 'dead', FP, SHORT_TTL_MS);
      assert.deepEqual(await fx.store.begin(SCOPE, 'dead', FP, SHORT_TTL_MS), { state: 'in_progress' });
      await fx.clock.advance(SHORT_TTL_MS + 50);
      assert.deepEqual(await fx.store.begin(SCOPE, 'dead', FP), { state: 'started' });
    });

    it('forgets a stored response after its ttl', async () => {
      await fx.store.begin(SCOPE, 'expiring', FP);
      await fx.store.complete(SCOPE, 'expiring', RESPONSE, SHORT_TTL_MS);
      assert.equal((await fx.store.begin(SCOPE, 'expiring', FP)).state, 'done');
      await fx.clock.advance(SHORT_TTL_MS + 50);
      assert.deepEqual(await fx.store.begin(SCOPE, 'expiring', FP), { state: 'started' });
    });

    it('keeps scopes apart, even when a scope contains the separator', async () => {
      assert.equal((await fx.store.begin('a:b', 'c', FP)).state, 'started');
      assert.equal((await fx.store.begin('a', 'b:c', FP)).state, 'started');
      assert.equal((await fx.store.begin('other-scope', 'flow', FP)).state, 'started');
    });

    it('replays a copy: changing the object handed to complete changes nothing', async () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      await fx.store.begin(SCOPE, 'copy', FP);
      await fx.store.complete(SCOPE, 'copy', { status: 201, headers, body: 'x' }, DAY_MS);
      headers['content-type'] = 'text/plain';
      assert.deepEqual(await fx.store.begin(SCOPE, 'copy', FP), {
        state: 'done',
        response: { status: 201, headers: { 'content-type': 'application/json' }, body: 'x' },
      });
    });
  });
}

idempotencySuite('memory', async () => {
  const clock = fakeClock();
  return { store: new MemoryIdempotencyStore({ now: clock.read }), clock, close: async () => {} };
});

idempotencySuite('redis', async () => {
  const redis = await redisFixture();
  return { store: new RedisIdempotencyStore(redis.clients[0], redis.prefix), clock: realClock, close: redis.close };
});

describe('RedisIdempotencyStore', () => {
  let redis: Awaited<ReturnType<typeof redisFixture>>;
  before(async () => {
    redis = await redisFixture(3);
  });
  after(async () => {
    await redis.close();
  });

  it('starts exactly one of 30 concurrent begins over 3 connections', async () => {
    const stores = redis.clients.map((client) => new RedisIdempotencyStore(client, redis.prefix));
    const results = await Promise.all(Array.from({ length: 30 }, async (_, i) => stores[i % stores.length]?.begin(SCOPE, 'replicas', FP)));
    assert.equal(results.filter((r) => r?.state === 'started').length, 1);
  });
});

describe('MemoryIdempotencyStore', () => {
  it('drops expired records it is never asked about again', async () => {
    const clock = fakeClock();
    const store = new MemoryIdempotencyStore({ now: clock.read, sweepIntervalMs: 0 });
    await store.begin(SCOPE, 'abandoned-by-crash', FP, SHORT_TTL_MS);
    await clock.advance(SHORT_TTL_MS);
    await store.begin(SCOPE, 'next', FP);
    assert.equal(store.recordCount, 1);
  });

  it('keeps at most maxRecords finished records, dropping the oldest (which then run afresh)', async () => {
    const store = new MemoryIdempotencyStore({ maxRecords: 3 });
    for (const key of ['a', 'b', 'c', 'd']) {
      await store.begin(SCOPE, key, FP);
      await store.complete(SCOPE, key, RESPONSE, DAY_MS);
    }
    assert.equal(store.recordCount, 3);
    assert.equal((await store.begin(SCOPE, 'a', FP)).state, 'started', 'the oldest was dropped');
    assert.equal((await store.begin(SCOPE, 'd', FP)).state, 'done');
  });

  it('keeps at most maxBodyBytes of bodies, and never drops a request still running', async () => {
    const store = new MemoryIdempotencyStore({ maxBodyBytes: RESPONSE.body.length * 2 });
    await store.begin(SCOPE, 'running', FP);
    for (const key of ['a', 'b', 'c']) {
      await store.begin(SCOPE, key, FP);
      await store.complete(SCOPE, key, RESPONSE, DAY_MS);
    }
    assert.equal(store.bodyBytes, RESPONSE.body.length * 2);
    assert.equal((await store.begin(SCOPE, 'running', FP)).state, 'in_progress');
    assert.equal((await store.begin(SCOPE, 'a', FP)).state, 'started');
  });
});

describe('requestFingerprint', () => {
  it('differs when bytes move between path and body, and ignores method case', () => {
    assert.notEqual(requestFingerprint('POST', '/a', 'bc'), requestFingerprint('POST', '/ab', 'c'));
    assert.equal(requestFingerprint('post', '/a', 'b'), requestFingerprint('POST', '/a', Buffer.from('b')));
    assert.match(FP, /^[0-9a-f]{64}$/);
  });
});
