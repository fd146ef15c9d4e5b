/** One upstream attempt as the channels view shows it. */
export interface Outcome {
  readonly atMs: number;
  readonly ok: boolean;
  readonly latencyMs: number;
  /** The error code of a failed attempt. */
  readonly code: string | null;
}

/**
 * The last few upstream attempts of one channel, kept for the operator's console (error rate and
 * latency). A fixed ring: recording is O(1) and memory stays bounded however busy the channel is.
 */
export class RecentOutcomes {
  readonly #capacity: number;
  readonly #ring: Outcome[] = [];
  #next = 0;

  constructor(capacity = 100) {
    this.#capacity = capacity;
  }

  record(outcome: Outcome): void {
    if (this.#ring.length < this.#capacity) this.#ring.push(outcome);
    else this.#ring[this.#next] = outcome;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** Oldest first. */
  list(): Outcome[] {
    return this.#ring.length < this.#capacity ? [...this.#ring] : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
