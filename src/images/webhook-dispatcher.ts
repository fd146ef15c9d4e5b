import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { WebhooksRepo } from '../db/webhooks-repo.ts';
import type { WebhookDeliveryRow } from '../db/schema.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import { resolveStoredBody } from './stored-body.ts';
import type { SendOutcome, WebhookSender } from './webhook-sender.ts';

export interface WebhookDispatcherDeps {
  readonly deliveries: WebhooksRepo;
  readonly sender: WebhookSender;
  /** To make a payload's image references into links (or base64) at each attempt. */
  readonly links: LinkSigner;
  readonly blobs: BlobStore;
  readonly urlTtlSeconds: number;
  readonly logger: Logger;
  /** Epoch milliseconds: the gateway's one clock. */
  readonly now: () => number;
  readonly pollIntervalMs: number;
  /** A claim lasts this long; longer than one attempt, so only a dead process's delivery is retaken. */
  readonly leaseMs: number;
  /** Deliveries one process sends at once. */
  readonly maxParallel: number;
  /** Attempts in all before a delivery is given up. */
  readonly attempts: number;
  /** The wait after the first failed attempt; each later wait is four times the one before. */
  readonly firstDelayMs: number;
}

/**
 * Sends the webhook deliveries the job runner queues, in every gateway process, apart from the
 * job slots: a receiver that is down or slow delays only its own deliveries, never another key's
 * jobs. Each claim is one attempt; a failed one is put back with exponential backoff, and one
 * whose attempts are used up is marked failed and logged (the job's result stays available at
 * `GET /v1/images/generations/{id}` either way). Stopping ends the polling and waits for the
 * attempts in flight; deliveries still due stay queued in the database for the next start.
 */
export class WebhookDispatcher {
  readonly #deps: WebhookDispatcherDeps;
  readonly #worker = `webhooks_${randomBytes(6).toString('hex')}`;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  /** The poll under way, if any (stop waits for it). */
  #polling: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: WebhookDispatcherDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops claiming; resolves when the attempts this process has in flight have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    // A poll already under way may still be claiming: wait for it, then for what it started, so
    // nothing touches the database after stop() (closing the backends follows it).
    await this.#polling;
    await Promise.allSettled([...this.#running]);
  }

  /** Claims and sends due deliveries until none is left or the parallel limit is reached. */
  async tick(): Promise<void> {
    while (!this.#stopped && this.#running.size < this.#deps.maxParallel) {
      const delivery = await this.#deps.deliveries.claim(this.#worker, this.#deps.now(), this.#deps.leaseMs);
      if (delivery === undefined) return;
      const attempt = this.#attempt(delivery)
        .catch((err: unknown) => this.#deps.logger.error({ err, delivery: delivery.id }, 'webhook delivery could not be recorded'))
        .finally(() => this.#running.delete(attempt));
      this.#running.add(attempt);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.tick()
        .catch((err: unknown) => this.#deps.logger.error({ err }, 'webhook polling failed'))
        .finally(() => this.#schedule(this.#deps.pollIntervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  async #attempt(delivery: WebhookDeliveryRow): Promise<void> {
    const deps = this.#deps;
    const outcome = await this.#send(delivery);
    const nowMs = deps.now();
    // The URL's path and query may hold the receiver's own token; the log names its origin only.
    const where = { delivery: delivery.id, job: delivery.job_id, origin: originOf(delivery.url), attempt: delivery.attempts };
    if (outcome.delivered) {
      await deps.deliveries.delivered(delivery.id, this.#worker, nowMs);
      return;
    }
    if (outcome.retryable && delivery.attempts < deps.attempts) {
      const waitMs = deps.firstDelayMs * 4 ** (delivery.attempts - 1);
      await deps.deliveries.retryAt(delivery.id, this.#worker, nowMs + waitMs, outcome.reason, nowMs);
      deps.logger.warn({ ...where, reason: outcome.reason, waitMs }, 'webhook attempt failed; trying again later');
      return;
    }
    await deps.deliveries.failed(delivery.id, this.#worker, outcome.reason, nowMs);
    deps.logger.error({ ...where, reason: outcome.reason }, 'webhook not delivered; giving up');
  }

  async #send(delivery: WebhookDeliveryRow): Promise<SendOutcome> {
    const expiresAtSeconds = Math.floor(this.#deps.now() / 1000) + this.#deps.urlTtlSeconds;
    let body: string;
    try {
      body = (await resolveStoredBody(delivery.payload_json, this.#deps, expiresAtSeconds)).toString('utf8');
    } catch (err) {
      // The blob store failed to answer (base64 payloads read images back): a failed attempt like
      // a receiver's, tried again later.
      return { delivered: false, retryable: true, reason: `the payload could not be built: ${(err as Error).message}` };
    }
    return this.#deps.sender.send(delivery.url, body);
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(not a URL)';
  }
}
