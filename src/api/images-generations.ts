import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/index.ts';
import { validateGeneration } from '../contract/generation.ts';
import { type GenerateDeps, generateImages } from '../images/generate-images.ts';
import { requireApiKey } from './auth.ts';
import { imagesResponseBody } from './images-response-body.ts';
import { assertModelAllowed } from './key-policy.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';

export interface GenerationsRouteDeps {
  readonly catalog: Catalog;
  readonly defaultModel: string;
  readonly generate: GenerateDeps;
}

/** `POST /v1/images/generations` (OpenAI createImage). */
export function registerGenerationsRoute(app: FastifyInstance, deps: GenerationsRouteDeps): void {
  app.post('/v1/images/generations', async (request, reply) => {
    const apiKey = requireApiKey(request);
    const generation = validateGeneration(request.body, deps.catalog, deps.defaultModel);
    assertModelAllowed(apiKey, generation.model.id);
    const signal = abortOnDisconnect(reply);
    const outcome = await generateImages(deps.generate, generation, {
      apiKeyId: apiKey.id,
      requestId: request.id,
      signal,
    });
    void reply.header('x-imagegate-provider', outcome.provider);
    void reply.header('x-imagegate-channel', outcome.channel);
    void reply.header('x-imagegate-attempts', String(outcome.attempts));
    void reply.header('x-imagegate-cost-usd', (outcome.costMicroUsd / 1_000_000).toFixed(6));
    return reply.type('application/json; charset=utf-8').send(imagesResponseBody(outcome.body));
  });
}
