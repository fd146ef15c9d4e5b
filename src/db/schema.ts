import type { Generated, Insertable, Selectable } from 'kysely';

/**
 * The database as Kysely sees it. Times are epoch milliseconds (integers) so the same code runs on
 * SQLite and PostgreSQL without date-type differences.
 */
export interface Database {
  api_keys: ApiKeysTable;
  images: ImagesTable;
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
export type NewImageRow = Insertable<ImagesTable>;
