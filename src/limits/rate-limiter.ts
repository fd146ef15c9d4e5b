/**
 * Request-rate limiting: one token bucket per key. Capacity is `limit` tokens and the bucket refills
 * continuously at `limit` tokens per `windowMs`, so a client may burst up to `limit` and then
 * sustain `limit / windowMs` — unlike fixed windows, there is no boundary at which 2×limit fit in a
 * moment. Implementations: `MemoryRateLimiter` (one process) and `RedisRateLimiter` (replicas).
 */

/** How much a key may spend: `limit` tokens, refilled evenly over `windowMs`. */
export interface RateRule {
  /** Bucket capacity and the number of tokens refilled per window; finite and > 0. */
  readonly limit: number;
  /** How long an empty bucket takes to refill completely; finite and > 0. */
  readonly windowMs: number;
}

/** The answer to one `consume`, in the numbers `x-ratelimit-*` and `Retry-After` headers need. */
export interface RateDecision {
  readonly allowed: boolean;
  /** The rule's `limit` (the bucket capacity). */
  readonly limit: number;
  /** Whole tokens left after this call (floored). */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again (0 when it is full). */
  readonly resetMs: number;
  /**
   * 0 when allowed; otherwise milliseconds until `cost` tokens will be there. A `cost` above
   * `limit` can never fit: it is denied with `retryAfterMs = windowMs` (a finite, honest "not
   * soon"), and the caller should turn it into a client error rather than a retry loop.
   */
  readonly retryAfterMs: number;
}

/** A token-bucket rate limiter. Implementations are atomic per key: concurrent callers never double-spend. */
export interface RateLimiter {
  /**
   * Takes `cost` tokens from `key`'s bucket if they are all there; a denied call takes nothing.
   * `cost` 0 only reports the bucket. `nowMs` overrides the clock for tests of the in-memory
   * backend; the Redis backend always uses the Redis server's clock so every replica agrees, and
   * ignores it. Throws `RangeError` for a negative or non-finite cost or an invalid rule (our bug,
   * never a client's).
   */
  consume(key: string, cost: number, rule: RateRule, nowMs?: number): Promise<RateDecision>;
}
