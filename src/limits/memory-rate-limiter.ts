import type { RateDecision, RateLimiter, RateRule } from './rate-limiter.ts';
import { assertValidConsume, type BucketState, fullAgainAtMs, refill, take, toDecision } from './token-bucket.ts';

export interface MemoryRateLimiterOptions {
  /** The clock when `consume` gets no `nowMs`. */
  readonly now?: () => number;
  /** How often, at most, to drop buckets that have refilled completely. */
  readonly sweepIntervalMs?: number;
}

interface StoredBucket extends BucketState {
  /** When this bucket is full again, i.e. when it can be forgotten without changing any answer. */
  readonly fullAtMs: number;
}

/**
 * Token buckets in a Map, for a single process. Every `consume` runs synchronously between two
 * awaits, so concurrent callers in the event loop can never interleave inside one.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, StoredBucket>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  /** Buckets currently remembered (full ones are dropped lazily). */
  get bucketCount(): number {
    return this.#buckets.size;
  }

  async consume(key: string, cost: number, rule: RateRule, nowMs: number = this.#now()): Promise<RateDecision> {
    assertValidConsume(cost, rule);
    this.#sweep(nowMs);
    const available = refill(this.#buckets.get(key), rule, nowMs);
    const { allowed, tokensAfter } = take(available, cost, rule);
    // Only a spend changes the bucket: a refusal takes nothing, and the refill is a function of
    // time, so it need not be written down.
    if (allowed && cost > 0) {
      this.#buckets.set(key, { tokens: tokensAfter, updatedAtMs: nowMs, fullAtMs: fullAgainAtMs(tokensAfter, rule, nowMs) });
    }
    return toDecision(allowed, tokensAfter, cost, rule);
  }

  /** A full bucket answers exactly like a missing one, so idle keys cost no memory for long. */
  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweepMs < this.#sweepIntervalMs) return;
    this.#lastSweepMs = nowMs;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.fullAtMs <= nowMs) this.#buckets.delete(key);
    }
  }
}
