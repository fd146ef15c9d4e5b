/*
 * Small colour arithmetic for building palettes. Palettes hold a few dozen colours, so these
 * allocate freely; the per-pixel loops in the painters unpack colours into locals instead.
 */

/** Red, green, blue in 0–255 (fractional values allowed until a pixel is written). */
export type Rgb = readonly [number, number, number];

export function rgb(r: number, g: number, b: number): Rgb {
  return [r, g, b];
}

/** Linear interpolation from `a` (t = 0) to `b` (t = 1). */
export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export function scale(a: Rgb, factor: number): Rgb {
  return [a[0] * factor, a[1] * factor, a[2] * factor];
}

/** Rec. 601 luma: how bright a colour looks. */
function luma(a: Rgb): number {
  return 0.299 * a[0] + 0.587 * a[1] + 0.114 * a[2];
}

/** Moves a colour away from (amount > 1) or towards (amount < 1) its own grey. */
export function saturate(a: Rgb, amount: number): Rgb {
  const y = luma(a);
  return [y + (a[0] - y) * amount, y + (a[1] - y) * amount, y + (a[2] - y) * amount];
}

/** Stretches (amount > 1) or flattens (amount < 1) a colour around mid-grey. */
export function contrast(a: Rgb, amount: number): Rgb {
  return [128 + (a[0] - 128) * amount, 128 + (a[1] - 128) * amount, 128 + (a[2] - 128) * amount];
}

export function clampRgb(a: Rgb): Rgb {
  return [clamp255(a[0]), clamp255(a[1]), clamp255(a[2])];
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}
