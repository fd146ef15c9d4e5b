import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/index.ts';
import { validateGeneration } from '../contract/generation.ts';
import { type GenerateDeps, generateImages } from '../images/generate-images.ts';
import type { Limits } from '../limits/index.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { requireApiKey } from './auth.ts';
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
