import { hash } from 'node:crypto';

/** The image formats a blob can hold; the key's extension is one of these. */
export type BlobExtension = 'png' | 'jpeg' | 'webp';

/** A key taken apart; only `parseContentKey` produces one, so its fields are known to be well formed. */
export interface ContentKeyParts {
  /** The UTC day the blob was written, `YYYYMMDD`. */
  readonly day: string;
  /** The first 32 hex digits (128 bits) of the SHA-256 of the bytes. */
  readonly hashHex: string;
  readonly extension: BlobExtension;
}

/**
 * The one grammar of a blob key. Every byte of a key is in `[0-9a-f/.a-z]`, so a key is safe as a
 * file path below the store root, as an S3 object name and inside a URL without any encoding, and
 * no `..`, separator or NUL can ever appear in a path built from it.
 */
const CONTENT_KEY = /^(\d{8})\/([0-9a-f]{32})\.(png|jpeg|webp)$/;

/**
 * The key an image is stored under: `YYYYMMDD/<first 32 hex of sha256>.<ext>`. The day prefix (UTC,
 * so every replica agrees) lets the sweeper reason about which blobs can still gain references; the
 * hash makes identical images share one blob. Keys come only from bytes and the clock, never from
 * anything a client sent.
 */
export function contentKey(bytes: Buffer, extension: BlobExtension, now: Date): string {
  return buildKey(hash('sha256', bytes, 'hex'), extension, now);
}

/**
 * Images up to this size are hashed right here: SHA-256 runs at about 1.5 GB/s with the CPU's SHA
 * extensions, so a 1 MB image holds the event loop well under a millisecond, less than WebCrypto
 * spends copying its input for the thread pool. Larger ones (4K PNGs) go to the pool.
 */
const HASH_IN_PLACE_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The same key, with the hash of a large image computed on the libuv thread pool (WebCrypto's
 * digest runs there), so hashing many megabytes does not hold the event loop on the request path.
 */
export async function contentKeyOffThread(bytes: Buffer, extension: BlobExtension, now: Date): Promise<string> {
  if (bytes.length <= HASH_IN_PLACE_MAX_BYTES) return contentKey(bytes, extension, now);
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return buildKey(Buffer.from(digest).toString('hex'), extension, now);
}

function buildKey(sha256Hex: string, extension: BlobExtension, now: Date): string {
  const day = now.toISOString().slice(0, 10).replaceAll('-', '');
  const key = `${day}/${sha256Hex.slice(0, 32)}.${extension}`;
  // Only a clock outside years 0000-9999 (or an invalid Date) can get here; that is our bug.
  if (!isValidContentKey(key)) throw new RangeError(`cannot build a content key for the date ${String(now)}`);
  return key;
}

/** Whether `key` is exactly of the form `contentKey` produces. */
export function isValidContentKey(key: string): boolean {
  return CONTENT_KEY.test(key);
}

/** The parts of a valid key, or null for anything else. */
export function parseContentKey(key: string): ContentKeyParts | null {
  const match = CONTENT_KEY.exec(key);
  if (match === null) return null;
  const [, day, hashHex, extension] = match;
  if (day === undefined || hashHex === undefined || !isBlobExtension(extension)) return null;
  return { day, hashHex, extension };
}

function isBlobExtension(value: string | undefined): value is BlobExtension {
  return value === 'png' || value === 'jpeg' || value === 'webp';
}
