import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatSize } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { renderError } from '../errors.ts';
import type { Catalog } from '../catalog/index.ts';
import { validateGeneration } from '../contract/generation.ts';
import { type GenerateDeps, generateImages, streamImages } from '../images/generate-images.ts';
import type { Limits } from '../limits/index.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { requireApiKey } from './auth.ts';
import { type EventStream, openEventStream } from './event-stream.ts';
import { acceptJob, type JobsRouteDeps, wantsAsync } from './images-jobs.ts';
import { type IdempotencyDeps, withIdempotency } from './idempotency.ts';
import { imagesResponseBody } from '../images/images-response-body.ts';
import { enforceKeyLimits } from './key-limits.ts';
import { assertModelAllowed } from './key-policy.ts';

export interface GenerationsRouteDeps {
  readonly catalog: Catalog;
  readonly defaultModel: string;
  readonly generate: GenerateDeps;
  readonly limits: Limits;
  readonly idempotency: IdempotencyDeps;
  readonly jobs: JobsRouteDeps;
  /** How long a concurrency slot outlives a process that died holding it. */
  readonly leaseMs: number;
}

/** `POST /v1/images/generations` (OpenAI createImage). */
export function registerGenerationsRoute(app: FastifyInstance, deps: GenerationsRouteDeps): void {
  app.post('/v1/images/generations', async (request, reply) => {
    const apiKey = requireApiKey(request);
    if (wantsAsync(request)) return acceptJob(deps.jobs, request, reply, apiKey);
    const generation = validateGeneration(request.body, deps.catalog, deps.defaultModel);
    assertModelAllowed(apiKey, generation.model.id);
    if (generation.stream) return streamGeneration(deps, request, reply, apiKey, generation);
    return withIdempotency(deps.idempotency, request, reply, apiKey.id, async () => {
      const lease = await enforceKeyLimits(deps.limits, apiKey, generation.n, reply, deps.leaseMs);
      try {
        const outcome = await generateImages(deps.generate, generation, {
          apiKeyId: apiKey.id,
          requestId: request.id,
          signal: abortOnDisconnect(reply),
        });
        return {
          status: 200,
          headers: {
            'x-imagegate-provider': outcome.provider,
            'x-imagegate-channel': outcome.channel,
            'x-imagegate-attempts': String(outcome.attempts),
            'x-imagegate-cost-usd': (outcome.costMicroUsd / 1_000_000).toFixed(6),
          },
          body: imagesResponseBody(outcome.body),
        };
      } finally {
        await lease?.release();
      }
    });
  });
}

/**
 * `stream: true`: limits and the budget hold are checked first (their refusals are ordinary JSON
 * errors with a status, which the client handles before reading a stream), then events flow. A
 * failure after the stream started ends it with an `error` event in the OpenAI error shape.
 */
async function streamGeneration(
  deps: GenerationsRouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  apiKey: ApiKeyRow,
  generation: GenerationRequest,
): Promise<FastifyReply> {
  const lease = await enforceKeyLimits(deps.limits, apiKey, generation.n, reply, deps.leaseMs);
  const signal = abortOnDisconnect(reply);
  // Set once the event stream is open; before that, errors are ordinary JSON answers.
  const opened: { stream: EventStream | null } = { stream: null };
  const base = { size: formatSize(generation.size), quality: generation.quality, background: generation.background, output_format: generation.outputFormat };
  try {
    await streamImages(deps.generate, generation, { apiKeyId: apiKey.id, requestId: request.id, signal }, () => {
      const rateHeaders = Object.fromEntries(
        Object.entries(reply.getHeaders()).filter(([name]) => name.startsWith('x-ratelimit-')).map(([name, value]) => [name, String(value)]),
      );
      const stream = openEventStream(reply, request.id, rateHeaders);
      opened.stream = stream;
      return {
        partial: (partial) => {
          void stream.send('image_generation.partial_image', {
            type: 'image_generation.partial_image',
            b64_json: partial.base64,
            partial_image_index: partial.partialIndex,
            created_at: Math.floor(Date.now() / 1000),
            ...base,
          });
        },
        completed: async (_index, image, usage, outcome) =>
          stream.send('image_generation.completed', {
            type: 'image_generation.completed',
            b64_json: 'b64_json' in image ? image.b64_json : '',
            created_at: outcome.body.created,
            ...base,
            size: outcome.body.size ?? base.size,
            ...(usage === null ? {} : { usage }),
          }),
      };
    });
    opened.stream?.end();
  } catch (err) {
    if (opened.stream === null) throw err;
    const { body, status } = renderError(err, request.id);
    if (status >= 500) request.log.error({ err }, 'stream failed');
    opened.stream.fail(body);
  } finally {
    await lease?.release();
  }
  return reply;
}
