import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DialectName } from './database.ts';
import type { Database, WebhookDeliveryRow } from './schema.ts';

/** A webhook call to make: where, and the body in its kept form. */
export interface NewWebhookDelivery {
  readonly jobId: string;
  readonly url: string;
  readonly payloadJson: string;
}

/**
 * Queues a delivery, due at once. Takes any Kysely handle so that a job's result and the delivery
 * reporting it are written in one transaction (`JobsRepo.finish`): a stored result always has its
 * delivery, and a crash between the two writes cannot lose it.
 */
export async function insertDelivery(db: Kysely<Database>, delivery: NewWebhookDelivery, nowMs: number): Promise<void> {
  await db
    .insertInto('webhook_deliveries')
    .values({
      id: `whd_${randomUUID().replaceAll('-', '')}`,
      job_id: delivery.jobId,
      url: delivery.url,
      payload_json: delivery.payloadJson,
      status: 'pending',
      attempts: 0,
      next_attempt_at_ms: nowMs,
      locked_by: null,
      lease_until_ms: null,
      last_error: null,
      created_at_ms: nowMs,
      updated_at_ms: nowMs,
      delivered_at_ms: null,
    })
    .onConflict((oc) => oc.column('job_id').doNothing())
    .execute();
}

/** Longest `last_error` kept: a reason, not a receiver's whole error page. */
const MAX_ERROR_CHARS = 500;

/**
 * Webhook deliveries, a queue of their own so that a receiver that is down holds no job slot.
 * Claiming works as for jobs (`jobs-repo.ts`): one atomic statement, `FOR UPDATE SKIP LOCKED` on
 * PostgreSQL so replicas take different deliveries without waiting on each other, SQLite's single
 * writer elsewhere. A claim whose process died is claimable again after its lease, so a queued
 * delivery is delivered or failed, never lost (and may, rarely, arrive twice: receivers dedupe by
 * the job `id`).
 */
export class WebhooksRepo {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;

  constructor(db: Kysely<Database>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  async enqueue(delivery: NewWebhookDelivery, nowMs: number): Promise<void> {
    await insertDelivery(this.#db, delivery, nowMs);
  }

  async listByJob(jobId: string): Promise<WebhookDeliveryRow[]> {
    return this.#db.selectFrom('webhook_deliveries').selectAll().where('job_id', '=', jobId).execute();
  }

  /** Takes the delivery due longest for `worker` until `nowMs + leaseMs` (counting an attempt), or undefined. */
  async claim(worker: string, nowMs: number, leaseMs: number): Promise<WebhookDeliveryRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      let pick = trx
        .selectFrom('webhook_deliveries')
        .select('id')
        .where((eb) =>
          eb.or([
            eb.and([eb('status', '=', 'pending'), eb('next_attempt_at_ms', '<=', nowMs)]),
            eb.and([eb('status', '=', 'delivering'), eb('lease_until_ms', '<', nowMs)]),
          ]),
        )
        .orderBy('next_attempt_at_ms')
        .limit(1);
      if (this.#dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      const candidate = await pick.executeTakeFirst();
      if (candidate === undefined) return undefined;
      await trx
        .updateTable('webhook_deliveries')
        .set((eb) => ({ status: 'delivering', locked_by: worker, lease_until_ms: nowMs + leaseMs, attempts: eb('attempts', '+', 1), updated_at_ms: nowMs }))
        .where('id', '=', candidate.id)
        .execute();
      return trx.selectFrom('webhook_deliveries').selectAll().where('id', '=', candidate.id).executeTakeFirst();
    });
  }

  /** The receiver took it. Only while `worker` still holds the claim, like every outcome below. */
  async delivered(id: string, worker: string, nowMs: number): Promise<void> {
    await this.#db
      .updateTable('webhook_deliveries')
      .set({ status: 'delivered', locked_by: null, lease_until_ms: null, last_error: null, updated_at_ms: nowMs, delivered_at_ms: nowMs })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute();
  }

  /** The attempt failed; it is due again at `nextAttemptAtMs`. */
  async retryAt(id: string, worker: string, nextAttemptAtMs: number, error: string, nowMs: number): Promise<void> {
    await this.#db
      .updateTable('webhook_deliveries')
      .set({
        status: 'pending',
        next_attempt_at_ms: nextAttemptAtMs,
        locked_by: null,
        lease_until_ms: null,
        last_error: error.slice(0, MAX_ERROR_CHARS),
        updated_at_ms: nowMs,
      })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute();
  }

  /** Given up: its attempts are used up, or it can never be delivered. */
  async failed(id: string, worker: string, error: string, nowMs: number): Promise<void> {
    await this.#db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', locked_by: null, lease_until_ms: null, last_error: error.slice(0, MAX_ERROR_CHARS), updated_at_ms: nowMs })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute();
  }
}
