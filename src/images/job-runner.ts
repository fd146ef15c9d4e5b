import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { type ContractSettings, validateGeneration } from '../contract/generation.ts';
import type { JobsRepo } from '../db/jobs-repo.ts';
import type { KeysRepo } from '../db/keys-repo.ts';
import type { JobRow } from '../db/schema.ts';
import { GatewayError, renderError } from '../errors.ts';
import { toApiKey } from '../keys/api-key.ts';
import { runImages } from './run-images.ts';
import { storedBody, storedBodyOfRecords } from './stored-body.ts';
import type { ImagesDeps } from './types.ts';

export interface JobRunnerDeps {
  readonly jobs: JobsRepo;
  readonly keys: KeysRepo;
  readonly contract: ContractSettings;
  readonly images: ImagesDeps;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  /** A claim lasts this long and is renewed while the job runs; a dead worker's job is retaken after it. */
  readonly leaseMs: number;
  readonly maxParallel: number;
}

/**
 * A job over its key's images/minute or concurrency limit is put back and tried again once the
 * limit allows (an async caller asked for the work to be done, not for a 429), up to this many
 * runs. A refusal without a Retry-After (n above the key's whole allowance) fails it at once.
 */
const MAX_RUNS = 20;

/**
 * Runs async generation jobs (`Prefer: respond-async`) in every gateway process: claims queued
 * jobs (or ones whose worker died), runs them through the images use case like a synchronous
 * request (their requests/minute were counted when they were accepted), stores the answer, and
 * queues the job's webhook with it (sent by `WebhookDispatcher`). Stopping ends the polling; jobs
 * still running finish, and any this process cannot finish are retaken by a worker after their
 * lease.
 */
export class JobRunner {
  readonly #deps: JobRunnerDeps;
  readonly #worker = `worker_${randomBytes(6).toString('hex')}`;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  /** The poll under way, if any (stop waits for it). */
  #polling: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(deps: JobRunnerDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops claiming; resolves when the jobs this process is running have finished. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    // A poll already under way may still be claiming: wait for it, then for what it started, so
    // nothing touches the database after stop() (closing the backends follows it).
    await this.#polling;
    await Promise.allSettled([...this.#running]);
  }

  /** Claims and runs jobs until none is left or the parallel limit is reached (also used by tests). */
  async tick(): Promise<void> {
    while (!this.#stopped && this.#running.size < this.#deps.maxParallel) {
      const job = await this.#deps.jobs.claim(this.#worker, this.#deps.images.now(), this.#deps.leaseMs);
      if (job === undefined) return;
      const run = this.#run(job).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#polling = this.tick()
        .catch((err: unknown) => this.#deps.logger.error({ err }, 'job polling failed'))
        .finally(() => this.#schedule(this.#deps.pollIntervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  async #run(job: JobRow): Promise<void> {
    const deps = this.#deps;
    const now = deps.images.now;
    const heartbeat = setInterval(
      () => {
        deps.jobs.extend(job.id, this.#worker, now(), deps.leaseMs).catch((err: unknown) => deps.logger.warn({ err }, 'job heartbeat failed'));
      },
      Math.max(50, Math.floor(deps.leaseMs / 3)),
    );
    heartbeat.unref();
    let status = 200;
    let body: string;
    try {
      const row = await deps.keys.get(job.api_key_id);
      if (row === undefined || row.revoked_at_ms !== null) throw new GatewayError('invalid_api_key', 'The API key of this job was revoked.');
      const request = validateGeneration(JSON.parse(job.request_json), deps.contract);
      if (job.attempts > 1 && (await deps.images.ledger.wasCharged(job.id))) {
        // An earlier run delivered and was charged, then its process died before recording the
        // result: answer from the images it stored instead of generating (and charging) again.
        const rows = await deps.images.images.listByRequest(job.id);
        const created = Math.floor((rows[0]?.created_at_ms ?? now()) / 1000);
        body = storedBodyOfRecords(
          { id: job.id, status: 'succeeded', created },
          rows.map((r) => r.blob_key),
          request.responseFormat,
        );
      } else {
        const outcome = await runImages(deps.images, request, {
          apiKey: toApiKey(row),
          // The job id is the ledger's and the image records' request id.
          requestId: job.id,
          signal: new AbortController().signal,
          requestCounted: true,
        });
        body = storedBody({ ...outcome.body, id: job.id, status: 'succeeded' }, outcome.records);
      }
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'rate_limit_exceeded' && (await this.#retryLater(job, err))) return;
      const rendered = renderError(err, job.id);
      if (rendered.status >= 500) deps.logger.error({ err, job: job.id }, 'job failed');
      status = rendered.status;
      body = JSON.stringify({ id: job.id, status: 'failed', ...rendered.body });
    } finally {
      clearInterval(heartbeat);
    }
    const outcome = status === 200 ? 'succeeded' : 'failed';
    // The webhook is queued with the result, not sent from this job slot: a receiver that is down
    // would otherwise hold the slot through every retry, and other keys' jobs would wait behind it.
    // The payload keeps the result's image references; the dispatcher makes them links when it sends.
    const webhook =
      job.webhook_url === null
        ? null
        : {
            jobId: job.id,
            url: job.webhook_url,
            payloadJson: JSON.stringify({ id: job.id, object: 'image.generation.job', status: outcome, result: JSON.parse(body) as unknown }),
          };
    await deps.jobs.finish(job.id, this.#worker, outcome, status, body, now(), webhook);
  }

  /** Puts a job over its key's limits back for later, when waiting can help; false to fail it. */
  async #retryLater(job: JobRow, err: GatewayError): Promise<boolean> {
    if (err.retryAfterSeconds === undefined || job.attempts >= MAX_RUNS) return false;
    const waitMs = err.retryAfterSeconds * 1000;
    const nowMs = this.#deps.images.now();
    await this.#deps.jobs.retryLater(job.id, this.#worker, nowMs + waitMs, nowMs);
    this.#deps.logger.info({ job: job.id, waitMs }, 'job over its key limits; it runs again later');
    return true;
  }
}
