import { fromRow } from '../db/keys-repo.ts';
import type { ApiKeyRow } from '../db/schema.ts';

/**
 * A key as a request uses it: its row, and its model policy parsed once, when the key is loaded
 * (by the auth hook, or the job runner), instead of on every check.
 */
export interface ApiKey extends ApiKeyRow {
  /** The models this key may use; null for any. */
  readonly allowedModelIds: ReadonlySet<string> | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  const allowed = fromRow(row).allowedModels;
  return { ...row, allowedModelIds: allowed === null ? null : new Set(allowed) };
}
