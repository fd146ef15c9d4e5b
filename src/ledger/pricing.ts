import { type Dimensions, type ImageUsage, computeUsage, priceUsd } from '../catalog/index.ts';
import type { ImageParams } from '../contract/generation-request.ts';

const MICRO = 1_000_000;

/**
 * The most a request can cost, held before the upstream call. Token-priced models count one
 * token per prompt character (a tokenizer never yields more tokens than characters for text), so
 * the hold covers whatever token count the upstream reports.
 */
export function maxCostMicroUsd(request: ImageParams): number {
  const model = request.model;
  const usage =
    model.price.kind === 'per_token'
      ? withTextTokens(computeUsage(model, request.quality, request.size, request.n, request.prompt), request.prompt.length)
      : null;
  return toMicro(priceUsd(model.price, request.quality, request.size, request.n, usage));
}

/** What the delivered images cost: the catalog price, with the upstream's usage when it gave one. */
export function deliveredCostMicroUsd(request: ImageParams, size: Dimensions, imageCount: number, usage: ImageUsage | null): number {
  return toMicro(priceUsd(request.model.price, request.quality, size, imageCount, usage));
}

function withTextTokens(usage: ImageUsage, textTokens: number): ImageUsage {
  const inputTokens = textTokens + usage.input_tokens_details.image_tokens;
  return {
    ...usage,
    input_tokens: inputTokens,
    input_tokens_details: { ...usage.input_tokens_details, text_tokens: textTokens },
    total_tokens: inputTokens + usage.output_tokens,
  };
}

/** Rounded up to the micro-dollar: the gateway never charges less than the price. */
function toMicro(usd: number): number {
  return Math.ceil(usd * MICRO - 1e-6);
}
