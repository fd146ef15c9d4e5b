/**
 * The images requests this process is running, so shutdown can wait for them before it closes the
 * database. A request whose client has left keeps running until it has released its hold (and
 * an HTTP server that is closing only waits for connections, which are gone by then): closing
 * the backends under it would leave the hold open until it expires and log a failure.
 */
export class InflightRequests {
  readonly #running = new Set<Promise<unknown>>();

  /** Runs `work`, counted until it settles; its result or error is passed on as it is. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#running.add(work);
    const forget = (): void => void this.#running.delete(work);
    work.then(forget, forget);
    return work;
  }

  /** Resolves once every request running now, and any started meanwhile, has settled. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
