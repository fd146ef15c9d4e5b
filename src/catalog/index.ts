export { type AspectChoice, aspectSize, nearestAspect, parseRatio } from './aspect.ts';
export { buildCatalog, CatalogError, type CatalogOverrides } from './build-catalog.ts';
export { Catalog } from './catalog.ts';
export { MODELS } from './models/index.ts';
export { imageModel, type ModelRow } from './models/defaults.ts';
export { defaultSize, formatSize, parseSize, resolveSize } from './sizes.ts';
export { computeUsage, estimateTextTokens, outputTokensPerImage, priceUsd } from './usage.ts';
export type { ImageUsage } from './usage.ts';
export type * from './types.ts';
