/** A counting semaphore: at most `limit` holders; waiters queue in order and may give up. */
export class Semaphore {
  readonly #limit: number;
  #held = 0;
  readonly #waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get inUse(): number {
    return this.#held;
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.#held < this.#limit) {
      this.#held += 1;
      return this.#releaser();
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.#held += 1;
        resolve(this.#releaser());
      };
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(grant);
        if (index !== -1) this.#waiters.splice(index, 1);
        reject(signal.reason);
      };
      this.#waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held -= 1;
      this.#waiters.shift()?.();
    };
  }
}
