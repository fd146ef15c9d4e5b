import { Redis } from 'ioredis';
import { type BreakerBoard, LocalBreakerBoard, RedisBreakerBoard } from './breaker-board.ts';
import type { ConcurrencyLimiter } from './concurrency-limiter.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { MemoryConcurrencyLimiter } from './memory-concurrency-limiter.ts';
import { MemoryIdempotencyStore } from './memory-idempotency-store.ts';
import { MemoryRateLimiter } from './memory-rate-limiter.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { RedisConcurrencyLimiter } from './redis-concurrency-limiter.ts';
import { RedisIdempotencyStore } from './redis-idempotency-store.ts';
import { RedisRateLimiter } from './redis-rate-limiter.ts';

export type { BreakerBoard } from './breaker-board.ts';
export type { ConcurrencyLimiter, Lease } from './concurrency-limiter.ts';
export { type BeginResult, DEFAULT_IN_PROGRESS_TTL_MS, type IdempotencyStore, requestFingerprint, type StoredResponse } from './idempotency-store.ts';
export type { RateDecision, RateLimiter, RateRule } from './rate-limiter.ts';

export interface LimitsOptions {
  /**
   * Connection errors of the Redis client (it reconnects by itself; commands issued meanwhile
   * reject). Without a handler ioredis prints them to stderr.
   */
  readonly onRedisError?: (error: Error) => void;
}

/** The limit backends a gateway process uses, all of one kind. */
export interface Limits {
  readonly rateLimiter: RateLimiter;
  readonly concurrency: ConcurrencyLimiter;
  readonly idempotency: IdempotencyStore;
  /** Shares open circuit breakers of these channels between replicas (a no-op in memory). */
  breakerBoard(channelIds: readonly string[]): BreakerBoard;
  /** Closes the Redis connection (after its pending replies); nothing to do in memory. */
  close(): Promise<void>;
}

/**
 * In memory without `redisUrl` (one process: limits are per process), in Redis with it (replicas
 * sharing `prefix` share every bucket, lease and record). `prefix` is used verbatim in front of
 * every key, so end it with a separator (`imagegate:`).
 */
export function createLimits(redisUrl: string | undefined, prefix: string, options: LimitsOptions = {}): Limits {
  if (redisUrl === undefined) {
    return {
      rateLimiter: new MemoryRateLimiter(),
      concurrency: new MemoryConcurrencyLimiter(),
      idempotency: new MemoryIdempotencyStore(),
      breakerBoard: () => new LocalBreakerBoard(),
      close: async () => {},
    };
  }
  const client = new Redis(redisUrl, {
    // ioredis would hold a command through 20 reconnects by default; a request waiting on its
    // rate limit should fail within a couple of seconds instead, and the caller decides whether
    // that means 503 or letting it through.
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    // How long a disconnect waits for the socket to close before destroying it. ioredis starts
    // this timer even for a socket that is already gone (closing while Redis is down), and the
    // timer keeps the process alive; its 2 s default would delay every such shutdown.
    disconnectTimeout: 200,
  });
  if (options.onRedisError !== undefined) client.on('error', options.onRedisError);
  const boards: RedisBreakerBoard[] = [];
  return {
    rateLimiter: new RedisRateLimiter(client, prefix),
    concurrency: new RedisConcurrencyLimiter(client, prefix),
    idempotency: new RedisIdempotencyStore(client, prefix),
    breakerBoard: (channelIds) => {
      const board = new RedisBreakerBoard(client, prefix, channelIds);
      boards.push(board);
      return board;
    },
    close: async () => {
      for (const board of boards) board.close();
      // QUIT lets replies already asked for arrive first. A client that is not connected cannot
      // send it, and would keep its reconnect timer (and the process) alive: drop it outright.
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}
