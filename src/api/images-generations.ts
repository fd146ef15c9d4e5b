import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import type { Catalog } from '../catalog/index.ts';
import { validateGeneration } from '../contract/generation.ts';
import { type GenerateContext, type GenerateDeps, generateImages, produce, streamImages } from '../images/generate-images.ts';
import { maxCostMicroUsd } from '../ledger/pricing.ts';
import type { Limits } from '../limits/index.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { requireApiKey } from './auth.ts';
import { outcomeHeaders } from './outcome-headers.ts';
import { streamToClient } from './stream-to-client.ts';
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
          headers: outcomeHeaders(outcome),
          body: imagesResponseBody(outcome.body),
        };
      } finally {
        await lease?.release();
      }
    });
  });
}

async function streamGeneration(
  deps: GenerationsRouteDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  apiKey: ApiKeyRow,
  generation: GenerationRequest,
): Promise<FastifyReply> {
  const operation = { holdMicroUsd: maxCostMicroUsd(generation), produce: (req: GenerationRequest, ctx: GenerateContext) => produce(deps.generate, req, ctx) };
  return streamToClient({ limits: deps.limits, leaseMs: deps.leaseMs }, request, reply, apiKey, generation, 'image_generation', (ctx, open) =>
    streamImages(deps.generate, generation, ctx, open, operation),
  );
}
