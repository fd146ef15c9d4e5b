import { type Dimensions, nearestAspect, type SizeRule } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';

/** What a BFL endpoint is told about the picture's size. */
export type WireSize = { readonly kind: 'pixels'; readonly width: number; readonly height: number } | { readonly kind: 'aspect'; readonly ratio: string };

/** The pixel grid an endpoint draws on. */
interface PixelLimits {
  readonly multipleOf: number;
  readonly minEdgePx: number;
  readonly maxEdgePx: number;
  readonly maxPixels: number;
}

/** FLUX1.1 [pro], FLUX.1 [dev]: "multiple of 32", 256–1440 per edge (FluxPro11Inputs, FluxDevInputs). */
const FLUX_1_PIXELS: PixelLimits = { multipleOf: 32, minEdgePx: 256, maxEdgePx: 1440, maxPixels: 1440 * 1440 };

/** FLUX.2: at least 64 (Flux2Inputs), "multiple of 16, max 4MP total" (BFL API guide, endpoints.md). */
const FLUX_2_PIXELS: PixelLimits = { multipleOf: 16, minEdgePx: 64, maxEdgePx: 2048, maxPixels: 2048 * 2048 };

/** Endpoints that take `aspect_ratio` and no pixels: Ultra (FluxUltraInput) and Kontext (FluxKontextProInputs). */
const ASPECT_ONLY = /ultra|kontext/;
const FLUX_2 = /^flux-2-/;

/** The ratios those endpoints take ("between 21:9 and 9:21"), for a pixel size mapped onto them. */
const BFL_ASPECT: Extract<SizeRule, { kind: 'aspect' }> = {
  kind: 'aspect',
  ratios: ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21'],
  tiers: { '1MP': 1024 },
  defaultRatio: '1:1',
  defaultTier: '1MP',
  multipleOf: 16,
};

/**
 * The size to send to an upstream model. The endpoint decides the dialect, since a channel may map
 * a catalog model to any BFL endpoint: Ultra and Kontext get the request's aspect ratio (or the
 * nearest of theirs to its pixel size); the others get width and height snapped onto their grid.
 */
export function wireSizeFor(request: Pick<ImageParams, 'size' | 'aspect'>, upstreamModel: string): WireSize {
  if (ASPECT_ONLY.test(upstreamModel)) {
    return { kind: 'aspect', ratio: request.aspect?.ratio ?? nearestAspect(BFL_ASPECT, request.size).ratio };
  }
  const snapped = snapToGrid(request.size, FLUX_2.test(upstreamModel) ? FLUX_2_PIXELS : FLUX_1_PIXELS);
  return { kind: 'pixels', ...snapped };
}

/**
 * A size the endpoint accepts, as close to `size` as it can be: scaled (aspect ratio kept) into
 * the endpoint's edge and pixel limits, then each edge rounded to the grid. The catalog's rules
 * already keep most requests on the grid; this catches what a free rule cannot say (BFL's 256 px
 * minimum edge), operators' own models with wider rules, and channels that map a model to an
 * endpoint with another grid. BFL refuses anything off the grid with a 422 rather than rounding.
 */
export function snapToGrid(size: Dimensions, limits: PixelLimits): Dimensions {
  const step = limits.multipleOf;
  const long = Math.max(size.width, size.height);
  const short = Math.min(size.width, size.height);
  let scale = Math.max(1, limits.minEdgePx / short);
  scale = Math.min(scale, limits.maxEdgePx / long, Math.sqrt(limits.maxPixels / (size.width * size.height)));
  const lowest = Math.ceil(limits.minEdgePx / step) * step;
  const highest = Math.floor(limits.maxEdgePx / step) * step;
  const edge = (px: number): number => Math.min(highest, Math.max(lowest, Math.round((px * scale) / step) * step));
  let width = edge(size.width);
  let height = edge(size.height);
  while (width * height > limits.maxPixels) {
    if (width >= height) width -= step;
    else height -= step;
  }
  return { width, height };
}
