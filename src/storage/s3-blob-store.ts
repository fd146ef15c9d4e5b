import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig, S3ServiceException } from '@aws-sdk/client-s3';
import type { BlobStore } from './blob-store.ts';
import { isValidContentKey } from './content-key.ts';

/** Where blobs live in S3 or an S3-compatible service (MinIO, R2, Ceph, …), and how to reach it. */
export interface S3BlobStoreOptions {
  /** The bucket. It must exist already: the gateway never creates or configures buckets. */
  readonly bucket: string;
  /** The bucket's region (`eu-west-1`); for S3-compatible services whatever they sign with (MinIO `us-east-1`, R2 `auto`). */
  readonly region: string;
  /** Base URL of an S3-compatible service (`http://minio:9000`); omitted for AWS S3 itself. */
  readonly endpoint?: string;
  /** Addresses `endpoint/bucket/key` rather than `bucket.endpoint/key`; most S3-compatible services need it. */
  readonly forcePathStyle?: boolean;
  /** Static credentials, both or neither. Without them the AWS SDK's default chain applies (env, shared files, web identity, ECS/EC2 roles). */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** A folder inside the bucket, e.g. `imagegate/images`; blobs go at the bucket's root when absent. */
  readonly prefix?: string;
}

/**
 * Blobs as objects in one bucket: key `20260101/ab….png` is object `<prefix>/20260101/ab….png`.
 *
 * A PUT is atomic in S3 (readers see the old object, nothing, or the whole new one), so unlike
 * FsBlobStore no temporary object is needed. Keys are content-addressed, so a repeated `put` writes
 * the same bytes again; it is not skipped with a HEAD first because that would cost a round trip on
 * every put to save one on the rare repeat.
 */
export class S3BlobStore implements BlobStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(options: S3BlobStoreOptions) {
    this.#client = createS3Client(options, options.endpoint);
    this.#bucket = options.bucket;
    this.#prefix = normalizeS3Prefix(options.prefix);
  }

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: s3ObjectName(this.#prefix, key),
        Body: bytes,
        ContentLength: bytes.length,
        ContentType: contentType,
        // Stored on the object, so presigned downloads carry them as GET /files does: each image
        // belongs to one caller (shared caches keep out) and is shown, not downloaded.
        CacheControl: 'private',
        ContentDisposition: 'inline',
      }),
    );
  }

  async get(key: string): Promise<{ stream: Readable; sizeBytes: number } | null> {
    let output;
    try {
      output = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: s3ObjectName(this.#prefix, key) }));
    } catch (err) {
      if (isMissingObject(err)) return null;
      throw err;
    }
    const body = output.Body;
    // On Node the SDK's body is the HTTP response itself (an IncomingMessage); anything else means
    // a browser runtime was bundled in by mistake.
    if (!(body instanceof Readable)) throw new Error('S3 GetObject returned no Node.js stream');
    const sizeBytes = output.ContentLength;
    if (sizeBytes === undefined) {
      // The files route must announce the length up front; S3 always sends it for a whole object.
      body.destroy();
      throw new Error('S3 GetObject response has no Content-Length');
    }
    return { stream: body, sizeBytes };
  }

  async delete(key: string): Promise<void> {
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: s3ObjectName(this.#prefix, key) }));
    } catch (err) {
      // AWS answers 204 for a missing key; some S3-compatible services answer 404 instead.
      if (!isMissingObject(err)) throw err;
    }
  }

  /** Closes the client's pooled connections; the store is unusable afterwards. */
  close(): void {
    this.#client.destroy();
  }
}

/**
 * The SDK client both the store and `S3UrlSigner` use, built the same way so both address the same
 * objects. `endpoint` is separate from `options.endpoint` so the signer can sign for a public one.
 */
export function createS3Client(options: S3BlobStoreOptions, endpoint: string | undefined): S3Client {
  if (options.bucket === '' || options.bucket.includes('/')) throw new RangeError('the S3 bucket must be a bucket name');
  if (options.region === '') throw new RangeError('the S3 region must not be empty');
  if ((options.accessKeyId === undefined) !== (options.secretAccessKey === undefined)) {
    throw new RangeError('give both the S3 access key id and secret access key, or neither');
  }
  if (endpoint !== undefined) assertHttpOrigin(endpoint, 'S3 endpoint');
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
    // Since v3.729 the SDK adds CRC32 checksums to every upload and asks for checksums on every
    // download by default; several S3-compatible services reject or mishandle those headers
    // (https://github.com/aws/aws-sdk-js-v3/issues/6810). SigV4 already binds the upload body
    // through x-amz-content-sha256, so only send checksums where an operation requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(options.accessKeyId === undefined || options.secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }),
  };
  return new S3Client(config);
}

/** `undefined`, `''`, `/a/b/` and `a/b` → `''`, `''`, `a/b/`, `a/b/`: ready to put in front of a key. */
export function normalizeS3Prefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  // A conservative alphabet: it needs no URL encoding and means the same on every S3-compatible service.
  const segments = trimmed.split('/');
  if (segments.some((segment) => !/^[A-Za-z0-9_.-]+$/.test(segment) || segment === '.' || segment === '..')) {
    throw new RangeError('the S3 prefix must be folder names of letters, digits, `_`, `-` and `.` separated by `/`');
  }
  return `${trimmed}/`;
}

/**
 * The object name of a content key. Keys come from `contentKey`, never from a client, so a bad
 * key is our bug (TypeError), refused before any request is made.
 */
export function s3ObjectName(normalizedPrefix: string, key: string): string {
  if (!isValidContentKey(key)) throw new TypeError('not a valid content key');
  return normalizedPrefix + key;
}

/**
 * Whether an SDK error means "no such object". A missing *bucket* is a misconfiguration and must
 * surface as an error, not as a missing image. Note that without s3:ListBucket permission AWS
 * answers a missing key with 403 AccessDenied, which (rightly) propagates.
 */
function isMissingObject(err: unknown): boolean {
  if (!(err instanceof S3ServiceException)) return false;
  if (err.name === 'NoSuchKey') return true;
  if (err.name === 'NoSuchBucket') return false;
  // Some S3-compatible services answer 404 without an S3 error body, which the SDK names generically.
  return err.$metadata.httpStatusCode === 404;
}

function assertHttpOrigin(text: string, what: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`the ${what} must be an absolute http(s) URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`the ${what} must be an http(s) URL`);
  // A path would be signed into every URL but is usually stripped by whatever proxy serves it.
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new RangeError(`the ${what} must be an origin (scheme, host, port) without path, query or credentials`);
  }
}
