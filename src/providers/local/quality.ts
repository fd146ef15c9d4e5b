/*
 * `quality` as the renderer reads it: how much smaller than the output the canvas is painted,
 * before libvips enlarges it to the exact size. Higher quality paints more pixels, so more fine
 * detail survives (grain, small ripples, stars, windows), at the cost of time. The keys are the
 * catalog's resolved qualities (GPT image: low/medium/high; dall-e: standard/hd; qwen-image:
 * standard).
 *
 * Whole factors only: libvips enlarges by a whole factor by replicating pixels, which is cheap;
 * any other factor goes through its general resampler, several times slower than the encode.
 */
const UPSCALE_FACTOR: Readonly<Record<string, number>> = {
  low: 4,
  medium: 2,
  standard: 2,
  high: 1,
  hd: 1,
};

/** How many output pixels, along each axis, one canvas pixel becomes (1, 2 or 4). */
export function upscaleFactor(quality: string): number {
  return UPSCALE_FACTOR[quality] ?? 2;
}
