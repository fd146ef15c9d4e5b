import { fromRow } from '../db/keys-repo.ts';
import type { ApiKeyRow } from '../db/schema.ts';

/** A key as the admin API and the CLI show it: settings in API units, never the hash. */
export function describeKey(row: ApiKeyRow) {
  const settings = fromRow(row);
  return {
    id: row.id,
    object: 'api_key',
    display_prefix: row.display_prefix,
    name: settings.name,
    role: settings.role,
    created_at: Math.floor(row.created_at_ms / 1000),
    revoked_at: row.revoked_at_ms === null ? null : Math.floor(row.revoked_at_ms / 1000),
    expires_at: settings.expiresAtMs === null ? null : Math.floor(settings.expiresAtMs / 1000),
    allowed_models: settings.allowedModels,
    budget_usd: settings.budgetMicroUsd === null ? null : settings.budgetMicroUsd / 1_000_000,
    committed_usd: row.committed_micro_usd / 1_000_000,
    requests_per_minute: settings.requestsPerMinute,
    images_per_minute: settings.imagesPerMinute,
    max_concurrent: settings.maxConcurrent,
    metadata: settings.metadata,
    organization_id: settings.organizationId,
  };
}
