import type { FastifyInstance } from 'fastify';
import { type ContractSettings, validateGeneration } from '../contract/generation.ts';
import { runImages, streamImages } from '../images/run-images.ts';
import type { ImagesDeps } from '../images/types.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { reportTo } from './access-log.ts';
import { whileAnswering } from './retain-until-answered.ts';
import { requireApiKey } from './auth.ts';
import { type IdempotencyDeps, withIdempotency } from './idempotency.ts';
import { imagesAnswer } from './images-answer.ts';
import { acceptJob, type JobsRouteDeps, wantsAsync } from './images-jobs.ts';
import { streamToClient } from './stream-to-client.ts';

export interface GenerationsRouteDeps {
  readonly contract: ContractSettings;
  readonly images: ImagesDeps;
  readonly idempotency: IdempotencyDeps;
  readonly jobs: JobsRouteDeps;
}

/** `POST /v1/images/generations` (OpenAI createImage); `Prefer: respond-async` makes it a job. */
export function registerGenerationsRoute(app: FastifyInstance, deps: GenerationsRouteDeps): void {
  app.post('/v1/images/generations', async (request, reply) => {
    const apiKey = requireApiKey(request);
    if (wantsAsync(request)) return acceptJob(deps.jobs, request, reply, apiKey);
    const generation = validateGeneration(request.body, deps.contract);
    const signal = abortOnDisconnect(reply);
    return whileAnswering(reply.raw, async (retain) => {
      const caller = { apiKey, requestId: request.id, signal, report: reportTo(request), retain };
      if (generation.stream) {
        return streamToClient(request, reply, generation, 'image_generation', (open) => streamImages(deps.images, generation, caller, open));
      }
      return withIdempotency(deps.idempotency, request, reply, apiKey.id, async () => imagesAnswer(await runImages(deps.images, generation, caller)));
    });
  });
}
