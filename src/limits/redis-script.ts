import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server has not cached it yet (a
 * fresh or restarted Redis, or `SCRIPT FLUSH`); EVAL caches it again. The script body is sent only
 * on that fallback. Every script here touches exactly the keys it is given in KEYS, one per call,
 * so they also run on Redis Cluster.
 */
export class RedisScript {
  readonly #source: string;
  readonly #sha1: string;

  constructor(source: string) {
    this.#source = source;
    this.#sha1 = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await client.eval(this.#source, keys.length, ...keys, ...args);
    }
  }
}
