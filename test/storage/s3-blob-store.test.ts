import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { contentKey } from '../../src/storage/content-key.ts';
import { S3BlobStore, type S3BlobStoreOptions } from '../../src/storage/s3-blob-store.ts';
import { S3UrlSigner } from '../../src/storage/s3-url-signer.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

const DAY = new Date('2026-01-01T12:00:00Z');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

function optionsFor(s3: S3TestServer, overrides: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  return {
    bucket: s3.bucket,
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    // Always explicit: the SDK's default chain could otherwise reach for the EC2 metadata service.
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    ...overrides,
  };
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

describe('S3BlobStore', () => {
  let s3: S3TestServer;
  let store: S3BlobStore;
  /** A plain SDK client, to look at objects the way the store does not. */
  let raw: S3Client;

  before(async () => {
    s3 = await startS3Server();
    store = new S3BlobStore(optionsFor(s3));
    raw = new S3Client({
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
  });
  after(async () => {
    store.close();
    raw.destroy();
    await s3.close();
  });

  it('stores bytes with their content type and reads them back with their size', async () => {
    const bytes = Buffer.from('png bytes for put/get \x00\xff');
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: key }));
    assert.equal(head.ContentType, 'image/png');
    assert.equal(head.CacheControl, 'private');
    assert.equal(head.ContentLength, bytes.length);
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.equal(blob.sizeBytes, bytes.length);
    assert.deepEqual(await readAll(blob.stream), bytes);
  });

  it('round-trips a large binary image intact', async () => {
    const bytes = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
    const key = contentKey(bytes, 'webp', DAY);
    await store.put(key, bytes, 'image/webp');
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.equal(blob.sizeBytes, bytes.length);
    assert.ok((await readAll(blob.stream)).equals(bytes));
  });

  it('returns null for a missing blob', async () => {
    assert.equal(await store.get(contentKey(Buffer.from('never stored'), 'png', DAY)), null);
  });

  it('is idempotent: putting the same key again (also concurrently) keeps one intact object', async () => {
    const bytes = Buffer.from('idempotent bytes');
    const key = contentKey(bytes, 'jpeg', DAY);
    await store.put(key, bytes, 'image/jpeg');
    await Promise.all(Array.from({ length: 8 }, () => store.put(key, bytes, 'image/jpeg')));
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.deepEqual(await readAll(blob.stream), bytes);
  });

  it('lets a reader drop a stream unread (HEAD on /files) without harming later reads', async () => {
    const bytes = Buffer.alloc(512 * 1024, 9);
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    for (let i = 0; i < 12; i += 1) {
      const blob = await store.get(key);
      assert.ok(blob !== null);
      blob.stream.destroy();
    }
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.equal((await readAll(blob.stream)).length, bytes.length);
  });

  it('deletes a blob, and ignores a missing one', async () => {
    const bytes = Buffer.from('to delete');
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    await store.delete(key);
    assert.equal(await store.get(key), null);
    await store.delete(key);
  });

  it('keeps blobs under the prefix', async () => {
    const prefixed = new S3BlobStore(optionsFor(s3, { prefix: '/imagegate/images/' }));
    try {
      const bytes = Buffer.from('prefixed bytes');
      const key = contentKey(bytes, 'png', DAY);
      await prefixed.put(key, bytes, 'image/png');
      const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `imagegate/images/${key}` }));
      assert.equal(head.ContentLength, bytes.length);
      assert.equal(await store.get(key), null, 'the unprefixed store does not see it');
      const blob = await prefixed.get(key);
      assert.ok(blob !== null);
      assert.deepEqual(await readAll(blob.stream), bytes);
    } finally {
      prefixed.close();
    }
  });

  it('refuses keys outside the content-key grammar with a TypeError, sending nothing', async () => {
    const hash = 'a'.repeat(32);
    const bad = [
      '',
      '../sentinel.txt',
      `20260101/../../${hash}.png`,
      '/etc/passwd',
      `20260101/${hash}.png\0`,
      `20260101\\${hash}.png`,
      `20260101/${hash.toUpperCase()}.png`,
      `20260101/${hash}.txt`,
      `20260101/${hash}.png?x-id=DeleteObjects`,
    ];
    const signer = new S3UrlSigner(optionsFor(s3));
    try {
      const requestsBefore = s3.requestCount();
      for (const key of bad) {
        await assert.rejects(store.put(key, Buffer.from('x'), 'image/png'), TypeError, JSON.stringify(key));
        await assert.rejects(store.get(key), TypeError, JSON.stringify(key));
        await assert.rejects(store.delete(key), TypeError, JSON.stringify(key));
        await assert.rejects(signer.sign(key, nowSeconds() + 60), TypeError, JSON.stringify(key));
      }
      assert.equal(s3.requestCount(), requestsBefore);
    } finally {
      signer.close();
    }
  });

  it('refuses contradictory or malformed configuration', () => {
    assert.throws(() => new S3BlobStore(optionsFor(s3, { bucket: '' })), RangeError);
    assert.throws(() => new S3BlobStore({ bucket: 'b', region: 'us-east-1', accessKeyId: 'only-the-id' }), RangeError);
    assert.throws(() => new S3BlobStore(optionsFor(s3, { endpoint: 'not a url' })), RangeError);
    assert.throws(() => new S3BlobStore(optionsFor(s3, { endpoint: 'ftp://127.0.0.1:21' })), RangeError);
    assert.throws(() => new S3BlobStore(optionsFor(s3, { prefix: 'a/../b' })), RangeError);
    assert.throws(() => new S3UrlSigner({ ...optionsFor(s3), publicEndpoint: 'https://files.example.com/s3' }), RangeError);
  });

  describe('errors other than a missing object propagate', () => {
    it('wrong credentials', async () => {
      const wrong = new S3BlobStore(optionsFor(s3, { secretAccessKey: 'not-the-secret' }));
      try {
        const key = contentKey(Buffer.from('x'), 'png', DAY);
        await assert.rejects(wrong.put(key, Buffer.from('x'), 'image/png'), { name: 'SignatureDoesNotMatch' });
        await assert.rejects(wrong.get(key), { name: 'SignatureDoesNotMatch' });
      } finally {
        wrong.close();
      }
    });

    it('a missing bucket is a misconfiguration, not a missing image', async () => {
      const elsewhere = new S3BlobStore(optionsFor(s3, { bucket: 'no-such-bucket' }));
      try {
        const key = contentKey(Buffer.from('x'), 'png', DAY);
        await assert.rejects(elsewhere.get(key), { name: 'NoSuchBucket' });
        await assert.rejects(elsewhere.delete(key), { name: 'NoSuchBucket' });
      } finally {
        elsewhere.close();
      }
    });

    it('a failing backend, once the SDK has used up its retries', async () => {
      const key = contentKey(Buffer.from('x'), 'png', DAY);
      s3.failNext(3, 500, 'InternalError');
      await assert.rejects(store.get(key), { name: 'InternalError' });
      // One 500 is retried by the SDK and the call succeeds.
      s3.failNext(1, 503, 'SlowDown');
      assert.equal(await store.get(key), null);
    });
  });
});

describe('S3UrlSigner', () => {
  let s3: S3TestServer;
  let store: S3BlobStore;
  let signer: S3UrlSigner;
  const bytes = Buffer.from('presigned image bytes \x89PNG');
  const other = Buffer.from('some other image');
  const key = contentKey(bytes, 'png', DAY);
  const otherKey = contentKey(other, 'webp', DAY);

  before(async () => {
    s3 = await startS3Server();
    store = new S3BlobStore(optionsFor(s3));
    signer = new S3UrlSigner(optionsFor(s3));
    await store.put(key, bytes, 'image/png');
    await store.put(otherKey, other, 'image/webp');
  });
  after(async () => {
    store.close();
    signer.close();
    await s3.close();
  });

  it('gives a URL that downloads the bytes with plain fetch, with the content type and private caching', async () => {
    const url = await signer.sign(key, nowSeconds() + 3600);
    assert.ok(url.startsWith(`${s3.endpoint}/${s3.bucket}/${key}?`), url);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/png');
    assert.match(response.headers.get('cache-control') ?? '', /^private, max-age=(3600|3599)$/);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), bytes);
    // No checksum-mode or other header a browser would have to send is baked into the URL.
    assert.equal(new URL(url).searchParams.get('X-Amz-SignedHeaders'), 'host');
    assert.equal(new URL(url).searchParams.has('x-amz-checksum-mode'), false);
  });

  it('a tampered signature fails', async () => {
    const url = new URL(await signer.sign(key, nowSeconds() + 3600));
    const signature = url.searchParams.get('X-Amz-Signature') ?? '';
    assert.match(signature, /^[0-9a-f]{64}$/);
    const flipped = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    url.searchParams.set('X-Amz-Signature', flipped);
    const response = await fetch(url);
    assert.equal(response.status, 403);
    assert.match(await response.text(), /SignatureDoesNotMatch/);
  });

  it('a URL moved to another key fails, and so does a lengthened expiry', async () => {
    const url = new URL(await signer.sign(key, nowSeconds() + 60));
    const moved = new URL(url);
    moved.pathname = `/${s3.bucket}/${otherKey}`;
    const movedResponse = await fetch(moved);
    assert.equal(movedResponse.status, 403);
    await movedResponse.body?.cancel();

    const lengthened = new URL(url);
    lengthened.searchParams.set('X-Amz-Expires', '604800');
    const lengthenedResponse = await fetch(lengthened);
    assert.equal(lengthenedResponse.status, 403);
    await lengthenedResponse.body?.cancel();

    // The other key's own URL works, and gives its own bytes and type.
    const own = await fetch(await signer.sign(otherKey, nowSeconds() + 60));
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('content-type'), 'image/webp');
    assert.deepEqual(Buffer.from(await own.arrayBuffer()), other);
  });

  it('an expired URL fails', async () => {
    // Start just after a second ticks over, so the signer's clock reads the same second as ours
    // and the URL surely has ~2 s left for the first fetch.
    await sleep(1010 - (Date.now() % 1000));
    const expiresAtSeconds = nowSeconds() + 2;
    const url = await signer.sign(key, expiresAtSeconds);
    assert.equal(new URL(url).searchParams.get('X-Amz-Expires'), '2');
    const fresh = await fetch(url);
    assert.equal(fresh.status, 200);
    await fresh.body?.cancel();
    await sleep(expiresAtSeconds * 1000 - Date.now() + 100);
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /Request has expired/);
  });

  it('a URL for a missing object is still signed, and answers 404', async () => {
    const missing = contentKey(Buffer.from('not stored'), 'png', DAY);
    const response = await fetch(await signer.sign(missing, nowSeconds() + 60));
    assert.equal(response.status, 404);
    await response.body?.cancel();
  });

  it('clamps the lifetime into what SigV4 can express', async () => {
    const fixedNowMs = Date.UTC(2026, 0, 1, 12, 0, 0, 700);
    const fixed = new S3UrlSigner(optionsFor(s3), () => fixedNowMs);
    try {
      const expiresOf = async (expiresAtSeconds: number): Promise<string | null> =>
        new URL(await fixed.sign(key, expiresAtSeconds)).searchParams.get('X-Amz-Expires');
      const fixedNowSeconds = Math.floor(fixedNowMs / 1000);
      assert.equal(await expiresOf(fixedNowSeconds + 3600), '3600');
      assert.equal(await expiresOf(fixedNowSeconds + 30 * 86_400), '604800');
      assert.equal(await expiresOf(fixedNowSeconds - 10), '1');
      assert.equal(new URL(await fixed.sign(key, fixedNowSeconds + 60)).searchParams.get('X-Amz-Date'), '20260101T120000Z');
      await assert.rejects(fixed.sign(key, 1.5), TypeError);
      await assert.rejects(fixed.sign(key, -1), TypeError);
    } finally {
      fixed.close();
    }
  });

  it('signs for a public endpoint that a Host-preserving proxy forwards to the bucket', async () => {
    const proxy = await startProxy(s3.endpoint);
    const publicSigner = new S3UrlSigner({ ...optionsFor(s3), publicEndpoint: proxy.origin });
    try {
      const url = await publicSigner.sign(key, nowSeconds() + 60);
      assert.ok(url.startsWith(`${proxy.origin}/${s3.bucket}/${key}?`), url);
      const viaProxy = await fetch(url);
      assert.equal(viaProxy.status, 200);
      assert.deepEqual(Buffer.from(await viaProxy.arrayBuffer()), bytes);
      // The host is signed: the same URL sent straight to the internal endpoint is refused.
      const direct = new URL(url);
      direct.host = new URL(s3.endpoint).host;
      const directResponse = await fetch(direct);
      assert.equal(directResponse.status, 403);
      await directResponse.body?.cancel();
    } finally {
      publicSigner.close();
      await proxy.close();
    }
  });
});

/** A reverse proxy on 127.0.0.1 that forwards everything to `upstream` with the Host header as sent. */
async function startProxy(upstream: string): Promise<{ origin: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server: Server = createServer((req, res) => {
    const forwarded = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (upstreamResponse) => {
      res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      upstreamResponse.pipe(res);
    });
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err === undefined ? resolve() : reject(err)));
        server.closeAllConnections();
      }),
  };
}
