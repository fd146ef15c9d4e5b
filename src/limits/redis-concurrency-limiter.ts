import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { assertValidAcquire, type ConcurrencyLimiter, type Lease } from './concurrency-limiter.ts';
import { RedisScript } from './redis-script.ts';

/**
 * Prune, count and add in one atomic step, so N replicas racing for the last slot grant it once.
 *
 * KEYS[1]  a sorted set: member = lease id, score = expiry in ms on Redis's clock
 * ARGV     lease id, max, leaseMs
 * returns  1 granted, 0 full
 *
 * Expiry uses Redis `TIME` so every replica judges leases by one clock (allowed in scripts since
 * Redis 7 replicates effects; see redis-rate-limiter.ts). The key's own TTL follows its longest
 * lease, so a key whose holders all died disappears by itself.
 */
const ACQUIRE = new RedisScript(`
local lease_ms = tonumber(ARGV[3])
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + lease_ms, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease_ms then
  redis.call('PEXPIRE', KEYS[1], lease_ms)
end
return 1
`);

/** Leases in Redis under `${prefix}cc:${key}`, shared by every replica using the same prefix. */
export class RedisConcurrencyLimiter implements ConcurrencyLimiter {
  readonly #client: Redis;
  readonly #prefix: string;

  /** `client` stays owned by the caller, who closes it. */
  constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async acquire(key: string, max: number, leaseMs: number): Promise<Lease | null> {
    assertValidAcquire(max, leaseMs);
    const redisKey = `${this.#prefix}cc:${key}`;
    const id = randomUUID();
    // PEXPIRE and scores take whole milliseconds; rounding up never shortens a lease.
    const reply = await ACQUIRE.run(this.#client, [redisKey], [id, max, Math.ceil(leaseMs)]);
    if (reply !== 0 && reply !== 1) throw new TypeError(`unexpected reply from the acquire script: ${JSON.stringify(reply)}`);
    if (reply === 0) return null;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        // ZREM of one id is atomic on its own and removes only this lease, even if it already
        // expired and its slot went to someone else.
        await this.#client.zrem(redisKey, id);
        released = true;
      },
    };
  }
}
