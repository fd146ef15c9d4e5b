import { Semaphore } from './semaphore.ts';

/**
 * One turn at reading an upstream body into memory (see `BodyReads`). The turn lasts from the
 * first byte read until the answer built from that body has gone to the client, when the caller
 * retains it that long (`ProviderCall.retain`), or just until the body is read otherwise.
 */
export interface BodyReadTurn {
  /**
   * A buffer of exactly `bytes`, from memory earlier turns used (no fresh allocation, no page
   * faults, nothing new for V8's garbage collector to count): for the body, and for the images
   * decoded from it. Each call gives another buffer. They are the turn's alone until it ends;
   * after that another turn may overwrite them, so only a turn retained until its answer is sent,
   * and its request done, may hand them out.
   */
  scratch(bytes: number): Buffer;
  /** Ends the turn: the next read may start, and the scratch buffers go back to the pool. */
  release(): void;
  /**
   * Ends the turn but never reuses its scratch buffers: its answer is still being written (a slow
   * client past the time limit), so the buffers stay with it and the garbage collector frees them.
   */
  detach(): void;
}

/** Buffers are pooled in power-of-two sizes from 64 KiB to 16 MiB; larger ones are not pooled. */
const MIN_POOLED_SHIFT = 16;
const MAX_POOLED_SHIFT = 24;

/**
 * The process-wide limit on upstream bodies held in memory at once, with a pool of the buffers
 * they, and the images decoded from them, are read into.
 *
 * A thousand requests held open by a slow upstream may all get their multi-megabyte answers in
 * the same second. Each turn covers a body from its first byte until the answer made of it has been
 * written to the client and its request has finished (the API routes retain it, see
 * api/retain-until-answered.ts), so the bodies in memory (upstream bytes, decoded images, answers
 * being written) never exceed `limit` turns' worth, whatever the burst: the others wait in the
 * kernel's socket buffers, and TCP flow control holds the upstream back. Buffers come back to the
 * pool when a turn ends (at most `maxPooledBytes` are kept), so steady traffic reads every body and
 * decodes every image into memory that is already there.
 */
export class BodyReads {
  readonly #turns: Semaphore;
  /** Free buffers by size class (index = log2 of their length). */
  readonly #free = new Map<number, Buffer[]>();
  readonly #maxPooledBytes: number;
  #pooledBytes = 0;

  constructor(limit: number, maxPooledBytes = 128 * 1024 * 1024) {
    this.#turns = new Semaphore(limit);
    this.#maxPooledBytes = maxPooledBytes;
  }

  /** Turns in use now. */
  get inUse(): number {
    return this.#turns.inUse;
  }

  /** Bytes of free buffers in the pool now. */
  get pooledBytes(): number {
    return this.#pooledBytes;
  }

  /** Waits for a turn; rejects with the signal's reason when it aborts first. */
  async acquire(signal: AbortSignal): Promise<BodyReadTurn> {
    const releaseTurn = await this.#turns.acquire(signal);
    const taken: Buffer[] = [];
    let ended = false;
    const end = (giveBack: boolean): void => {
      if (ended) return;
      ended = true;
      releaseTurn();
      if (giveBack) for (const buffer of taken) this.#giveBack(buffer);
      taken.length = 0;
    };
    return {
      scratch: (bytes) => {
        // Memory of its own once the turn has ended: nobody else can be handed it.
        if (ended) return Buffer.allocUnsafe(bytes);
        const buffer = this.#take(bytes);
        taken.push(buffer);
        return buffer.subarray(0, bytes);
      },
      release: () => end(true),
      detach: () => end(false),
    };
  }

  #take(bytes: number): Buffer {
    const shift = sizeClass(bytes);
    if (shift === null) return Buffer.allocUnsafeSlow(bytes);
    const pooled = this.#free.get(shift)?.pop();
    if (pooled === undefined) return Buffer.allocUnsafeSlow(2 ** shift);
    this.#pooledBytes -= pooled.length;
    return pooled;
  }

  #giveBack(buffer: Buffer): void {
    const shift = sizeClass(buffer.length);
    if (shift === null || buffer.length !== 2 ** shift || this.#pooledBytes + buffer.length > this.#maxPooledBytes) return;
    const list = this.#free.get(shift) ?? [];
    list.push(buffer);
    this.#free.set(shift, list);
    this.#pooledBytes += buffer.length;
  }
}

/** The pool's size class for a buffer of `bytes` (log2 of the power of two it rounds up to), or null. */
function sizeClass(bytes: number): number | null {
  const shift = Math.max(MIN_POOLED_SHIFT, Math.ceil(Math.log2(Math.max(1, bytes))));
  return shift <= MAX_POOLED_SHIFT ? shift : null;
}
