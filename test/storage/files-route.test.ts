import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerFileRoutes } from '../../src/api/files.ts';
import { renderError } from '../../src/errors.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { contentKey } from '../../src/storage/content-key.ts';
import { FsBlobStore } from '../../src/storage/fs-blob-store.ts';
import { UrlSigner } from '../../src/storage/url-signer.ts';

const SECRET = Buffer.alloc(32, 0x42);
const NOW_SECONDS = 1_800_000_000;
const TTL_SECONDS = 3600;
const DAY = new Date(NOW_SECONDS * 1000);
const SENTINEL_SECRET = 'SENTINEL-SIGNING-SECRET-0d1f';
const SENTINEL_OUTSIDE = 'SENTINEL-OUTSIDE-ROOT-77ab';

/** A FsBlobStore that records every key the route asks for. */
class RecordingBlobStore implements BlobStore {
  readonly inner: FsBlobStore;
  readonly gets: string[] = [];
  constructor(inner: FsBlobStore) {
    this.inner = inner;
  }
  put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    return this.inner.put(key, bytes, contentType);
  }
  get(key: string): Promise<{ stream: Readable; sizeBytes: number } | null> {
    this.gets.push(key);
    return this.inner.get(key);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * A request with the path sent exactly as written: `fetch` would resolve `..`, turn `\` into `/`
 * and so never send the attacks this file is about.
 */
function rawRequest(port: number, method: string, rawPath: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: rawPath }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /files/:day/:name', () => {
  let base: string;
  let app: FastifyInstance;
  let origin: string;
  let port: number;
  let blobs: RecordingBlobStore;
  let nowSeconds = NOW_SECONDS;
  const signer = new UrlSigner(SECRET, 'http://files.test/');
  const png = Buffer.from('\x89PNG\r\n\x1a\n fake png body for the files route', 'latin1');
  const jpeg = Buffer.from('\xff\xd8\xff fake jpeg', 'latin1');
  const webp = Buffer.from('RIFF....WEBP fake webp', 'latin1');
  const pngKey = contentKey(png, 'png', DAY);
  const jpegKey = contentKey(jpeg, 'jpeg', DAY);
  const webpKey = contentKey(webp, 'webp', DAY);

  /** The path and query of a signed link, to send to the real server. */
  function signedPath(key: string, expiresAtSeconds = NOW_SECONDS + TTL_SECONDS): string {
    const url = new URL(signer.sign(key, expiresAtSeconds));
    return `${url.pathname}${url.search}`;
  }

  before(async () => {
    // base/sentinel.txt and base/data/signing-secret sit outside the blob root base/data/images.
    base = mkdtempSync(path.join(tmpdir(), 'imagegate-files-'));
    mkdirSync(path.join(base, 'data'));
    writeFileSync(path.join(base, 'sentinel.txt'), SENTINEL_OUTSIDE);
    writeFileSync(path.join(base, 'data', 'signing-secret'), SENTINEL_SECRET);
    blobs = new RecordingBlobStore(new FsBlobStore(path.join(base, 'data', 'images')));
    await blobs.put(pngKey, png, 'image/png');
    await blobs.put(jpegKey, jpeg, 'image/jpeg');
    await blobs.put(webpKey, webp, 'image/webp');

    app = Fastify();
    app.setErrorHandler((error, request, reply) => {
      const { status, body } = renderError(error, request.id);
      return reply.code(status).send(body);
    });
    registerFileRoutes(app, { blobs, signer, now: () => nowSeconds });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await app.close();
    rmSync(base, { recursive: true, force: true });
  });

  describe('happy path', () => {
    it('streams the blob with its type, length, caching and safety headers', async () => {
      nowSeconds = NOW_SECONDS + 600;
      const res = await fetch(`${origin}${signedPath(pngKey)}`);
      assert.equal(res.status, 200);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), png);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.equal(res.headers.get('content-length'), String(png.length));
      assert.equal(res.headers.get('cache-control'), `private, max-age=${TTL_SECONDS - 600}`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('content-disposition'), 'inline');
      nowSeconds = NOW_SECONDS;
    });

    it('names jpeg and webp by their extension', async () => {
      const jpegRes = await fetch(`${origin}${signedPath(jpegKey)}`);
      assert.equal(jpegRes.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual(Buffer.from(await jpegRes.arrayBuffer()), jpeg);
      const webpRes = await fetch(`${origin}${signedPath(webpKey)}`);
      assert.equal(webpRes.headers.get('content-type'), 'image/webp');
      assert.deepEqual(Buffer.from(await webpRes.arrayBuffer()), webp);
    });

    it('answers HEAD with the headers and no body', async () => {
      const res = await rawRequest(port, 'HEAD', signedPath(pngKey));
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'image/png');
      assert.equal(res.headers['content-length'], String(png.length));
      assert.equal(res.body.length, 0);
    });
  });

  describe('errors', () => {
    async function expectError(rawPath: string, status: number, code: string): Promise<void> {
      const res = await fetch(`${origin}${rawPath}`);
      assert.equal(res.status, status, rawPath);
      const body = (await res.json()) as { error: { code: string; type: string } };
      assert.equal(body.error.code, code, rawPath);
      assert.equal(body.error.type, 'invalid_request_error');
    }

    it('403 invalid_signature without a signature or expiry', async () => {
      await expectError(`/files/${pngKey}`, 403, 'invalid_signature');
      const good = new URL(signedPath(pngKey), origin);
      await expectError(`/files/${pngKey}?expires=${good.searchParams.get('expires')}`, 403, 'invalid_signature');
      await expectError(`/files/${pngKey}?sig=${good.searchParams.get('sig')}`, 403, 'invalid_signature');
    });

    it('403 invalid_signature for a tampered signature, expiry or key', async () => {
      const good = new URL(signedPath(pngKey), origin);
      const expires = good.searchParams.get('expires') ?? '';
      const sig = good.searchParams.get('sig') ?? '';
      const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
      await expectError(`/files/${pngKey}?expires=${expires}&sig=${flipped}`, 403, 'invalid_signature');
      await expectError(`/files/${pngKey}?expires=${Number(expires) + 1}&sig=${sig}`, 403, 'invalid_signature');
      // File A's signature on file B.
      await expectError(`/files/${jpegKey}?expires=${expires}&sig=${sig}`, 403, 'invalid_signature');
      // A repeated parameter is not a signature.
      await expectError(`/files/${pngKey}?expires=${expires}&sig=${sig}&sig=${sig}`, 403, 'invalid_signature');
    });

    it('410 url_expired for a genuine link past its expiry, 403 for a forged one', async () => {
      const link = signedPath(pngKey, NOW_SECONDS + 10);
      nowSeconds = NOW_SECONDS + 10;
      try {
        await expectError(link, 410, 'url_expired');
        await expectError(`${link.slice(0, -1)}${link.endsWith('0') ? '1' : '0'}`, 403, 'invalid_signature');
      } finally {
        nowSeconds = NOW_SECONDS;
      }
    });

    it('404 not_found for a validly signed link whose blob is gone', async () => {
      const bytes = Buffer.from('deleted soon');
      const key = contentKey(bytes, 'png', DAY);
      await blobs.put(key, bytes, 'image/png');
      await blobs.delete(key);
      await expectError(signedPath(key), 404, 'not_found');
    });

    it('404 not_found for a path that is not a content key, before any signature check', async () => {
      const query = new URL(signedPath(pngKey), origin).search;
      await expectError(`/files/20260101/${'a'.repeat(32)}.gif${query}`, 404, 'not_found');
      await expectError(`/files/2026010/${'a'.repeat(32)}.png${query}`, 404, 'not_found');
      await expectError(`/files/${pngKey.toUpperCase()}${query}`, 404, 'not_found');
    });
  });

  describe('security', () => {
    const hash = 'a'.repeat(32);
    const attacks = [
      '/files/../signing-secret',
      '/files/../../sentinel.txt',
      '/files/..%2fsigning-secret',
      '/files/%2e%2e/signing-secret',
      '/files/%2e%2e/%2e%2e/etc/passwd',
      '/files/%2e%2e/%2e%2e/sentinel.txt',
      '/files/20260101%2F..%2Fx.png',
      '/files/20260101%2f..%2f..%2fsigning-secret',
      '/files/20260101/..%2Fsigning-secret',
      '/files/20260101/..%2F..%2Fsentinel.txt',
      '/files/20260101/%2e%2e%2f%2e%2e%2fsentinel.txt',
      '/files/20260101/%252e%252e%252fsigning-secret',
      `/files/20260101/${hash}.png%00`,
      `/files/20260101/${hash}%00.png`,
      '/files/20260101/..%00/signing-secret',
      '/files/20260101/..\\signing-secret',
      '/files/20260101/..\\..\\sentinel.txt',
      '/files/..%5c..%5csentinel.txt/x',
      '/files/20260101/..%5c..%5csentinel.txt',
      '/files/%c0%ae%c0%ae/%c0%ae%c0%ae%c0%afsentinel.txt',
      '/files//etc/passwd',
      '/files/%2fetc/passwd',
      `/files/20260101/${hash}.png/../../../signing-secret`,
      `/files/20260101/../20260101/${hash}.png`,
      '/files/20260101/signing-secret',
    ];

    it('never answers 200 and never reads outside the blob root', async () => {
      const query = new URL(signedPath(pngKey), origin).search;
      const gets = blobs.gets.length;
      for (const attack of attacks) {
        for (const target of [attack, `${attack}${query}`]) {
          for (const method of ['GET', 'HEAD']) {
            const res = await rawRequest(port, method, target);
            assert.notEqual(res.status, 200, `${method} ${target}`);
            assert.ok(res.status >= 400 && res.status < 500, `${method} ${target} gave ${res.status}`);
            const text = res.body.toString('latin1');
            assert.ok(!text.includes(SENTINEL_SECRET), target);
            assert.ok(!text.includes(SENTINEL_OUTSIDE), target);
            assert.ok(!text.includes('root:'), target);
          }
        }
      }
      // None of them even reached the store: the key grammar stopped every one first.
      assert.equal(blobs.gets.length, gets);
      assert.equal(readFileSync(path.join(base, 'sentinel.txt'), 'utf8'), SENTINEL_OUTSIDE);
    });

    it('keeps an encoded slash inside one path segment: it never matches as two', async () => {
      // Split into day and name, this is a valid signed key; encoded, it must not be served.
      const [day, name] = pngKey.split('/');
      const query = new URL(signedPath(pngKey), origin).search;
      for (const slash of ['%2F', '%2f']) {
        const res = await rawRequest(port, 'GET', `/files/${day}${slash}${name}${query}`);
        assert.equal(res.status, 404);
      }
    });

    it('does not echo the requested path in the error', async () => {
      const res = await rawRequest(port, 'GET', '/files/20260101/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
      assert.equal(res.status, 404);
      assert.ok(!res.body.toString().includes('<script>'));
    });
  });
});
