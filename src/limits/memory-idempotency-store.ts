import {
  assertValidTtl,
  type BeginResult,
  DEFAULT_IN_PROGRESS_TTL_MS,
  type IdempotencyStore,
  recordName,
  type StoredResponse,
} from './idempotency-store.ts';

export interface MemoryIdempotencyStoreOptions {
  /** The clock records expire by. */
  readonly now?: () => number;
  /** How often, at most, to drop expired records that were never looked at again. */
  readonly sweepIntervalMs?: number;
}

type MemoryRecord =
  | { readonly state: 'in_progress'; readonly fingerprint: string; readonly expiresAtMs: number }
  | { readonly state: 'done'; readonly fingerprint: string; readonly response: StoredResponse; readonly expiresAtMs: number };

/**
 * Records in a Map, for a single process. Each method runs synchronously, so the check and the
 * claim in `begin` cannot interleave with another caller's. Responses are copied in and out so a
 * caller mutating its object later cannot change what is replayed.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
  }

  /** Records held, including expired ones not yet swept. */
  get recordCount(): number {
    return this.#records.size;
  }

  async begin(scope: string, key: string, fingerprint: string, inProgressTtlMs = DEFAULT_IN_PROGRESS_TTL_MS): Promise<BeginResult> {
    assertValidTtl('inProgressTtlMs', inProgressTtlMs);
    const nowMs = this.#now();
    this.#sweep(nowMs);
    const name = recordName(scope, key);
    const record = this.#live(name, nowMs);
    if (record === undefined) {
      this.#records.set(name, { state: 'in_progress', fingerprint, expiresAtMs: nowMs + inProgressTtlMs });
      return { state: 'started' };
    }
    if (record.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (record.state === 'done') return { state: 'done', response: structuredClone(record.response) };
    return { state: 'in_progress' };
  }

  async complete(scope: string, key: string, response: StoredResponse, ttlMs: number): Promise<boolean> {
    assertValidTtl('ttlMs', ttlMs);
    const nowMs = this.#now();
    const name = recordName(scope, key);
    const record = this.#live(name, nowMs);
    if (record?.state !== 'in_progress') return false;
    this.#records.set(name, {
      state: 'done',
      fingerprint: record.fingerprint,
      response: structuredClone(response),
      expiresAtMs: nowMs + ttlMs,
    });
    return true;
  }

  async abandon(scope: string, key: string): Promise<void> {
    const name = recordName(scope, key);
    if (this.#live(name, this.#now())?.state === 'in_progress') this.#records.delete(name);
  }

  /** The record if it has not expired; an expired one is dropped on sight. */
  #live(name: string, nowMs: number): MemoryRecord | undefined {
    const record = this.#records.get(name);
    if (record === undefined || record.expiresAtMs > nowMs) return record;
    this.#records.delete(name);
    return undefined;
  }

  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweepMs < this.#sweepIntervalMs) return;
    this.#lastSweepMs = nowMs;
    for (const [name, record] of this.#records) {
      if (record.expiresAtMs <= nowMs) this.#records.delete(name);
    }
  }
}
