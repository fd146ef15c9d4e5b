import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small S3-compatible server on 127.0.0.1 for tests: PutObject, GetObject, HeadObject and
 * DeleteObject on path-style URLs (`/<bucket>/<key>`), objects in memory.
 *
 * Unlike s3rver (which accepts any SigV4 signature: its authentication middleware says "Signature
 * version 4 calculation is unimplemented"), every request is verified the way AWS does it, both
 * Authorization-header requests and presigned query strings, including the presigned expiry, so
 * tests can tell a genuine presigned URL from a tampered, retargeted or expired one.
 * SigV4: https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
 */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`; clients must use path-style addressing (`forcePathStyle: true`). */
  readonly endpoint: string;
  /** A bucket that exists and starts empty. */
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** How many HTTP requests reached the server, answered or refused. */
  requestCount(): number;
  /**
   * Answers the next `count` requests with `status` and an S3 error `code` before looking at them,
   * to simulate a failing backend (the AWS SDK retries 5xx up to 3 attempts by default).
   */
  failNext(count: number, status: number, code: string): void;
  close(): Promise<void>;
}

interface StoredObject {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly cacheControl: string | undefined;
  readonly contentDisposition: string | undefined;
  readonly etag: string;
  readonly lastModified: Date;
}

/** A refusal in S3's own words: the SDK turns `Code` into the error's `name`. */
class S3Failure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** `YYYYMMDDTHHMMSSZ`, the only date format SigV4 accepts in X-Amz-Date. */
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
/** SigV4 caps a presigned URL at seven days. */
const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;
/** AWS refuses header-signed requests whose X-Amz-Date is further than this from its clock. */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** Images are a few MB; anything far larger is a test bug, refused rather than buffered. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** The response-* query parameters S3 honours on signed GETs, and the header each overrides. */
const RESPONSE_OVERRIDES: ReadonlyMap<string, string> = new Map([
  ['response-cache-control', 'cache-control'],
  ['response-content-type', 'content-type'],
  ['response-content-disposition', 'content-disposition'],
]);

/** Starts a fresh server with one empty bucket and one access key. */
export async function startS3Server(): Promise<S3TestServer> {
  const region = 'us-east-1';
  const bucket = `imagegate-test-${randomBytes(4).toString('hex')}`;
  const accessKeyId = `AKIATEST${randomBytes(6).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64');
  const buckets = new Map<string, Map<string, StoredObject>>([[bucket, new Map()]]);
  let requests = 0;
  let pendingFaults: { count: number; status: number; code: string } | null = null;

  const server = createServer((req, res) => {
    requests += 1;
    const fault = pendingFaults;
    if (fault !== null && fault.count > 0) {
      fault.count -= 1;
      req.resume();
      sendError(req, res, new S3Failure(fault.status, fault.code, 'Injected fault.'));
      return;
    }
    handle(req, res).catch((err: unknown) => {
      sendError(req, res, err instanceof S3Failure ? err : new S3Failure(500, 'InternalError', String(err)));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseTarget(req.url ?? '/');
    const body = await readBody(req);
    verifySignature(req, target, body, { region, accessKeyId, secretAccessKey });

    const objects = buckets.get(target.bucket);
    if (objects === undefined) throw new S3Failure(404, 'NoSuchBucket', 'The specified bucket does not exist.');
    if (target.key === '') throw new S3Failure(501, 'NotImplemented', 'Bucket operations are not implemented by this fake.');

    switch (req.method) {
      case 'PUT': {
        if (req.headers['x-amz-copy-source'] !== undefined) throw new S3Failure(501, 'NotImplemented', 'CopyObject is not implemented.');
        const md5 = createHash('md5').update(body);
        const contentMd5 = req.headers['content-md5'];
        if (contentMd5 !== undefined && contentMd5 !== md5.copy().digest('base64')) {
          throw new S3Failure(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
        }
        const etag = `"${md5.digest('hex')}"`;
        objects.set(target.key, {
          bytes: body,
          contentType: req.headers['content-type'] ?? 'binary/octet-stream',
          cacheControl: req.headers['cache-control'],
          contentDisposition: req.headers['content-disposition'],
          etag,
          lastModified: new Date(),
        });
        res.writeHead(200, { etag, 'x-amz-request-id': requestId() }).end();
        return;
      }
      case 'GET':
      case 'HEAD': {
        const stored = objects.get(target.key);
        if (stored === undefined) throw new S3Failure(404, 'NoSuchKey', 'The specified key does not exist.');
        const headers: Record<string, string> = {
          'content-type': stored.contentType,
          'content-length': String(stored.bytes.length),
          etag: stored.etag,
          'last-modified': stored.lastModified.toUTCString(),
          'accept-ranges': 'bytes',
          'x-amz-request-id': requestId(),
        };
        if (stored.cacheControl !== undefined) headers['cache-control'] = stored.cacheControl;
        if (stored.contentDisposition !== undefined) headers['content-disposition'] = stored.contentDisposition;
        // Every request here is signed, which is what S3 requires before honouring overrides.
        for (const [param, header] of RESPONSE_OVERRIDES) {
          const value = target.query.find(([name]) => name === param)?.[1];
          if (value !== undefined) headers[header] = value;
        }
        res.writeHead(200, headers);
        res.end(req.method === 'GET' ? stored.bytes : undefined);
        return;
      }
      case 'DELETE':
        // S3 answers 204 whether or not the key existed.
        objects.delete(target.key);
        res.writeHead(204, { 'x-amz-request-id': requestId() }).end();
        return;
      default:
        throw new S3Failure(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region,
    accessKeyId,
    secretAccessKey,
    requestCount: () => requests,
    failNext: (count, status, code) => {
      pendingFaults = { count, status, code };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        // Clients keep connections alive; without this, close waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

interface Target {
  readonly bucket: string;
  readonly key: string;
  /** The path exactly as sent, which is what the client signed. */
  readonly rawPath: string;
  /** Decoded name/value pairs in arrival order. */
  readonly query: ReadonlyArray<readonly [string, string]>;
}

function parseTarget(rawUrl: string): Target {
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
  try {
    const segments = rawPath.split('/').slice(1).map(decodeURIComponent);
    const [bucket = '', ...keySegments] = segments;
    const query =
      rawQuery === ''
        ? []
        : rawQuery.split('&').map((pair): [string, string] => {
            const eq = pair.indexOf('=');
            // SigV4 encodes a space as %20, never `+`, so plain percent-decoding is exact.
            return eq === -1 ? [decodeURIComponent(pair), ''] : [decodeURIComponent(pair.slice(0, eq)), decodeURIComponent(pair.slice(eq + 1))];
          });
    return { bucket, key: keySegments.join('/'), rawPath, query };
  } catch {
    throw new S3Failure(400, 'InvalidURI', 'Could not parse the specified URI.');
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let totalBytes = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    totalBytes += buffer.length;
    if (totalBytes > MAX_BODY_BYTES) throw new S3Failure(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.');
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

interface Account {
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** The parts of a SigV4 signature, whether it came in the Authorization header or the query. */
interface SignatureParts {
  readonly accessKeyId: string;
  readonly scopeDate: string;
  readonly scopeRegion: string;
  readonly scopeService: string;
  readonly scopeTerminator: string;
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signatureHex: string;
  readonly payloadHash: string;
  /** Present only for presigned URLs. */
  readonly expiresSeconds: number | undefined;
}

/**
 * Recomputes the request's SigV4 signature and refuses it unless it matches, then (only for a
 * signature that matched) checks its time limits, as AWS does.
 */
function verifySignature(req: IncomingMessage, target: Target, body: Buffer, account: Account): void {
  const isPresigned = target.query.some(([name]) => name === 'X-Amz-Algorithm');
  const authorization = req.headers.authorization;
  if (isPresigned && authorization !== undefined) {
    throw new S3Failure(400, 'InvalidArgument', 'Only one auth mechanism allowed.');
  }
  // The bucket is private: anonymous requests are refused like AWS refuses them.
  if (!isPresigned && authorization === undefined) throw new S3Failure(403, 'AccessDenied', 'Access Denied');
  if (req.headers['content-encoding']?.includes('aws-chunked') === true) {
    // Chunked SigV4 uploads (streaming or trailing checksums) would need per-chunk verification.
    throw new S3Failure(501, 'NotImplemented', 'aws-chunked uploads are not implemented by this fake.');
  }

  const parts = isPresigned ? presignedParts(target) : headerParts(req, authorization ?? '');
  if (parts.accessKeyId !== account.accessKeyId) {
    throw new S3Failure(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
  const dateMatch = AMZ_DATE.exec(parts.amzDate);
  if (dateMatch === null) throw new S3Failure(400, 'AuthorizationQueryParametersError', 'X-Amz-Date must be in the ISO8601 Long Format.');
  if (parts.scopeDate !== parts.amzDate.slice(0, 8) || parts.scopeService !== 's3' || parts.scopeTerminator !== 'aws4_request') {
    throw new S3Failure(400, 'AuthorizationHeaderMalformed', 'The credential scope is malformed.');
  }
  if (parts.scopeRegion !== account.region) {
    throw new S3Failure(400, 'AuthorizationHeaderMalformed', `The region '${parts.scopeRegion}' is wrong; expecting '${account.region}'.`);
  }
  if (!parts.signedHeaders.includes('host')) throw new S3Failure(400, 'AuthorizationHeaderMalformed', 'The host header must be signed.');

  const canonicalHeaders = parts.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(req.headers[name])}\n`).join('');
  const canonicalQuery = target.query
    .filter(([name]) => !(isPresigned && name === 'X-Amz-Signature'))
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([nameA, valueA], [nameB, valueB]) => compareStrings(nameA, nameB) || compareStrings(valueA, valueB))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  // S3 signs the path once-encoded and never normalizes it (unlike other AWS services).
  const canonicalUri = target.rawPath
    .split('/')
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join('/');
  const canonicalRequest = [req.method ?? '', canonicalUri, canonicalQuery, canonicalHeaders, parts.signedHeaders.join(';'), parts.payloadHash].join('\n');
  const scope = `${parts.scopeDate}/${parts.scopeRegion}/${parts.scopeService}/${parts.scopeTerminator}`;
  const stringToSign = [ALGORITHM, parts.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let signingKey = hmac(`AWS4${account.secretAccessKey}`, parts.scopeDate);
  for (const part of [parts.scopeRegion, parts.scopeService, parts.scopeTerminator]) signingKey = hmac(signingKey, part);
  const expected = hmac(signingKey, stringToSign);
  const given = SHA256_HEX.test(parts.signatureHex) ? Buffer.from(parts.signatureHex, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new S3Failure(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
  }

  // Only now is the payload hash known to be the client's own claim; hold the body to it.
  if (parts.payloadHash !== 'UNSIGNED-PAYLOAD') {
    if (!SHA256_HEX.test(parts.payloadHash)) throw new S3Failure(501, 'NotImplemented', `Payload hash ${parts.payloadHash} is not implemented.`);
    if (parts.payloadHash !== sha256Hex(body)) {
      throw new S3Failure(400, 'XAmzContentSHA256Mismatch', 'The provided x-amz-content-sha256 header does not match what was computed.');
    }
  }

  const [, year, month, day, hour, minute, second] = dateMatch;
  const signedAtMs = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second));
  if (parts.expiresSeconds === undefined) {
    if (Math.abs(Date.now() - signedAtMs) > MAX_CLOCK_SKEW_MS) {
      throw new S3Failure(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
    }
  } else if (Date.now() >= signedAtMs + parts.expiresSeconds * 1000) {
    throw new S3Failure(403, 'AccessDenied', 'Request has expired');
  }
}

function presignedParts(target: Target): SignatureParts {
  const param = (name: string): string | undefined => target.query.find(([candidate]) => candidate === name)?.[1];
  const algorithm = param('X-Amz-Algorithm');
  const credential = param('X-Amz-Credential');
  const amzDate = param('X-Amz-Date');
  const expiresText = param('X-Amz-Expires');
  const signedHeaders = param('X-Amz-SignedHeaders');
  const signatureHex = param('X-Amz-Signature');
  if (algorithm !== ALGORITHM) throw new S3Failure(400, 'AuthorizationQueryParametersError', 'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256".');
  if (credential === undefined || amzDate === undefined || expiresText === undefined || signedHeaders === undefined || signatureHex === undefined) {
    throw new S3Failure(
      400,
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (!/^[0-9]+$/.test(expiresText) || Number(expiresText) < 1 || Number(expiresText) > MAX_PRESIGNED_EXPIRES_SECONDS) {
    throw new S3Failure(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be between 1 and 604800 seconds.');
  }
  return {
    ...credentialParts(credential),
    amzDate,
    signedHeaders: signedHeaders.split(';'),
    signatureHex,
    // A presigned GET cannot carry a body hash; the SDK says so with UNSIGNED-PAYLOAD.
    payloadHash: param('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
    expiresSeconds: Number(expiresText),
  };
}

function headerParts(req: IncomingMessage, authorization: string): SignatureParts {
  const match = /^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([^,\s]+)$/.exec(authorization);
  if (match === null) throw new S3Failure(400, 'AuthorizationHeaderMalformed', 'The authorization header is malformed.');
  const [, credential = '', signedHeaders = '', signatureHex = ''] = match;
  const amzDate = req.headers['x-amz-date'];
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (typeof amzDate !== 'string') throw new S3Failure(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (typeof payloadHash !== 'string') throw new S3Failure(400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  return {
    ...credentialParts(credential),
    amzDate,
    signedHeaders: signedHeaders.split(';'),
    signatureHex,
    payloadHash,
    expiresSeconds: undefined,
  };
}

function credentialParts(credential: string): Pick<SignatureParts, 'accessKeyId' | 'scopeDate' | 'scopeRegion' | 'scopeService' | 'scopeTerminator'> {
  const [accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator, ...rest] = credential.split('/');
  if (
    accessKeyId === undefined ||
    scopeDate === undefined ||
    scopeRegion === undefined ||
    scopeService === undefined ||
    scopeTerminator === undefined ||
    rest.length > 0
  ) {
    throw new S3Failure(400, 'AuthorizationHeaderMalformed', 'The credential is malformed.');
  }
  return { accessKeyId, scopeDate, scopeRegion, scopeService, scopeTerminator };
}

/** SigV4 canonical header value: trimmed, inner runs of spaces collapsed to one. */
function canonicalHeaderValue(value: string | string[] | undefined): string {
  const joined = Array.isArray(value) ? value.join(',') : (value ?? '');
  return joined.trim().replace(/\s+/g, ' ');
}

/** SigV4's URI encoding: RFC 3986 unreserved characters kept, every other byte as uppercase %XX. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Byte order, which is what SigV4 sorts by (localeCompare is not). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function requestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

function sendError(req: IncomingMessage, res: ServerResponse, failure: S3Failure): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const id = requestId();
  // HEAD responses carry no body; the SDK then names the error after the status (404 → NotFound).
  const xml =
    req.method === 'HEAD'
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(failure.code)}</Code><Message>${escapeXml(failure.message)}</Message><RequestId>${id}</RequestId></Error>`;
  res.writeHead(failure.status, {
    'content-type': 'application/xml',
    'content-length': String(Buffer.byteLength(xml)),
    'x-amz-request-id': id,
  });
  res.end(xml);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
