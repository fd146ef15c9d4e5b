import type { FastifyInstance } from 'fastify';
import type { Catalog } from '../catalog/index.ts';
import type { FormLimits } from '../contract/multipart.ts';
import { readForm } from '../contract/multipart.ts';
import { VARIATION_MAX_FILE_BYTES, validateVariation } from '../contract/variation.ts';
import { GatewayError } from '../errors.ts';
import { createVariations, type EditDeps } from '../images/edit-images.ts';
import { imagesResponseBody } from '../images/images-response-body.ts';
import type { Limits } from '../limits/index.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { requireApiKey } from './auth.ts';
import { type IdempotencyDeps, withIdempotency } from './idempotency.ts';
import { registerMultipart } from './images-edits.ts';
import { outcomeHeaders } from './outcome-headers.ts';
import { enforceKeyLimits } from './key-limits.ts';
import { assertModelAllowed } from './key-policy.ts';

export interface VariationsRouteDeps {
  readonly catalog: Catalog;
  readonly edit: EditDeps;
  readonly limits: Limits;
  readonly idempotency: IdempotencyDeps;
  readonly leaseMs: number;
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
      const variation = await validateVariation(form, deps.catalog);
      assertModelAllowed(apiKey, variation.model.id);
      return withIdempotency(deps.idempotency, request, reply, apiKey.id, async () => {
        const lease = await enforceKeyLimits(deps.limits, apiKey, variation.n, reply, deps.leaseMs);
        try {
          const outcome = await createVariations(deps.edit, variation, { apiKeyId: apiKey.id, requestId: request.id, signal });
          return { status: 200, headers: outcomeHeaders(outcome), body: imagesResponseBody(outcome.body) };
        } finally {
          await lease?.release();
        }
      });
    });
  });
}
