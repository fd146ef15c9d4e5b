import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BlobStore } from './blob-store.ts';
import { isValidContentKey } from './content-key.ts';

/**
 * Blobs as files under one root folder: key `20260101/ab….png` is `<root>/20260101/ab….png`.
 *
 * Readers never see a partial file: bytes go to a temporary file in the same folder (same file
 * system, so the rename is atomic) and are renamed into place once complete and flushed. Keys
 * are content-addressed, so a key that already exists holds the same bytes and `put` skips it.
 */
export class FsBlobStore implements BlobStore {
  readonly #rootDir: string;
  /** The root with one trailing separator: every blob path starts with it. */
  readonly #rootPrefix: string;

  constructor(rootDir: string) {
    this.#rootDir = path.resolve(rootDir);
    this.#rootPrefix = this.#rootDir.endsWith(path.sep) ? this.#rootDir : this.#rootDir + path.sep;
  }

  async put(key: string, bytes: Buffer, _contentType: string): Promise<void> {
    // The content type is implied by the key's extension; the files route derives it from there.
    const target = this.#pathOf(key);
    if (await isFile(target)) return;
    const dir = path.dirname(target);
    // Images are the callers' private content: only the gateway's own user may read them.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Starts with a dot and ends in `.tmp`, so it can never be mistaken for a key.
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      try {
        await handle.writeFile(bytes);
        // Flushed before the rename so a crash cannot leave a complete name with missing bytes.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      // Windows refuses to rename over an existing file; a concurrent put of the same key won.
      if (await isFile(target)) return;
      throw err;
    }
  }

  async get(key: string): Promise<{ stream: Readable; sizeBytes: number } | null> {
    const target = this.#pathOf(key);
    let handle;
    try {
      // O_NOFOLLOW: a symlink planted at a key's place is not followed out of the root.
      handle = await open(target, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENOTDIR')) return null;
      throw err;
    }
    try {
      // Size from the open file itself, so it matches the bytes the stream will read.
      const info = await handle.stat();
      if (!info.isFile()) {
        await handle.close();
        return null;
      }
      return { stream: handle.createReadStream({ autoClose: true }), sizeBytes: info.size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#pathOf(key));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
  }

  /**
   * The file of a key. Keys come from `contentKey`, never from a client, so a bad key is our bug
   * (TypeError). The grammar alone already rules out `..` and separators; the containment check
   * is a second lock in case the grammar is ever loosened.
   */
  #pathOf(key: string): string {
    if (!isValidContentKey(key)) throw new TypeError('not a valid content key');
    const resolved = path.resolve(this.#rootDir, ...key.split('/'));
    if (!resolved.startsWith(this.#rootPrefix)) throw new TypeError('content key resolves outside the blob root');
    return resolved;
  }
}

async function isFile(filePath: string): Promise<boolean> {
  try {
    return (await stat(filePath)).isFile();
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}
