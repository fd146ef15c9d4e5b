/**
 * In-flight limits: at most `max` requests per key at once (a key's `max_concurrent`). A slot is a
 * lease with a lifetime, so a holder that dies without releasing (crash, lost connection to Redis)
 * frees its slot after `leaseMs` instead of shrinking the key's limit forever. Implementations:
 * `MemoryConcurrencyLimiter` (one process) and `RedisConcurrencyLimiter` (replicas).
 */

/** One held slot. */
export interface Lease {
  /**
   * Gives the slot back. Idempotent, and safe after expiry: it only ever frees this lease's own
   * slot, never one granted to someone else since.
   */
  release(): Promise<void>;
}

/** Counts holders per key; atomic per key, so concurrent callers can never exceed `max`. */
export interface ConcurrencyLimiter {
  /**
   * A slot for `key` if fewer than `max` unexpired leases are held, else null. `leaseMs` must
   * outlast the longest legitimate hold (the request deadline): a lease still in use when it
   * expires lets one more holder in.
   */
  acquire(key: string, max: number, leaseMs: number): Promise<Lease | null>;
}

export function assertValidAcquire(max: number, leaseMs: number): void {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency max must be an integer >= 1, got ${max}`);
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new RangeError(`leaseMs must be a finite number > 0, got ${leaseMs}`);
}
