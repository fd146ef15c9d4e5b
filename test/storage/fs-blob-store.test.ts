import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { contentKey } from '../../src/storage/content-key.ts';
import { FsBlobStore } from '../../src/storage/fs-blob-store.ts';

const DAY = new Date('2026-01-01T12:00:00Z');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** Every entry under `dir`, relative, recursively. */
function listTree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('FsBlobStore', () => {
  let base: string;
  let root: string;
  let store: FsBlobStore;

  before(() => {
    base = mkdtempSync(path.join(tmpdir(), 'imagegate-blobs-'));
    root = path.join(base, 'images');
    store = new FsBlobStore(root);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('makes a day folder again when it was removed after an earlier put (it knows the folders it made)', async () => {
    const first = Buffer.from('first image of the day');
    await store.put(contentKey(first, 'png', DAY), first, 'image/png');
    rmSync(path.join(root, '20260101'), { recursive: true });
    const second = Buffer.from('second image of the day, 3 MB').subarray(0);
    const big = Buffer.concat([second, Buffer.alloc(3 * 1024 * 1024, 7)]);
    const key = contentKey(big, 'png', DAY);
    await store.put(key, big, 'image/png');
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.deepEqual(await readAll(blob.stream), big, 'written whole, in one call or several');
  });

  it('stores bytes under the key and reads them back with their size', async () => {
    const bytes = Buffer.from('png bytes for put/get');
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    assert.deepEqual(readFileSync(path.join(root, ...key.split('/'))), bytes);
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.equal(blob.sizeBytes, bytes.length);
    assert.deepEqual(await readAll(blob.stream), bytes);
  });

  it('returns null for a missing blob', async () => {
    assert.equal(await store.get(contentKey(Buffer.from('never stored'), 'png', DAY)), null);
  });

  it('is idempotent: a second put of the same key keeps the first bytes', async () => {
    const bytes = Buffer.from('idempotent bytes');
    const key = contentKey(bytes, 'webp', DAY);
    await store.put(key, bytes, 'image/webp');
    await store.put(key, bytes, 'image/webp');
    // Content addressing means the same key holds the same bytes; the store does not rewrite it.
    await store.put(key, Buffer.from('different'), 'image/webp');
    const blob = await store.get(key);
    assert.ok(blob !== null);
    assert.deepEqual(await readAll(blob.stream), bytes);
  });

  it('leaves no temporary files, even with concurrent puts of one key', async () => {
    const bytes = Buffer.alloc(256 * 1024, 7);
    const key = contentKey(bytes, 'jpeg', new Date('2026-02-02T00:00:00Z'));
    await Promise.all(Array.from({ length: 16 }, () => store.put(key, bytes, 'image/jpeg')));
    const dayDir = path.join(root, '20260202');
    assert.deepEqual(readdirSync(dayDir), [key.split('/')[1]]);
    assert.deepEqual(readFileSync(path.join(dayDir, key.split('/')[1] ?? '')), bytes);
  });

  it('keeps blob files private to the gateway user', { skip: process.platform === 'win32' }, async () => {
    const bytes = Buffer.from('private bytes');
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    assert.equal(statSync(path.join(root, ...key.split('/'))).mode & 0o777, 0o600);
  });

  it('deletes a blob, and ignores a missing one', async () => {
    const bytes = Buffer.from('to delete');
    const key = contentKey(bytes, 'png', DAY);
    await store.put(key, bytes, 'image/png');
    await store.delete(key);
    assert.equal(await store.get(key), null);
    await store.delete(key);
  });

  it('refuses keys outside the content-key grammar with a TypeError, touching nothing', async () => {
    const sentinel = path.join(base, 'sentinel.txt');
    writeFileSync(sentinel, 'SENTINEL');
    const before = listTree(base);
    const hash = 'a'.repeat(32);
    const bad = [
      '',
      '../sentinel.txt',
      `20260101/../../sentinel.txt`,
      `20260101/..${path.sep}${hash}.png`,
      '/etc/passwd',
      path.join(base, 'sentinel.txt'),
      `20260101/${hash}.png\0`,
      `20260101\\${hash}.png`,
      `20260101/${hash.toUpperCase()}.png`,
      `20260101/${hash}.txt`,
    ];
    for (const key of bad) {
      await assert.rejects(store.put(key, Buffer.from('x'), 'image/png'), TypeError, JSON.stringify(key));
      await assert.rejects(store.get(key), TypeError, JSON.stringify(key));
      await assert.rejects(store.delete(key), TypeError, JSON.stringify(key));
    }
    assert.deepEqual(listTree(base), before);
    assert.equal(readFileSync(sentinel, 'utf8'), 'SENTINEL');
  });

  it('does not follow a symlink planted at a key out of the root', { skip: process.platform === 'win32' }, async () => {
    const outside = path.join(base, 'outside-secret.txt');
    writeFileSync(outside, 'OUTSIDE');
    const key = `20260303/${'b'.repeat(32)}.png`;
    mkdirSync(path.join(root, '20260303'), { recursive: true });
    symlinkSync(outside, path.join(root, ...key.split('/')));
    assert.equal(await store.get(key), null);
  });

  it('treats a directory at a key as a missing blob', async () => {
    const key = `20260304/${'c'.repeat(32)}.png`;
    mkdirSync(path.join(root, ...key.split('/')), { recursive: true });
    assert.equal(await store.get(key), null);
  });
});
