import type { Dimensions, PriceRule } from '../catalog/index.ts';
import type { ImagesRequest } from '../contract/images-request.ts';
import type { UpstreamCost } from '../ledger/ledger.ts';
import { maxCostMicroUsd } from '../ledger/pricing.ts';
import { type ChannelCosts, upstreamCostMicroUsd } from '../ledger/upstream-cost.ts';
import type { ImagesOutcome } from './types.ts';

/** The most a request may cost, held before the upstream call: its images, and for edits its input images. */
export function holdMicroUsd(request: ImagesRequest): number {
  const tokens = imageInputTokens(request);
  const price = request.model.price;
  // Twice the estimate: an upstream's own count (higher with `input_fidelity: high`) is what is
  // charged in the end.
  const inputHold = price.kind === 'per_token' && tokens > 0 ? Math.ceil(2 * tokens * price.usdPerMillionImageInput) : 0;
  return maxCostMicroUsd(request) + inputHold;
}

/** Image input tokens of a request (edits of token-priced models; 0 otherwise). */
export function imageInputTokens(request: ImagesRequest): number {
  return request.operation === 'edit' && request.model.tokens !== null ? estimateImageInputTokens(request.images) : 0;
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

/** The request priced at the customer's rule (resolved by the ledger's PriceBook when held). */
export function withPrice(request: ImagesRequest, price: PriceRule): ImagesRequest {
  return price === request.model.price ? request : { ...request, model: { ...request.model, price } };
}

/** What the channel that delivered charges the operator, for the margin report (list-priced request). */
export function upstreamCost(
  deps: { readonly channelCosts: ChannelCosts },
  listPriced: ImagesRequest,
  outcome: Pick<ImagesOutcome, 'channel' | 'size' | 'usage'>,
  imageCount: number,
): UpstreamCost {
  const costMicroUsd = upstreamCostMicroUsd(deps.channelCosts, outcome.channel, listPriced.model, listPriced.quality, outcome.size, imageCount, outcome.usage);
  return { channel: outcome.channel, upstreamCostMicroUsd: costMicroUsd };
}
