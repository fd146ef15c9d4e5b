import type { Redis } from 'ioredis';

/**
 * Circuit-breaker state shared between replicas. Each replica keeps its own breaker per channel
 * (fast, synchronous, no network on the request path); when one trips, it posts the channel here
 * for the cool-down, and every replica treats a posted channel as open too. So one replica's
 * discovery that an upstream is down spares the others from paying for it with failed requests.
 */
export interface BreakerBoard {
  /** Whether some replica reported the channel open (a cached read: never blocks a request). */
  isOpen(channelId: string): boolean;
  /** Milliseconds until the posted open state lapses (0 when not posted). */
  openForMs(channelId: string): number;
  post(channelId: string, cooldownMs: number): void;
  close(): void;
}

/** One process: the local breakers are all there is. */
export class LocalBreakerBoard implements BreakerBoard {
  isOpen(): boolean {
    return false;
  }
  openForMs(): number {
    return 0;
  }
  post(): void {}
  close(): void {}
}

/**
 * Redis keys `<prefix>breaker:<channel>` that expire with the cool-down, read by every replica
 * once a second (`refreshMs`) into a local cache.
 */
export class RedisBreakerBoard implements BreakerBoard {
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #channels: readonly string[];
  readonly #openUntilMs = new Map<string, number>();
  readonly #timer: NodeJS.Timeout;

  constructor(client: Redis, prefix: string, channelIds: readonly string[], refreshMs = 1000) {
    this.#client = client;
    this.#prefix = prefix;
    this.#channels = channelIds;
    this.#timer = setInterval(() => void this.#refresh(), refreshMs);
    this.#timer.unref();
    void this.#refresh();
  }

  isOpen(channelId: string): boolean {
    return this.openForMs(channelId) > 0;
  }

  openForMs(channelId: string): number {
    return Math.max(0, (this.#openUntilMs.get(channelId) ?? 0) - Date.now());
  }

  post(channelId: string, cooldownMs: number): void {
    this.#openUntilMs.set(channelId, Date.now() + cooldownMs);
    this.#client.set(this.#key(channelId), '1', 'PX', cooldownMs).catch(() => undefined);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #refresh(): Promise<void> {
    if (this.#channels.length === 0) return;
    try {
      const ttls = await Promise.all(this.#channels.map((id) => this.#client.pttl(this.#key(id))));
      const now = Date.now();
      this.#channels.forEach((id, i) => {
        const ttl = ttls[i] ?? -2;
        if (ttl > 0) this.#openUntilMs.set(id, now + ttl);
        else this.#openUntilMs.delete(id);
      });
    } catch {
      // Redis unreachable: keep the last known state; local breakers still protect this replica.
    }
  }

  #key(channelId: string): string {
    return `${this.#prefix}breaker:${channelId}`;
  }
}
