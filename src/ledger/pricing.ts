import { type Dimensions, type ImageUsage, computeUsage, priceUsd } from '../catalog/index.ts';
import type { ImageParams } from '../contract/generation-request.ts';
import { maxTextTokensPerCall, PARTIAL_IMAGE_OUTPUT_TOKENS } from './usage-guard.ts';

const MICRO = 1_000_000;

/**
 * The most a request can cost, held before the upstream call. Token-priced models count the most
 * text tokens the usage guard accepts for one call (one per UTF-8 byte of the prompt, plus
 * framing), the token table's output tokens, and 100 more per streamed partial image (what OpenAI
 * bills for them). The ledger never charges more than this (Ledger.settle caps at the hold).
 */
export function maxCostMicroUsd(request: ImageParams): number {
  const model = request.model;
  const partialTokens = request.stream ? PARTIAL_IMAGE_OUTPUT_TOKENS * request.partialImages * request.n : 0;
  const usage =
    model.price.kind === 'per_token'
      ? withTokens(computeUsage(model, request.quality, request.size, request.n, request.prompt), maxTextTokensPerCall(request.prompt), partialTokens)
      : null;
  return toMicro(priceUsd(model.price, request.quality, request.size, request.n, usage));
}

/** What the delivered images cost: the catalog price, with the upstream's usage when it gave one. */
export function deliveredCostMicroUsd(request: ImageParams, size: Dimensions, imageCount: number, usage: ImageUsage | null): number {
  return toMicro(priceUsd(request.model.price, request.quality, size, imageCount, usage));
}

function withTokens(usage: ImageUsage, textTokens: number, extraOutputTokens: number): ImageUsage {
  const inputTokens = textTokens + usage.input_tokens_details.image_tokens;
  const outputTokens = usage.output_tokens + extraOutputTokens;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { ...usage.input_tokens_details, text_tokens: textTokens },
    output_tokens: outputTokens,
    total_tokens: inputTokens + outputTokens,
  };
}

/** Rounded up to the micro-dollar: the gateway never charges less than the price. */
function toMicro(usd: number): number {
  return Math.ceil(usd * MICRO - 1e-6);
}
