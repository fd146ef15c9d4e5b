import type { RateDecision, RateRule } from './rate-limiter.ts';

/**
 * The token-bucket arithmetic both backends share. `redis-rate-limiter.ts` repeats `refill` and
 * `take` in Lua (it must run inside Redis to be atomic); keep the two in step.
 */

/** A bucket as stored: the tokens it held at `updatedAtMs`. No entry means a full bucket. */
export interface BucketState {
  readonly tokens: number;
  readonly updatedAtMs: number;
}

/**
 * Tokens are fractional and refills are sums of divisions, so a bucket that should hold exactly
 * `cost` can hold `cost - 1e-15`. Shortfalls below this count as nothing, so a client that waits
 * exactly `retryAfterMs` is let in; the over-spend it permits is a billionth of a token.
 */
export const TOKEN_EPSILON = 1e-9;

export function assertValidConsume(cost: number, rule: RateRule): void {
  if (!Number.isFinite(cost) || cost < 0) throw new RangeError(`rate limit cost must be a finite number >= 0, got ${cost}`);
  if (!Number.isFinite(rule.limit) || rule.limit <= 0) throw new RangeError(`rate limit must be a finite number > 0, got ${rule.limit}`);
  if (!Number.isFinite(rule.windowMs) || rule.windowMs <= 0) {
    throw new RangeError(`rate limit windowMs must be a finite number > 0, got ${rule.windowMs}`);
  }
}

/** Tokens in the bucket at `nowMs`: the stored tokens plus the continuous refill, capped at `limit`. */
export function refill(state: BucketState | undefined, rule: RateRule, nowMs: number): number {
  if (state === undefined) return rule.limit;
  // A clock that steps back (NTP, a test) must not drain the bucket.
  const elapsedMs = Math.max(0, nowMs - state.updatedAtMs);
  // Multiply before dividing: whole-token refills then come out exact.
  return Math.min(rule.limit, state.tokens + (elapsedMs * rule.limit) / rule.windowMs);
}

/** Whether `cost` fits in `available` tokens, and what is left; a refusal leaves the bucket as it was. */
export function take(available: number, cost: number, rule: RateRule): { allowed: boolean; tokensAfter: number } {
  if (cost > rule.limit || available + TOKEN_EPSILON < cost) return { allowed: false, tokensAfter: available };
  return { allowed: true, tokensAfter: Math.max(0, available - cost) };
}

/** The caller-facing numbers for a bucket left with `tokensAfter` tokens. */
export function toDecision(allowed: boolean, tokensAfter: number, cost: number, rule: RateRule): RateDecision {
  let retryAfterMs = 0;
  if (!allowed) retryAfterMs = cost > rule.limit ? rule.windowMs : Math.max(1, msToRefill(cost - tokensAfter, rule));
  return {
    allowed,
    limit: rule.limit,
    remaining: Math.floor(tokensAfter + TOKEN_EPSILON),
    resetMs: msToRefill(rule.limit - tokensAfter, rule),
    retryAfterMs,
  };
}

/**
 * Whole milliseconds until `tokens` more have refilled. The shortfall `take` forgives is forgiven
 * here too, so waiting exactly this long always lets the same `cost` through.
 */
function msToRefill(tokens: number, rule: RateRule): number {
  return Math.max(0, Math.ceil(((tokens - TOKEN_EPSILON) * rule.windowMs) / rule.limit));
}

/** When a bucket holding `tokens` will be full again; a full bucket is the same as no bucket. */
export function fullAgainAtMs(tokens: number, rule: RateRule, nowMs: number): number {
  return nowMs + ((rule.limit - tokens) * rule.windowMs) / rule.limit;
}
