import { createHash } from 'node:crypto';

/**
 * Replays for the `Idempotency-Key` header: the first request with a key runs, a concurrent
 * duplicate is told it is still running, a later duplicate gets the first one's stored response,
 * and the same key with a different request is refused. Records are per scope (the API key id),
 * so two clients never share keys. Implementations: `MemoryIdempotencyStore` (one process) and
 * `RedisIdempotencyStore` (replicas).
 */

/** A response as it will be replayed, byte for byte. */
export interface StoredResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type BeginResult =
  /** This caller owns the key: run the request, then `complete` or `abandon`. */
  | { readonly state: 'started' }
  /** Another request with this key is running (HTTP 409 `idempotency_conflict`). */
  | { readonly state: 'in_progress' }
  /** The key was used for a different request (HTTP 422 `idempotency_key_reused`). */
  | { readonly state: 'mismatch' }
  /** The key's request finished; replay `response`. */
  | { readonly state: 'done'; readonly response: StoredResponse };

/**
 * Whoever runs a request must hold its in-progress record, so a record can be lost (its process
 * died) but never run twice at once. Until a holder's `inProgressTtlMs` runs out no one else may
 * start; after it, a retry may run again. Keep it above the request deadline, or a slow request
 * may be run a second time.
 */
export const DEFAULT_IN_PROGRESS_TTL_MS = 10 * 60_000;

export interface IdempotencyStore {
  /**
   * Atomically claims `key` in `scope`: of N concurrent calls exactly one gets 'started'. A
   * record's `fingerprint` (see `requestFingerprint`) is compared before its state, so a different
   * request is 'mismatch' whether the first is running or done.
   */
  begin(scope: string, key: string, fingerprint: string, inProgressTtlMs?: number): Promise<BeginResult>;
  /**
   * Stores the response of a started request, kept for `ttlMs`. Only an in-progress record becomes
   * done: resolves false (and stores nothing) when the record expired or was already completed.
   */
  complete(scope: string, key: string, response: StoredResponse, ttlMs: number): Promise<boolean>;
  /** Forgets an in-progress record after a failure, so a retry can run. A done record is kept. */
  abandon(scope: string, key: string): Promise<void>;
}

/**
 * What "the same request" means: SHA-256 over method, path and body, each length-prefixed so no
 * two different requests can hash the same bytes (`/a` + `bc` vs `/ab` + `c`).
 */
export function requestFingerprint(method: string, path: string, body: string | Uint8Array): string {
  const hash = createHash('sha256');
  for (const part of [method.toUpperCase(), path]) {
    const bytes = Buffer.from(part, 'utf8');
    hash.update(`${bytes.length}:`).update(bytes);
  }
  const bodyBytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  hash.update(`${bodyBytes.length}:`).update(bodyBytes);
  return hash.digest('hex');
}

/**
 * The record name for a (scope, key) pair. The scope is URI-encoded so it holds no ':', which
 * makes the first ':' the boundary: scope `a:b` + key `c` and scope `a` + key `b:c` stay apart.
 */
export function recordName(scope: string, key: string): string {
  return `${encodeURIComponent(scope)}:${key}`;
}

export function assertValidTtl(name: string, ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`${name} must be a finite number > 0, got ${ttlMs}`);
}
