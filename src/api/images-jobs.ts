import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type ContractSettings, validateGeneration } from '../contract/generation.ts';
import type { JobsRepo } from '../db/jobs-repo.ts';
import { GatewayError } from '../errors.ts';
import { countRequest } from '../images/key-limits.ts';
import { assertModelAllowed } from '../images/model-policy.ts';
import { resolveStoredBody } from '../images/stored-body.ts';
import { assertWebhookTarget, type WebhookTargetPolicy } from '../images/webhook-target.ts';
import type { ApiKey } from '../keys/api-key.ts';
import type { Limits } from '../limits/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import { requireApiKey } from './auth.ts';

export interface JobsRouteDeps {
  readonly jobs: JobsRepo;
  readonly contract: ContractSettings;
  readonly limits: Limits;
  readonly links: LinkSigner;
  readonly blobs: BlobStore;
  readonly urlTtlSeconds: number;
  readonly now: () => number;
  /** Which `webhook_url`s can be delivered to, checked when a job is submitted. */
  readonly webhookTargets: WebhookTargetPolicy;
}

const WebhookUrl = z.url({ protocol: /^https?$/ }).max(2048);

/** Whether a request asked to be answered later (RFC 7240 `Prefer: respond-async`). */
export function wantsAsync(request: FastifyRequest): boolean {
  const prefer = request.headers['prefer'];
  const text = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  return text.split(',').some((part) => part.trim().toLowerCase() === 'respond-async');
}

/**
 * Accepts a generation as a job: validates it now (a bad request is refused at once, not later),
 * checks the key's model policy and counts it against the key's requests per minute (429 here,
 * at accept; images per minute and concurrency apply when it runs), stores it, and answers 202
 * with the job and its `Location`. `webhook_url` (an imagegate field, only here) is called when it
 * finishes; one that could never be delivered is refused now.
 */
export async function acceptJob(deps: JobsRouteDeps, request: FastifyRequest, reply: FastifyReply, apiKey: ApiKey): Promise<FastifyReply> {
  const raw = request.body;
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  // `webhook_url` is ours, not OpenAI's: taken off before the body is validated as a generation.
  const { webhook_url: webhook, ...body } = isObject ? (raw as Record<string, unknown>) : {};
  const generation = validateGeneration(isObject ? body : raw, deps.contract);
  assertModelAllowed(apiKey, generation.model.id);
  let webhookUrl: string | null = null;
  if (webhook !== undefined && webhook !== null) {
    const parsed = WebhookUrl.safeParse(webhook);
    if (!parsed.success) throw new GatewayError('invalid_value', "Invalid value for 'webhook_url': an http or https URL.", { param: 'webhook_url' });
    await assertWebhookTarget(new URL(parsed.data), deps.webhookTargets);
    webhookUrl = parsed.data;
  }
  const rateHeaders = await countRequest(deps.limits, apiKey);
  const job = await deps.jobs.create(apiKey.id, JSON.stringify(body), webhookUrl, deps.now());
  return reply
    .code(202)
    .headers(rateHeaders)
    .header('location', `/v1/images/generations/${job.id}`)
    .send({ id: job.id, object: 'image.generation.job', status: job.status, created: Math.floor(job.created_at_ms / 1000) });
}

/**
 * `GET /v1/images/generations/{id}`: 202 with the status while the job waits or runs; when it is
 * done, the same body (and status) a synchronous call would have returned, with `id` and
 * `status` beside it and links signed afresh.
 */
export function registerJobRoutes(app: FastifyInstance, deps: JobsRouteDeps): void {
  app.get<{ Params: { id: string } }>('/v1/images/generations/:id', async (request, reply) => {
    const apiKey = requireApiKey(request);
    const job = await deps.jobs.getOwned(apiKey.id, request.params.id);
    if (job === undefined) throw new GatewayError('not_found', `No job '${request.params.id}'.`, { param: 'id' });
    if (job.result_json === null || job.result_status === null) {
      return reply.code(202).send({ id: job.id, object: 'image.generation.job', status: job.status, created: Math.floor(job.created_at_ms / 1000) });
    }
    const expiresAt = Math.floor(deps.now() / 1000) + deps.urlTtlSeconds;
    return reply
      .code(job.result_status)
      .type('application/json; charset=utf-8')
      .send(await resolveStoredBody(job.result_json, deps, expiresAt));
  });
}
