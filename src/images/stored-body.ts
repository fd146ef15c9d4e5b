import { buffer } from 'node:stream/consumers';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import type { ImagesResponse } from './images-response.ts';
import type { ImagesOutcome } from './types.ts';

/*
 * An answer kept to be given again later (an idempotent replay, an async job's result) is kept
 * as a reference: the response's metadata, with each image as a marker naming its stored blob
 * instead of its link or its megabytes of base64. Giving it again rebuilds the body from storage,
 * with links signed afresh by whichever LinkSigner serves (the gateway's own, or S3 presigned),
 * so a replay an hour later carries links that work for a full lifetime, and memory holds a few
 * hundred bytes per kept answer instead of the images.
 */

const MARKER = 'imagegate-blob:';

/** The kept form of an answer: its JSON with blob markers where the images were. */
export function storedBody(body: ImagesResponse, records: ImagesOutcome['records']): string {
  const data = body.data.map((item, index) => {
    const key = records[index]?.blob_key ?? '';
    const { revised_prompt: revised } = item;
    const extra = revised === undefined ? {} : { revised_prompt: revised };
    return 'url' in item ? { url: `${MARKER}${key}`, ...extra } : { b64_json: `${MARKER}${key}`, ...extra };
  });
  // The fields in the order imagesResponseBody writes them (everything, then `data`), so a replay
  // is byte for byte the first answer.
  const { data: _images, ...rest } = body;
  return JSON.stringify({ ...rest, data });
}

/** The kept answer of stored image records (a job re-run after a crash that followed its charge). */
export function storedBodyOfRecords(extra: Omit<ImagesResponse, 'data'>, blobKeys: readonly string[], responseFormat: 'url' | 'b64_json'): string {
  const data = blobKeys.map((key) => (responseFormat === 'url' ? { url: `${MARKER}${key}` } : { b64_json: `${MARKER}${key}` }));
  return JSON.stringify({ ...extra, data });
}

/** A marker as `storedBody` writes it (JSON.stringify leaves these characters as they are). */
const MARKED = /"(url|b64_json)":"imagegate-blob:([0-9]{8}\/[0-9a-f]{32}\.(?:png|jpeg|webp))"/g;

/**
 * The answer to send for a kept body: markers become fresh links, or the stored bytes as base64
 * (copied in as bytes, not escaped: base64 is ASCII). A kept error answer has no markers and is
 * sent as it was kept.
 */
export async function resolveStoredBody(
  text: string,
  deps: { readonly links: LinkSigner; readonly blobs: BlobStore },
  expiresAtSeconds: number,
): Promise<Buffer> {
  const parts: Buffer[] = [];
  let from = 0;
  for (const match of text.matchAll(MARKED)) {
    const [whole, field, key = ''] = match;
    parts.push(Buffer.from(text.slice(from, match.index), 'utf8'));
    if (field === 'url') parts.push(Buffer.from(`"url":${JSON.stringify(await deps.links.sign(key, expiresAtSeconds))}`, 'utf8'));
    else parts.push(Buffer.from('"b64_json":"', 'latin1'), Buffer.from(await readBase64(deps.blobs, key), 'latin1'), Buffer.from('"', 'latin1'));
    from = match.index + whole.length;
  }
  parts.push(Buffer.from(text.slice(from), 'utf8'));
  return Buffer.concat(parts);
}

async function readBase64(blobs: BlobStore, key: string): Promise<string> {
  const blob = await blobs.get(key);
  // Blobs are kept at least as long as answers are (retention ≥ the 24 h replay window), so a
  // missing one was deleted by hand; the answer says so with an empty image rather than failing.
  if (blob === null) return '';
  return (await buffer(blob.stream)).toString('base64');
}
