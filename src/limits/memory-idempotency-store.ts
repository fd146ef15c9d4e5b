import { assertValidTtl, type BeginResult, DEFAULT_IN_PROGRESS_TTL_MS, type IdempotencyStore, recordName, type StoredResponse } from './idempotency-store.ts';

export interface MemoryIdempotencyStoreOptions {
  /** The clock records expire by. */
  readonly now?: () => number;
  /** How often, at most, to drop expired records that were never looked at again. */
  readonly sweepIntervalMs?: number;
  /** Finished records kept at the most; the oldest go first (default 100,000). */
  readonly maxRecords?: number;
  /** Bytes of kept response bodies at the most; the oldest go first (default 64 MiB). */
  readonly maxBodyBytes?: number;
}

type MemoryRecord =
  | { readonly state: 'in_progress'; readonly fingerprint: string; readonly expiresAtMs: number }
  | { readonly state: 'done'; readonly fingerprint: string; readonly response: StoredResponse; readonly expiresAtMs: number };

/**
 * Records in a Map, for a single process. Each method runs synchronously, so the check and the
 * claim in `begin` cannot interleave with another caller's. Responses are copied in and out so a
 * caller mutating its object later cannot change what is replayed.
 *
 * Memory is bounded by record count and body bytes: past either cap the oldest finished records
 * are dropped, and a dropped record behaves as an expired one (the key can be used afresh).
 * Images answers keep references, not images (stored-body.ts), so a record is a few hundred bytes.
 */
export class MemoryIdempotencyStore implements IdempotencyStore {
  readonly #records = new Map<string, MemoryRecord>();
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  readonly #maxRecords: number;
  readonly #maxBodyBytes: number;
  #bodyBytes = 0;
  #lastSweepMs = Number.NEGATIVE_INFINITY;

  constructor(options: MemoryIdempotencyStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#maxRecords = options.maxRecords ?? 100_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
  }

  /** Bytes of the response bodies held. */
  get bodyBytes(): number {
    return this.#bodyBytes;
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
    // Re-inserted so that Map order is completion order: the oldest finished record comes first.
    this.#records.delete(name);
    this.#records.set(name, {
      state: 'done',
      fingerprint: record.fingerprint,
      response: structuredClone(response),
      expiresAtMs: nowMs + ttlMs,
    });
    this.#bodyBytes += response.body.length;
    this.#evictOverCaps();
    return true;
  }

  #evictOverCaps(): void {
    for (const [name, record] of this.#records) {
      if (this.#records.size <= this.#maxRecords && this.#bodyBytes <= this.#maxBodyBytes) return;
      if (record.state === 'done') this.#drop(name);
    }
  }

  #drop(name: string): void {
    const record = this.#records.get(name);
    if (record?.state === 'done') this.#bodyBytes -= record.response.body.length;
    this.#records.delete(name);
  }

  async abandon(scope: string, key: string): Promise<void> {
    const name = recordName(scope, key);
    if (this.#live(name, this.#now())?.state === 'in_progress') this.#records.delete(name);
  }

  /** The record if it has not expired; an expired one is dropped on sight. */
  #live(name: string, nowMs: number): MemoryRecord | undefined {
    const record = this.#records.get(name);
    if (record === undefined || record.expiresAtMs > nowMs) return record;
    this.#drop(name);
    return undefined;
  }

  #sweep(nowMs: number): void {
    if (nowMs - this.#lastSweepMs < this.#sweepIntervalMs) return;
    this.#lastSweepMs = nowMs;
    for (const [name, record] of this.#records) {
      if (record.expiresAtMs <= nowMs) this.#drop(name);
    }
  }
}
