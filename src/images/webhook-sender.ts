import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import { assertUrlAllowed } from '../http/guarded-agent.ts';

export interface WebhookSettings {
  /** HMAC-SHA256 key; receivers verify `x-imagegate-signature` with it. */
  readonly secret: Buffer;
  /** Public-only agent, or a plain one when private targets are allowed (tests, on-premise). */
  readonly dispatcher: Dispatcher;
  readonly allowPrivate: boolean;
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly timeoutMs: number;
}

/**
 * Tells a client its async job finished: a POST of `{id, object, status, …}` signed like Stripe's
 * and Standard Webhooks' (`x-imagegate-signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`),
 * retried with exponential backoff on failure (network error or non-2xx). Targets pass the same
 * address policy as upstream downloads. Delivery is best effort after the retries; the job's
 * result stays available at `GET /v1/images/generations/{id}` either way.
 */
export class WebhookSender {
  readonly #settings: WebhookSettings;
  readonly #logger: Logger;

  constructor(settings: WebhookSettings, logger: Logger) {
    this.#settings = settings;
    this.#logger = logger;
  }

  /** The signature header for a body at `timestampSeconds` (exported for receivers' tests). */
  sign(body: string, timestampSeconds: number): string {
    const mac = createHmac('sha256', this.#settings.secret).update(`${timestampSeconds}.${body}`).digest('hex');
    return `t=${timestampSeconds},v1=${mac}`;
  }

  async deliver(url: string, payload: object): Promise<boolean> {
    const body = JSON.stringify(payload);
    for (let attempt = 0; attempt < this.#settings.attempts; attempt += 1) {
      if (attempt > 0) await sleep(this.#settings.firstDelayMs * 4 ** (attempt - 1));
      try {
        const target = new URL(url);
        assertUrlAllowed(target, this.#settings.allowPrivate);
        const response = await request(target, {
          method: 'POST',
          dispatcher: this.#settings.dispatcher,
          headers: { 'content-type': 'application/json', 'x-imagegate-signature': this.sign(body, Math.floor(Date.now() / 1000)) },
          body,
          signal: AbortSignal.timeout(this.#settings.timeoutMs),
        });
        await response.body.dump();
        if (response.statusCode >= 200 && response.statusCode < 300) return true;
        this.#logger.warn({ status: response.statusCode, attempt }, 'webhook answered with an error');
      } catch (err) {
        this.#logger.warn({ err: (err as Error).message, attempt }, 'webhook delivery failed');
      }
    }
    return false;
  }
}
