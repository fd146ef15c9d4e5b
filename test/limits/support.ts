import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

/** Redis of the dev and CI machines (no auth, nothing persisted); override with IMAGEGATE_TEST_REDIS. */
export const REDIS_URL = process.env['IMAGEGATE_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/**
 * How a behavioural suite moves time. In-memory backends get a fake clock, so their tests are
 * instant and exact; Redis runs on its own server clock, so its tests really wait and assert
 * ranges where scheduling jitter could move a number.
 */
export interface TestClock {
  /** Whether time moves only when the test advances it (so numbers can be asserted exactly). */
  readonly exact: boolean;
  /** The time to hand a backend that takes one; undefined for the real clock. */
  nowMs(): number | undefined;
  advance(ms: number): Promise<void>;
}

export interface FakeClock extends TestClock {
  readonly read: () => number;
}

export function fakeClock(startMs = 1_700_000_000_000): FakeClock {
  let nowMs = startMs;
  return {
    exact: true,
    nowMs: () => nowMs,
    read: () => nowMs,
    advance: async (ms) => {
      nowMs += ms;
    },
  };
}

export const realClock: TestClock = {
  exact: false,
  nowMs: () => undefined,
  advance: async (ms) => {
    await sleep(ms);
  },
};

/** A key prefix no other run or test file shares. */
export function randomPrefix(): string {
  return `imagegate-test:${randomBytes(8).toString('hex')}:`;
}

export interface RedisFixture {
  readonly prefix: string;
  /** Separate connections, standing in for separate replicas. */
  readonly clients: readonly [Redis, ...Redis[]];
  /** Deletes every key under the prefix and closes the connections. */
  close(): Promise<void>;
}

export async function redisFixture(connections = 1): Promise<RedisFixture> {
  const prefix = randomPrefix();
  const first = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const clients: [Redis, ...Redis[]] = [first];
  for (let i = 1; i < connections; i += 1) clients.push(new Redis(REDIS_URL, { maxRetriesPerRequest: 1 }));
  await Promise.all(clients.map((client) => client.ping()));
  return {
    prefix,
    clients,
    close: async () => {
      await deleteKeys(first, prefix);
      await Promise.all(clients.map((client) => client.quit()));
    },
  };
}

/** Deletes the keys under `prefix` (hex and ':' only, so it holds no glob characters). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Asserts `value` lies in [min, max], with a message that shows all three. */
export function assertBetween(value: number, min: number, max: number, what: string): void {
  assert.ok(value >= min && value <= max, `${what}: expected ${value} to be within [${min}, ${max}]`);
}
