import type { FastifyInstance } from 'fastify';
import type { ContractSettings } from '../contract/generation.ts';
import type { FormLimits } from '../contract/multipart.ts';
import { readForm } from '../contract/multipart.ts';
import { VARIATION_MAX_FILE_BYTES, validateVariation } from '../contract/variation.ts';
import { GatewayError } from '../errors.ts';
import { runImages } from '../images/run-images.ts';
import type { ImagesDeps } from '../images/types.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { whileAnswering } from './retain-until-answered.ts';
import { reportTo } from './access-log.ts';
import { requireApiKey } from './auth.ts';
import { type IdempotencyDeps, withIdempotency } from './idempotency.ts';
import { imagesAnswer } from './images-answer.ts';
import { registerMultipart } from './images-edits.ts';

export interface VariationsRouteDeps {
  readonly contract: ContractSettings;
  readonly images: ImagesDeps;
  readonly idempotency: IdempotencyDeps;
}

/**
 * A variation's one file is a PNG under 4 MB: the reader stops at 4 MB (+1 byte, so "under" is
 * judged by the contract), whatever the client streams.
 */
const VARIATION_FORM_LIMITS: FormLimits = { maxFileBytes: VARIATION_MAX_FILE_BYTES + 1, maxTotalBytes: VARIATION_MAX_FILE_BYTES + 1, maxFiles: 1 };

/** `POST /v1/images/variations` (OpenAI createImageVariation; multipart only, dall-e-2). */
export function registerVariationsRoute(app: FastifyInstance, deps: VariationsRouteDeps): void {
  void app.register(async (scope) => {
    await registerMultipart(scope, VARIATION_FORM_LIMITS);
    scope.post('/v1/images/variations', async (request, reply) => {
      const apiKey = requireApiKey(request);
      if (!request.isMultipart()) {
        throw new GatewayError('unsupported_media_type', "Send variations as multipart/form-data with the image in the 'image' part.");
      }
      const signal = abortOnDisconnect(reply);
      const form = await readForm(request.parts(), VARIATION_FORM_LIMITS);
      request.body = { multipart: form.digest };
      const variation = await validateVariation(form, deps.contract);
      return whileAnswering(reply.raw, async (retain) => {
        const caller = { apiKey, requestId: request.id, signal, report: reportTo(request), retain };
        return withIdempotency(deps.idempotency, request, reply, apiKey.id, async () => imagesAnswer(await runImages(deps.images, variation, caller)));
      });
    });
  });
}
