import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createS3Client, normalizeS3Prefix, type S3BlobStoreOptions, s3ObjectName } from './s3-blob-store.ts';

/** The bucket as `S3BlobStore` sees it, plus where clients reach it. */
export interface S3UrlSignerOptions extends S3BlobStoreOptions {
  /**
   * The origin clients download from when it differs from `endpoint` (the gateway reaches MinIO
   * at `http://minio:9000`, clients at `https://files.example.com`). SigV4 signs the Host, so the
   * URL must be signed for the public name, and the proxy in front must pass Host through unchanged.
   * An origin only: a path prefix would be signed too, and proxies strip it.
   */
  readonly publicEndpoint?: string;
}

/** SigV4 presigned URLs are valid for at most seven days (X-Amz-Expires ≤ 604800). */
const MAX_EXPIRES_IN_SECONDS = 604_800;

/**
 * Presigned S3 GET URLs for stored blobs: the scaled mode's counterpart of `UrlSigner`, so clients
 * download straight from the bucket and no replica streams the bytes.
 *
 * Unlike `UrlSigner.sign`, `sign` is async because the SDK resolves credentials (possibly from a
 * role) before signing. Signing itself makes no request to S3.
 *
 * With temporary credentials (a role via the default chain) a URL stops working when the session
 * that signed it ends, even before its own expiry: AWS documents this for presigned URLs.
 */
export class S3UrlSigner {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #nowMs: () => number;

  /** `nowMs` is the clock the expiry is counted from; tests pass their own. */
  constructor(options: S3UrlSignerOptions, nowMs: () => number = Date.now) {
    this.#client = createS3Client(options, options.publicEndpoint ?? options.endpoint);
    this.#bucket = options.bucket;
    this.#prefix = normalizeS3Prefix(options.prefix);
    this.#nowMs = nowMs;
  }

  /**
   * A presigned GET URL for `key`, valid until `expiresAtSeconds` (unix seconds). SigV4 can only
   * express a lifetime of 1 s to 7 days from signing, so the lifetime is clamped into that range:
   * a past expiry gives a URL that lives one second, a far one a URL that lives seven days.
   */
  async sign(key: string, expiresAtSeconds: number): Promise<string> {
    const objectName = s3ObjectName(this.#prefix, key);
    if (!Number.isSafeInteger(expiresAtSeconds) || expiresAtSeconds < 0) {
      throw new TypeError('expiresAtSeconds must be a non-negative integer');
    }
    // Signed as of a whole second, so the URL expires exactly at expiresAtSeconds when not clamped.
    const nowSeconds = Math.floor(this.#nowMs() / 1000);
    const expiresInSeconds = Math.min(MAX_EXPIRES_IN_SECONDS, Math.max(1, expiresAtSeconds - nowSeconds));
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: objectName,
      // Same caching as GET /files: private (a link is one caller's bearer credential), and no
      // longer than the link lives. S3 honours response-* overrides on signed requests only.
      ResponseCacheControl: `private, max-age=${expiresInSeconds}`,
    });
    return getSignedUrl(this.#client, command, {
      expiresIn: expiresInSeconds,
      signingDate: new Date(nowSeconds * 1000),
    });
  }

  /** Releases the client; signing needs no connections, but credential providers may hold some. */
  close(): void {
    this.#client.destroy();
  }
}
