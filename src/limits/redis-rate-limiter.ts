import type { Redis } from 'ioredis';
import type { RateDecision, RateLimiter, RateRule } from './rate-limiter.ts';
import { RedisScript } from './redis-script.ts';
import { assertValidConsume, TOKEN_EPSILON, toDecision } from './token-bucket.ts';

/**
 * The token bucket of `token-bucket.ts` (`refill` + `take`), run inside Redis so that reading,
 * deciding and writing one bucket is a single atomic step for every replica.
 *
 * KEYS[1]  the bucket: a hash {tokens, ts}; no key means a full bucket.
 * ARGV     cost, limit, windowMs, epsilon
 * returns  {allowed (1|0), tokens left as a %.17g string}
 *
 * The clock is Redis's own `TIME`, not the caller's, so replicas with skewed clocks still share one
 * timeline. Redis 7 always replicates a script's effects (the written values) rather than the
 * script, so a non-deterministic command like TIME is allowed (Redis 5–6 need effects replication,
 * their default since 5.0). Numbers passed straight to redis.call are written with full double
 * precision; `tostring` would round to 14 digits, hence %.17g for the reply.
 */
const TOKEN_BUCKET = new RedisScript(`
local cost = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window_ms = tonumber(ARGV[3])
local epsilon = tonumber(ARGV[4])
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000

local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = limit
else
  local elapsed_ms = math.max(0, now_ms - ts)
  tokens = math.min(limit, tokens + elapsed_ms * limit / window_ms)
end

if cost > limit or tokens + epsilon < cost then
  return {0, string.format('%.17g', tokens)}
end
tokens = math.max(0, tokens - cost)
if cost > 0 then
  redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now_ms)
  -- Refilling from empty takes windowMs; by then the bucket is full and the key may go.
  redis.call('PEXPIRE', KEYS[1], math.ceil(window_ms))
end
return {1, string.format('%.17g', tokens)}
`);

/** Token buckets in Redis under `${prefix}rl:${key}`, shared by every replica using the same prefix. */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: Redis;
  readonly #prefix: string;

  /** `client` stays owned by the caller, who closes it. */
  constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  /** `nowMs` is ignored: the bucket runs on the Redis server's clock (see TOKEN_BUCKET). */
  async consume(key: string, cost: number, rule: RateRule, _nowMs?: number): Promise<RateDecision> {
    assertValidConsume(cost, rule);
    const reply = await TOKEN_BUCKET.run(this.#client, [`${this.#prefix}rl:${key}`], [cost, rule.limit, rule.windowMs, TOKEN_EPSILON]);
    const { allowed, tokensAfter } = parseReply(reply);
    return toDecision(allowed, tokensAfter, cost, rule);
  }
}

function parseReply(reply: unknown): { allowed: boolean; tokensAfter: number } {
  if (Array.isArray(reply) && reply.length === 2) {
    const items: readonly unknown[] = reply;
    const [allowed, tokens] = items;
    const tokensAfter = typeof tokens === 'string' ? Number(tokens) : Number.NaN;
    if ((allowed === 0 || allowed === 1) && Number.isFinite(tokensAfter)) return { allowed: allowed === 1, tokensAfter };
  }
  throw new TypeError(`unexpected reply from the token bucket script: ${JSON.stringify(reply)}`);
}
