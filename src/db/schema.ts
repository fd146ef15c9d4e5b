import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The database as Kysely sees it. Times are epoch milliseconds (integers) so the same code runs on
 * SQLite and PostgreSQL without date-type differences.
 */
export interface Database {
  api_keys: ApiKeysTable;
  images: ImagesTable;
  ledger_entries: LedgerEntriesTable;
  jobs: JobsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  organizations: OrganizationsTable;
  organization_credits: OrganizationCreditsTable;
  price_groups: PriceGroupsTable;
}

/** A customer account: keys share its budget, its prepaid balance and its price group. */
export interface OrganizationsTable {
  id: string;
  name: string;
  price_group: string;
  /** Spending cap over every key of the organisation, micro-dollars, or null for none. */
  budget_micro_usd: number | null;
  /** Σ of its ledger entries (holds, releases, charges), kept in step in the same transactions. */
  committed_micro_usd: number;
  /** Σ of its credits (top-ups and corrections); the balance is credited − committed. */
  credited_micro_usd: number;
  metadata: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  /** Deleted organisations keep their rows: the ledger still names them. */
  deleted_at_ms: number | null;
}

/** The organisation side of the ledger: append-only top-ups (positive) and corrections (negative). */
export interface OrganizationCreditsTable {
  seq: Generated<number>;
  id: string;
  organization_id: string;
  amount_micro_usd: number;
  reference: string | null;
  created_at_ms: number;
}

export interface PriceGroupsTable {
  id: string;
  /** Applied to the model's price (the catalog's, or the group's own for that model). */
  multiplier: number;
  /** JSON object: model id → PriceRule replacing the catalog's list price in this group. */
  model_prices: string;
  created_at_ms: number;
  updated_at_ms: number;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface JobsTable {
  id: string;
  api_key_id: string;
  kind: 'generation';
  status: JobStatus;
  /** The validated request body, as the client sent it. */
  request_json: string;
  webhook_url: string | null;
  /** HTTP status and body of the finished request (an ImagesResponse or an error envelope). */
  result_status: number | null;
  result_json: string | null;
  attempts: number;
  /** The process running it, and until when its claim holds (a dead process's job is run again). */
  locked_by: string | null;
  lease_until_ms: number | null;
  created_at_ms: number;
  updated_at_ms: number;
  completed_at_ms: number | null;
}

/** pending (waiting for its next attempt) → delivering (claimed) → delivered | failed (attempts used up). */
export type WebhookDeliveryStatus = 'pending' | 'delivering' | 'delivered' | 'failed';

/** One webhook call owed to a client, kept until it is delivered or its attempts are used up. */
export interface WebhookDeliveriesTable {
  id: string;
  /** The job it reports; one delivery per job. */
  job_id: string;
  url: string;
  /**
   * The JSON body sent, in its kept form (`images/stored-body.ts`): images are references to
   * stored blobs, made into fresh links (or base64) at each attempt, so a retry an hour later
   * carries links that work and the row holds no megabytes of base64.
   */
  payload_json: string;
  status: WebhookDeliveryStatus;
  /** Attempts started so far (a claim counts as one). */
  attempts: number;
  /** When it may be tried (again). */
  next_attempt_at_ms: number;
  /** The process sending it, and until when its claim holds (a dead process's delivery is retaken). */
  locked_by: string | null;
  lease_until_ms: number | null;
  /** Why the last attempt failed, for operators. */
  last_error: string | null;
  created_at_ms: number;
  updated_at_ms: number;
  delivered_at_ms: number | null;
}

export interface ApiKeysTable {
  id: string;
  /** SHA-256 of the plaintext key, hex. The plaintext is never stored. */
  key_hash: string;
  /** The first characters of the key, to recognise it in lists. */
  display_prefix: string;
  name: string;
  created_at_ms: number;
  revoked_at_ms: number | null;
  /** 'user' keys call /v1; 'admin' keys call /admin/v1. */
  role: string;
  /** JSON array of catalog model ids, or null for every model. */
  allowed_models: string | null;
  /** Spending cap in micro-dollars (1e-6 USD), or null for none. */
  budget_micro_usd: number | null;
  /** Running total of holds and charges, kept in step with the ledger in the same transaction. */
  committed_micro_usd: number;
  requests_per_minute: number | null;
  images_per_minute: number | null;
  max_concurrent: number | null;
  expires_at_ms: number | null;
  /** JSON object of operator labels (owner, project…). */
  metadata: string | null;
  updated_at_ms: number;
  /** The organisation the key belongs to, or null. */
  organization_id: string | null;
}

export interface LedgerEntriesTable {
  seq: Generated<number>;
  id: string;
  api_key_id: string;
  request_id: string;
  kind: 'hold' | 'release' | 'charge';
  /** Signed micro-dollars: holds and charges positive, releases negative. */
  amount_micro_usd: number;
  /** For a release, the hold it gives back. */
  ref_id: string | null;
  model: string;
  image_count: number;
  created_at_ms: number;
  /** For a hold: after this, an unsettled hold (its process died) is released by the sweeper. */
  expires_at_ms: number | null;
  /** The organisation charged with the key, as it was when the request was held. */
  organization_id: string | null;
  /** The price group and the price (JSON PriceRule) resolved when the request was held. */
  price_group: string | null;
  price_json: string | null;
  /** For a charge: the channel that delivered, and what its images cost upstream. */
  channel: string | null;
  upstream_cost_micro_usd: number | null;
}

export interface ImagesTable {
  id: string;
  api_key_id: string;
  request_id: string;
  model: string;
  provider: string;
  blob_key: string;
  format: string;
  width: number;
  height: number;
  size_bytes: number;
  created_at_ms: number;
  /** When the sweeper deletes the blob and this row. */
  expires_at_ms: number;
  seq: Generated<number>;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type ImageRow = Selectable<ImagesTable>;
export type LedgerRow = Selectable<LedgerEntriesTable>;
export type JobRow = Selectable<JobsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type NewImageRow = Insertable<ImagesTable>;
export type OrganizationRow = Selectable<OrganizationsTable>;
export type PriceGroupRow = Selectable<PriceGroupsTable>;
