/*
 * `quality` as the renderer reads it: the share of the output's width and height it paints
 * itself, before libvips enlarges the picture to the exact size. Higher quality paints more
 * pixels, and so more fine detail survives (grain, small ripples, stars, windows), at the cost of
 * time. Values are the catalog's resolved qualities (GPT image: low/medium/high; dall-e:
 * standard/hd; qwen-image: standard).
 */
const RENDER_SCALE: Readonly<Record<string, number>> = {
  low: 0.2,
  medium: 0.5,
  standard: 0.5,
  high: 1,
  hd: 1,
};

/** The linear share of the output size the canvas is painted at (0.25–1). */
export function renderScale(quality: string): number {
  return RENDER_SCALE[quality] ?? 0.5;
}
