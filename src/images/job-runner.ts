import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/index.ts';
import { validateGeneration } from '../contract/generation.ts';
import type { JobsRepo } from '../db/jobs-repo.ts';
import type { KeysRepo } from '../db/keys-repo.ts';
import type { JobRow } from '../db/schema.ts';
import { GatewayError, renderError } from '../errors.ts';
import { type GenerateDeps, generateImages } from './generate-images.ts';
import { imagesResponseBody } from './images-response-body.ts';
import type { WebhookSender } from './webhook-sender.ts';

export interface JobRunnerDeps {
  readonly jobs: JobsRepo;
  readonly keys: KeysRepo;
  readonly catalog: Catalog;
  readonly defaultModel: string;
  readonly generate: GenerateDeps;
  readonly webhooks: WebhookSender;
  readonly logger: Logger;
  readonly now: () => number;
  readonly pollIntervalMs: number;
  /** A claim lasts this long and is renewed while the job runs; a dead worker's job is retaken after it. */
  readonly leaseMs: number;
  readonly maxParallel: number;
}

/**
 * Runs async generation jobs (`Prefer: respond-async`) in every gateway process: claims queued
 * jobs (or ones whose worker died), runs them through the same path as a synchronous request,
 * stores the answer, and calls the job's webhook. Stopping ends the polling; jobs still running
 * finish, and any this process cannot finish are retaken by a worker after their lease.
 */
export class JobRunner {
  readonly #deps: JobRunnerDeps;
  readonly #worker = `worker_${randomBytes(6).toString('hex')}`;
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
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
    await Promise.allSettled([...this.#running]);
  }

  /** Claims and runs jobs until none is left or the parallel limit is reached (also used by tests). */
  async tick(): Promise<void> {
    while (!this.#stopped && this.#running.size < this.#deps.maxParallel) {
      const job = await this.#deps.jobs.claim(this.#worker, this.#deps.now(), this.#deps.leaseMs);
      if (job === undefined) return;
      const run = this.#run(job).finally(() => this.#running.delete(run));
      this.#running.add(run);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.tick()
        .catch((err: unknown) => this.#deps.logger.error({ err }, 'job polling failed'))
        .finally(() => this.#schedule(this.#deps.pollIntervalMs));
    }, delayMs);
    this.#timer.unref();
  }

  async #answerFromRecords(job: JobRow, responseFormat: 'url' | 'b64_json'): Promise<string> {
    const deps = this.#deps;
    const rows = await deps.generate.images.listByRequest(job.id);
    const expiresAt = Math.floor(deps.now() / 1000) + deps.generate.urlTtlSeconds;
    const data = await Promise.all(
      rows.map(async (row) => {
        if (responseFormat === 'url') return { url: await deps.generate.links.sign(row.blob_key, expiresAt) };
        const blob = await deps.generate.blobs.get(row.blob_key);
        if (blob === null) throw new GatewayError('server_error', `The stored image ${row.id} is gone.`);
        const chunks: Buffer[] = [];
        for await (const chunk of blob.stream) chunks.push(chunk as Buffer);
        return { b64_json: Buffer.concat(chunks).toString('base64') };
      }),
    );
    const created = Math.floor((rows[0]?.created_at_ms ?? deps.now()) / 1000);
    return imagesResponseBody({ id: job.id, status: 'succeeded', created, data }).toString('utf8');
  }

  async #run(job: JobRow): Promise<void> {
    const deps = this.#deps;
    const heartbeat = setInterval(() => {
      deps.jobs.extend(job.id, this.#worker, deps.now(), deps.leaseMs).catch((err: unknown) => deps.logger.warn({ err }, 'job heartbeat failed'));
    }, Math.max(50, Math.floor(deps.leaseMs / 3)));
    heartbeat.unref();
    let status = 200;
    let body: string;
    try {
      const key = await deps.keys.get(job.api_key_id);
      if (key === undefined || key.revoked_at_ms !== null) throw new GatewayError('invalid_api_key', 'The API key of this job was revoked.');
      const request = validateGeneration(JSON.parse(job.request_json), deps.catalog, deps.defaultModel);
      if (job.attempts > 1 && (await deps.generate.ledger.wasCharged(job.id))) {
        // An earlier run delivered and was charged, then its process died before recording the
        // result: answer from the images it stored instead of generating (and charging) again.
        body = await this.#answerFromRecords(job, request.responseFormat);
      } else {
        const outcome = await generateImages(deps.generate, request, {
          apiKeyId: job.api_key_id,
          // The job id is the ledger's and the image records' request id.
          requestId: job.id,
          signal: new AbortController().signal,
        });
        body = imagesResponseBody({ ...outcome.body, id: job.id, status: 'succeeded' }).toString('utf8');
      }
    } catch (err) {
      const rendered = renderError(err, job.id);
      if (rendered.status >= 500) deps.logger.error({ err, job: job.id }, 'job failed');
      status = rendered.status;
      body = JSON.stringify({ id: job.id, status: 'failed', ...rendered.body });
    } finally {
      clearInterval(heartbeat);
    }
    await deps.jobs.finish(job.id, this.#worker, status === 200 ? 'succeeded' : 'failed', status, body, deps.now());
    if (job.webhook_url !== null) {
      const result = JSON.parse(body) as object;
      await deps.webhooks.deliver(job.webhook_url, { id: job.id, object: 'image.generation.job', status: status === 200 ? 'succeeded' : 'failed', result });
    }
  }
}
