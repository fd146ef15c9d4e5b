import type { Logger } from 'pino';
import type { ImagesRepo } from '../db/images-repo.ts';
import type { BlobStore } from '../storage/blob-store.ts';

export interface SweepDeps {
  readonly images: ImagesRepo;
  readonly blobs: BlobStore;
  readonly logger: Logger;
}

const BATCH = 500;
const DAY_MS = 86_400_000;

/**
 * Deletes the records of expired images, then each blob no live record points at.
 *
 * Identical images share one content-addressed blob, and a blob key starts with the UTC day it
 * was written. A new record can only point at a blob of *today* (keys are built from the current
 * date), so blobs from before yesterday can gain no new references (yesterday's could, from a
 * request that began just before midnight): deleting them cannot race with a request storing the
 * same bytes right now. Expired records of newer blobs therefore wait a day or two; their links
 * have expired already, so nothing can read them meanwhile.
 */
export async function sweepExpired(deps: SweepDeps, nowMs: number): Promise<{ records: number; blobs: number }> {
  const cutoffDay = utcDay(new Date(nowMs - DAY_MS));
  let records = 0;
  let blobs = 0;
  for (;;) {
    const expired = await deps.images.listExpired(nowMs, cutoffDay, BATCH);
    if (expired.length === 0) break;
    await deps.images.deleteByIds(expired.map((row) => row.id));
    records += expired.length;
    const candidates = new Set(expired.map((row) => row.blob_key));
    for (const key of candidates) {
      if (await deps.images.blobInUse(key)) continue;
      await deps.blobs.delete(key);
      blobs += 1;
    }
    if (expired.length < BATCH) break;
  }
  if (records > 0) deps.logger.info({ records, blobs }, 'swept expired images');
  return { records, blobs };
}

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '');
}
