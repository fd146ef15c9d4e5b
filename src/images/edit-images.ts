import type { Dimensions } from '../catalog/index.ts';
import type { EditRequest } from '../contract/edit.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { VariationRequest } from '../contract/variation.ts';
import { GatewayError } from '../errors.ts';
import { maxCostMicroUsd } from '../ledger/pricing.ts';
import type { AdapterOperation } from '../routing/router.ts';
import { deliverImages } from './deliver-images.ts';
import { type ChargedOperation, type GenerateContext, type GenerateDeps, type GenerateOutcome, runCharged, type StreamSink, streamImages } from './generate-images.ts';

/*
 * Edits and variations: the generation path (hold, route, provider, normalize, store, record,
 * settle, answer) with another adapter method at the provider step. Only delivered images are
 * charged, every delivered image is recorded, a failure releases the whole hold.
 */

export type EditDeps = GenerateDeps;

export const EDIT_OPERATION: AdapterOperation<EditRequest> = {
  name: 'edit images',
  supports: (adapter) => adapter.edit !== undefined,
  call: async (adapter, request, channel, ctx) => {
    if (adapter.edit === undefined) throw new GatewayError('server_error', `The ${adapter.id} provider cannot edit images.`);
    return adapter.edit(request, channel, ctx);
  },
};

export const VARIATION_OPERATION: AdapterOperation<VariationRequest> = {
  name: 'create image variations',
  supports: (adapter) => adapter.variation !== undefined,
  call: async (adapter, request, channel, ctx) => {
    if (adapter.variation === undefined) throw new GatewayError('server_error', `The ${adapter.id} provider cannot create variations.`);
    return adapter.variation(request, channel, ctx);
  },
};

/** POST /v1/images/edits, from a validated request to the response body. */
export async function editImages(deps: EditDeps, request: EditRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
  return runCharged(deps, request, ctx, charged(deps, request, EDIT_OPERATION, editImageTokens(request)));
}

/** A streamed edit (`stream: true`): `image_edit.*` events, charged for what reached the client. */
export async function streamEdits(deps: EditDeps, request: EditRequest, ctx: Omit<GenerateContext, 'onPartial'>, open: () => StreamSink): Promise<void> {
  await streamImages(deps, request, ctx, open, charged(deps, request, EDIT_OPERATION, editImageTokens(request)));
}

/** POST /v1/images/variations, from a validated request to the response body. */
export async function createVariations(deps: EditDeps, request: VariationRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
  return runCharged(deps, request, ctx, charged(deps, request, VARIATION_OPERATION, 0));
}

/** Routes the request to an adapter method and delivers its images; holds for input images too. */
function charged<R extends GenerationRequest>(deps: EditDeps, request: R, operation: AdapterOperation<R>, imageTokens: number): ChargedOperation<R> {
  return {
    holdMicroUsd: maxCostMicroUsd(request) + imageInputHoldMicroUsd(request, imageTokens),
    produce: async (req, ctx) => deliverImages(deps, req, await deps.router.executeOperation(req, ctx, operation), ctx, imageTokens),
  };
}

function editImageTokens(request: EditRequest): number {
  return request.model.tokens === null ? 0 : estimateImageInputTokens(request.images);
}

/**
 * Input images of an edit, in image tokens, for the `usage` the gateway reports when the upstream
 * reports none (the local renderer; upstreams that send their own usage override it).
 *
 * An estimate, documented rather than exact: OpenAI does not publish how GPT image models count
 * input images, so each image is counted by OpenAI's published rule for high-detail vision input
 * (fit within 2048x2048, scale the short side down to 768, then 85 tokens plus 170 per 512-pixel
 * tile): 765 tokens for a 1024x1024 image. The mask is not counted; `input_fidelity` does not
 * change the figure.
 */
export function estimateImageInputTokens(images: readonly Dimensions[]): number {
  let tokens = 0;
  for (const image of images) {
    let width = image.width;
    let height = image.height;
    const fit = Math.min(1, 2048 / Math.max(width, height));
    width *= fit;
    height *= fit;
    const shorten = Math.min(1, 768 / Math.min(width, height));
    width *= shorten;
    height *= shorten;
    tokens += 85 + 170 * Math.ceil(width / 512) * Math.ceil(height / 512);
  }
  return tokens;
}

/**
 * The part of the hold for input images: twice the estimate, since an upstream's own count (higher
 * with `input_fidelity: high`) is what is charged in the end.
 */
function imageInputHoldMicroUsd(request: GenerationRequest, imageTokens: number): number {
  const price = request.model.price;
  if (price.kind !== 'per_token' || imageTokens === 0) return 0;
  return Math.ceil(2 * imageTokens * price.usdPerMillionImageInput);
}
