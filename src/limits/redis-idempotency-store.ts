import type { Redis } from 'ioredis';
import { assertValidTtl, type BeginResult, DEFAULT_IN_PROGRESS_TTL_MS, type IdempotencyStore, recordName, type StoredResponse } from './idempotency-store.ts';
import { RedisScript } from './redis-script.ts';

/*
 * One record per (scope, key): a hash {state: in_progress|done, fp, response (JSON)} whose key TTL
 * is the in-progress lease, then the replay lifetime. Each script reads and writes one record in a
 * single atomic step; the claim in BEGIN is the SET-NX-with-PX of a plain string, extended to a
 * hash so that the compare with the stored fingerprint happens in the same step.
 */

/**
 * KEYS[1] the record; ARGV fingerprint, inProgressTtlMs.
 * returns {'started'} | {'in_progress'} | {'mismatch'} | {'done', responseJson}
 */
const BEGIN = new RedisScript(`
local record = redis.call('HMGET', KEYS[1], 'state', 'fp', 'response')
if not record[1] then
  redis.call('HSET', KEYS[1], 'state', 'in_progress', 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'started'}
end
if record[2] ~= ARGV[1] then
  return {'mismatch'}
end
if record[1] == 'done' and record[3] then
  return {'done', record[3]}
end
return {'in_progress'}
`);

/**
 * Only an in-progress record becomes done: a record that expired meanwhile is not resurrected
 * (its fingerprint is gone), and a done record is never overwritten.
 * KEYS[1] the record; ARGV responseJson, ttlMs. returns 1 stored, 0 not.
 */
const COMPLETE = new RedisScript(`
if redis.call('HGET', KEYS[1], 'state') ~= 'in_progress' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'done', 'response', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`);

/** Deletes the record only while in progress, so a late abandon cannot erase a stored response. */
const ABANDON = new RedisScript(`
if redis.call('HGET', KEYS[1], 'state') == 'in_progress' then
  return redis.call('DEL', KEYS[1])
end
return 0
`);

/** Idempotency records in Redis under `${prefix}idem:${scope}:${key}`, shared by every replica. */
export class RedisIdempotencyStore implements IdempotencyStore {
  readonly #client: Redis;
  readonly #prefix: string;

  /** `client` stays owned by the caller, who closes it. */
  constructor(client: Redis, prefix: string) {
    this.#client = client;
    this.#prefix = prefix;
  }

  async begin(scope: string, key: string, fingerprint: string, inProgressTtlMs = DEFAULT_IN_PROGRESS_TTL_MS): Promise<BeginResult> {
    assertValidTtl('inProgressTtlMs', inProgressTtlMs);
    const reply = await BEGIN.run(this.#client, [this.#key(scope, key)], [fingerprint, Math.ceil(inProgressTtlMs)]);
    if (Array.isArray(reply)) {
      const items: readonly unknown[] = reply;
      const [state, responseJson] = items;
      if (state === 'started' || state === 'in_progress' || state === 'mismatch') return { state };
      if (state === 'done' && typeof responseJson === 'string') return { state, response: parseStoredResponse(responseJson) };
    }
    throw new TypeError(`unexpected reply from the idempotency begin script: ${JSON.stringify(reply)}`);
  }

  async complete(scope: string, key: string, response: StoredResponse, ttlMs: number): Promise<boolean> {
    assertValidTtl('ttlMs', ttlMs);
    const json = JSON.stringify({ status: response.status, headers: response.headers, body: response.body });
    const reply = await COMPLETE.run(this.#client, [this.#key(scope, key)], [json, Math.ceil(ttlMs)]);
    return reply === 1;
  }

  async abandon(scope: string, key: string): Promise<void> {
    await ABANDON.run(this.#client, [this.#key(scope, key)], []);
  }

  #key(scope: string, key: string): string {
    return `${this.#prefix}idem:${recordName(scope, key)}`;
  }
}

/** Reads back what `complete` wrote; anything else in the record is a bug or tampering, not a replay. */
function parseStoredResponse(json: string): StoredResponse {
  const value: unknown = JSON.parse(json);
  if (typeof value === 'object' && value !== null && 'status' in value && 'headers' in value && 'body' in value) {
    const { status, headers, body } = value;
    if (typeof status === 'number' && Number.isInteger(status) && typeof body === 'string' && isStringRecord(headers)) {
      return { status, headers, body };
    }
  }
  throw new TypeError('stored idempotent response is malformed');
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((item) => typeof item === 'string');
}
