import { createHmac } from 'node:crypto';
import { type Dispatcher, request } from 'undici';
import { assertUrlAllowed, BlockedAddressError } from '../http/guarded-agent.ts';

export interface WebhookSettings {
  /** HMAC-SHA256 key; receivers verify `x-imagegate-signature` with it. */
  readonly secret: Buffer;
  /** Public-only agent, or a plain one when private targets are allowed (tests, on-premise). */
  readonly dispatcher: Dispatcher;
  readonly allowPrivate: boolean;
  readonly timeoutMs: number;
}

/** How one attempt went; `retryable: false` when trying again cannot help (the address policy refused the target). */
export type SendOutcome = { readonly delivered: true } | { readonly delivered: false; readonly retryable: boolean; readonly reason: string };

/**
 * Makes one attempt at a webhook call: a POST of the body signed like Stripe's and Standard
 * Webhooks' (`x-imagegate-signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). Any 2xx
 * is delivered; a network error or another status is a failed attempt, which the dispatcher
 * (`webhook-dispatcher.ts`) schedules again. Targets pass the same address policy as upstream
 * downloads, checked again here because a name may resolve elsewhere than when the job was
 * accepted.
 */
export class WebhookSender {
  readonly #settings: WebhookSettings;

  constructor(settings: WebhookSettings) {
    this.#settings = settings;
  }

  /** The signature header for a body at `timestampSeconds` (exported for receivers' tests). */
  sign(body: string, timestampSeconds: number): string {
    const mac = createHmac('sha256', this.#settings.secret).update(`${timestampSeconds}.${body}`).digest('hex');
    return `t=${timestampSeconds},v1=${mac}`;
  }

  async send(url: string, body: string): Promise<SendOutcome> {
    let target: URL;
    try {
      target = new URL(url);
      assertUrlAllowed(target, this.#settings.allowPrivate);
    } catch (err) {
      return { delivered: false, retryable: false, reason: (err as Error).message };
    }
    try {
      const response = await request(target, {
        method: 'POST',
        dispatcher: this.#settings.dispatcher,
        // Wall-clock time, not the gateway's injectable clock: receivers compare `t` with theirs.
        headers: { 'content-type': 'application/json', 'x-imagegate-signature': this.sign(body, Math.floor(Date.now() / 1000)) },
        body,
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return { delivered: true };
      return { delivered: false, retryable: true, reason: `the receiver answered ${response.statusCode}` };
    } catch (err) {
      const blocked = err instanceof BlockedAddressError || (err as { cause?: unknown }).cause instanceof BlockedAddressError;
      return { delivered: false, retryable: !blocked, reason: (err as Error).message };
    }
  }
}
