import { sleepMs } from './sleep.ts';

/**
 * Spaces the polls of asynchronous upstreams, per key (a channel id): slots are handed out in
 * call order, `minIntervalMs` apart, however many tasks are in flight. Upstreams limit task
 * queries per account, not per task (DashScope: "Rate limit for task query: 20 QPS", provider
 * notes §2a), so the spacing must hold across every request this process serves on the channel.
 * One pacer is made per process at boot and handed to adapters with each call.
 *
 * Not shared between replicas: N gateway processes polling one account each keep their own
 * spacing, so give each replica a minimum interval of N times the account's limit when that matters.
 */
export class PollPacer {
  /** The next moment (performance.now() milliseconds) each key may poll; one entry per channel. */
  readonly #nextPollAtMs = new Map<string, number>();
  readonly #nowMs: () => number;

  constructor(nowMs: () => number = () => performance.now()) {
    this.#nowMs = nowMs;
  }

  /**
   * Waits for this key's next poll slot, taking it. A waiter that aborts gives its slot up
   * unused, which only ever makes polls sparser.
   */
  async awaitSlot(key: string, minIntervalMs: number, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const nowMs = this.#nowMs();
    const slotMs = Math.max(nowMs, this.#nextPollAtMs.get(key) ?? nowMs);
    this.#nextPollAtMs.set(key, slotMs + minIntervalMs);
    await sleepMs(slotMs - nowMs, signal);
  }
}
