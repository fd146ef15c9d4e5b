import { randomUUID } from 'node:crypto';
import { assertValidAcquire, type ConcurrencyLimiter, type Lease } from './concurrency-limiter.ts';

export interface MemoryConcurrencyLimiterOptions {
  /** The clock leases expire by. */
  readonly now?: () => number;
  /** How often, at most, to drop keys whose leases were all leaked (never released). */
  readonly sweepIntervalMs?: number;
}

/**
 * Leases in a Map, for a single process. Each lease is remembered by id with its expiry rather
 * than as a bare count, because expiry and an idempotent release both need to know which slot is
 * whose. `acquire` runs synchronously, so concurrent callers cannot interleave inside it.
 */
export class MemoryConcurrencyLimiter implements ConcurrencyLimiter {
  /** key → lease id → expiry (ms). A key with no live lease has no entry. */
  readonly #leases = new Map<string, Map<string, number>>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryConcurrencyLimiterOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  /** Keys with at least one lease not yet pruned. */
  get keyCount(): number {
    return this.#leases.size;
  }

  async acquire(key: string, max: number, leaseMs: number): Promise<Lease | null> {
    assertValidAcquire(max, leaseMs);
    const nowMs = this.#now();
    this.#sweep(nowMs);
    const held = this.#leases.get(key) ?? new Map<string, number>();
    pruneExpired(held, nowMs);
    if (held.size >= max) return null;
    const id = randomUUID();
    held.set(id, nowMs + leaseMs);
    this.#leases.set(key, held);
    return {
      release: async () => {
        const current = this.#leases.get(key);
        if (current === undefined) return;
        current.delete(id);
        if (current.size === 0) this.#leases.delete(key);
      },
    };
  }

  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweepMs < this.#sweepIntervalMs) return;
    this.#lastSweepMs = nowMs;
    for (const [key, held] of this.#leases) {
      pruneExpired(held, nowMs);
      if (held.size === 0) this.#leases.delete(key);
    }
  }
}

function pruneExpired(held: Map<string, number>, nowMs: number): void {
  for (const [id, expiresAtMs] of held) {
    if (expiresAtMs <= nowMs) held.delete(id);
  }
}
