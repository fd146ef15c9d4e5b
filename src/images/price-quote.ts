import { computeUsage, formatSize, type ImageUsage, type PriceRule, priceUsd } from '../catalog/index.ts';
import type { ImagesRequest } from '../contract/images-request.ts';
import { deliveredCostMicroUsd } from '../ledger/pricing.ts';
import { PARTIAL_IMAGE_OUTPUT_TOKENS } from '../ledger/usage-guard.ts';
import { holdMicroUsd, imageInputTokens } from './request-cost.ts';

/** What a validated request would cost, before anything is called or charged. */
export interface PriceQuote {
  readonly model: string;
  readonly n: number;
  readonly size: string;
  readonly quality: string;
  /** The budget hold the request would take: the most it can be charged (`holdMicroUsd`, the same function). */
  readonly maxCostMicroUsd: number;
  /** What it costs when the upstream's usage matches the catalog's token table (or at once, for per-image prices). */
  readonly expectedCostMicroUsd: number;
  /** Token-priced models: the usage that expected cost assumes. */
  readonly expectedUsage: ImageUsage | null;
  readonly price: PriceRule;
  /** Per-image prices: one image at this quality and size, in USD. */
  readonly usdPerImage: number | null;
  readonly priceSource: string;
}

/**
 * Prices a request as the use case would hold and charge it. The hold is `holdMicroUsd`, so a
 * quote's maximum is by construction the hold of the same request. The expected cost is what
 * delivery charges with the catalog's own usage estimate, plus what OpenAI bills for streamed
 * partial images; an upstream that reports other usage is charged by its report, up to the hold.
 */
export function quoteRequest(request: ImagesRequest): PriceQuote {
  const { model } = request;
  const partialTokens = request.stream ? PARTIAL_IMAGE_OUTPUT_TOKENS * request.partialImages * request.n : 0;
  let expectedUsage: ImageUsage | null = null;
  if (model.tokens !== null) {
    const usage = computeUsage(model, request.quality, request.size, request.n, request.prompt, imageInputTokens(request));
    expectedUsage = { ...usage, output_tokens: usage.output_tokens + partialTokens, total_tokens: usage.total_tokens + partialTokens };
  }
  return {
    model: model.id,
    n: request.n,
    size: formatSize(request.size),
    quality: request.quality,
    maxCostMicroUsd: holdMicroUsd(request),
    expectedCostMicroUsd: deliveredCostMicroUsd(request, request.size, request.n, expectedUsage),
    expectedUsage,
    price: model.price,
    usdPerImage: model.price.kind === 'per_image' ? priceUsd(model.price, request.quality, request.size, 1, null) : null,
    priceSource: model.priceSource,
  };
}
