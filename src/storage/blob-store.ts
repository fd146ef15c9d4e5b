import type { Readable } from 'node:stream';

/** Where image bytes live. One implementation per backend (local disk now, S3 later). */
export interface BlobStore {
  /** Stores bytes under `key` (idempotent: the same key always holds the same bytes). */
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
  /** A stream of the blob and its size, or null when there is no such blob. */
  get(key: string): Promise<{ stream: Readable; sizeBytes: number } | null>;
  delete(key: string): Promise<void>;
}
