import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { DialectName } from './database.ts';
import type { Database, JobRow } from './schema.ts';
import { insertDelivery, type NewWebhookDelivery } from './webhooks-repo.ts';

/**
 * Async generation jobs. Claiming is one atomic statement: PostgreSQL's `FOR UPDATE SKIP LOCKED`
 * lets every replica's worker take a different job without waiting on the others; SQLite runs one
 * writer at a time, so the same statement is atomic there too. A job whose claim expired (its
 * process died) is claimable again, so an accepted job is finished or failed, never lost.
 */
export class JobsRepo {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;

  constructor(db: Kysely<Database>, dialect: DialectName) {
    this.#db = db;
    this.#dialect = dialect;
  }

  async create(apiKeyId: string, requestJson: string, webhookUrl: string | null, nowMs: number): Promise<JobRow> {
    const row: JobRow = {
      id: `imgjob_${randomUUID().replaceAll('-', '')}`,
      api_key_id: apiKeyId,
      kind: 'generation',
      status: 'queued',
      request_json: requestJson,
      webhook_url: webhookUrl,
      result_status: null,
      result_json: null,
      attempts: 0,
      locked_by: null,
      lease_until_ms: null,
      created_at_ms: nowMs,
      updated_at_ms: nowMs,
      completed_at_ms: null,
    };
    await this.#db.insertInto('jobs').values(row).execute();
    return row;
  }

  async getOwned(apiKeyId: string, id: string): Promise<JobRow | undefined> {
    return this.#db.selectFrom('jobs').selectAll().where('id', '=', id).where('api_key_id', '=', apiKeyId).executeTakeFirst();
  }

  /** Takes the oldest runnable job for `worker` until `nowMs + leaseMs`, or undefined when none. */
  async claim(worker: string, nowMs: number, leaseMs: number): Promise<JobRow | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      let pick = trx
        .selectFrom('jobs')
        .select('id')
        .where((eb) => eb.or([eb('status', '=', 'queued'), eb.and([eb('status', '=', 'running'), eb('lease_until_ms', '<', nowMs)])]))
        .orderBy('created_at_ms')
        .limit(1);
      if (this.#dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      const candidate = await pick.executeTakeFirst();
      if (candidate === undefined) return undefined;
      await trx
        .updateTable('jobs')
        .set((eb) => ({ status: 'running', locked_by: worker, lease_until_ms: nowMs + leaseMs, attempts: eb('attempts', '+', 1), updated_at_ms: nowMs }))
        .where('id', '=', candidate.id)
        .execute();
      return trx.selectFrom('jobs').selectAll().where('id', '=', candidate.id).executeTakeFirst();
    });
  }

  /** Extends a running job's claim (heartbeat), only while this worker still holds it. */
  async extend(id: string, worker: string, nowMs: number, leaseMs: number): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({ lease_until_ms: nowMs + leaseMs, updated_at_ms: nowMs })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute();
  }

  /**
   * Gives a running job back to be claimed again at `untilMs` (its key was over its images/minute
   * or concurrency limit): the claim is dropped and its lease set to end then, and `claim` takes
   * running jobs whose lease has ended, so no worker picks it up before.
   */
  async retryLater(id: string, worker: string, untilMs: number, nowMs: number): Promise<void> {
    await this.#db
      .updateTable('jobs')
      .set({ locked_by: null, lease_until_ms: untilMs, updated_at_ms: nowMs })
      .where('id', '=', id)
      .where('locked_by', '=', worker)
      .execute();
  }

  /**
   * Stores a job's result, and with it the webhook delivery reporting it (in the same
   * transaction, so a stored result never lacks its delivery). Only while `worker` still holds
   * the job: a worker whose claim lapsed and was taken over writes nothing, and the one that took
   * it over reports it. Returns whether this worker finished it.
   */
  async finish(
    id: string,
    worker: string,
    status: 'succeeded' | 'failed',
    resultStatus: number,
    resultJson: string,
    nowMs: number,
    webhook: NewWebhookDelivery | null = null,
  ): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('jobs')
        .set({
          status,
          result_status: resultStatus,
          result_json: resultJson,
          locked_by: null,
          lease_until_ms: null,
          updated_at_ms: nowMs,
          completed_at_ms: nowMs,
        })
        .where('id', '=', id)
        .where('locked_by', '=', worker)
        .executeTakeFirst();
      if (updated.numUpdatedRows === 0n) return false;
      if (webhook !== null) await insertDelivery(trx, webhook, nowMs);
      return true;
    });
  }
}
