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
 *
 * The file is opened with O_DSYNC and written in one call, so the write returns once the bytes
 * (and the size that finds them) are on disk: the guarantee of write + fdatasync in one trip to
 * the thread pool instead of one per 512 KiB chunk plus one for the flush (POSIX `open`, O_DSYNC).
 */
export class FsBlobStore implements BlobStore {
  readonly #rootDir: string;
  /** The root with one trailing separator: every blob path starts with it. */
  readonly #rootPrefix: string;
  /** Day folders known to exist, so each is made once per process rather than once per image. */
  readonly #madeDirs = new Set<string>();

  constructor(rootDir: string) {
    this.#rootDir = path.resolve(rootDir);
    this.#rootPrefix = this.#rootDir.endsWith(path.sep) ? this.#rootDir : this.#rootDir + path.sep;
  }

  async put(key: string, bytes: Buffer, _contentType: string): Promise<void> {
    // The content type is implied by the key's extension; the files route derives it from there.
    await this.#put(key, bytes, false);
  }

  async #put(key: string, bytes: Buffer, retried: boolean): Promise<void> {
    const target = this.#pathOf(key);
    if (await isFile(target)) return;
    const dir = path.dirname(target);
    if (!this.#madeDirs.has(dir)) {
      // Images are the callers' private content: only the gateway's own user may read them.
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.#madeDirs.add(dir);
    }
    // Starts with a dot and ends in `.tmp`, so it can never be mistaken for a key.
    const temp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      // Durable before the rename (O_DSYNC), so a crash cannot leave a complete name with missing bytes.
      const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_DSYNC, 0o600);
      try {
        for (let written = 0; written < bytes.length;) {
          written += (await handle.write(bytes, written, bytes.length - written, written)).bytesWritten;
        }
      } finally {
        await handle.close();
      }
      await rename(temp, target);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      // A day folder removed from under us (by hand): made again, once.
      if (isErrno(err, 'ENOENT') && !retried) {
        this.#madeDirs.delete(dir);
        return this.#put(key, bytes, true);
      }
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
