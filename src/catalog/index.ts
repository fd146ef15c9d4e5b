export { Catalog } from './catalog.ts';
export { MODELS } from './models.ts';
export { formatSize, parseSize, resolveSize } from './sizes.ts';
export { computeUsage, estimateTextTokens, outputTokensPerImage, priceUsd } from './usage.ts';
export type { ImageUsage } from './usage.ts';
export type * from './types.ts';
