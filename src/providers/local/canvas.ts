import type { Rgb } from './colour.ts';

/*
 * The pixel buffer the painters draw into, and the few drawing primitives more than one painter
 * needs. Loops index the typed array directly; nothing here allocates per pixel.
 */

/** Interleaved 8-bit pixels, RGB or RGBA (RGBA only when the picture has a transparent sky). */
export interface Canvas {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

export function createCanvas(width: number, height: number, channels: 3 | 4): Canvas {
  return { data: new Uint8ClampedArray(width * height * channels), width, height, channels };
}

/** Hermite smoothstep of `x` between `edge0` and `edge1`. */
export function smoothstep(edge0: number, edge1: number, x: number): number {
  const t = x <= edge0 ? 0 : x >= edge1 ? 1 : (x - edge0) / (edge1 - edge0);
  return t * t * (3 - 2 * t);
}

export function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/**
 * Blends `colour` over the pixel at byte offset `i` with coverage `amount` (0–1). The pixel
 * becomes at least that opaque: whatever is painted over the sky is solid.
 */
export function blendAt(canvas: Canvas, i: number, r: number, g: number, b: number, amount: number): void {
  const d = canvas.data;
  d[i] = (d[i] ?? 0) + (r - (d[i] ?? 0)) * amount;
  d[i + 1] = (d[i + 1] ?? 0) + (g - (d[i + 1] ?? 0)) * amount;
  d[i + 2] = (d[i + 2] ?? 0) + (b - (d[i + 2] ?? 0)) * amount;
  if (canvas.channels === 4) {
    const alpha = d[i + 3] ?? 0;
    d[i + 3] = alpha + (255 - alpha) * amount;
  }
}

/** Four sub-pixel sample offsets (a rotated grid), for anti-aliased polygon edges. */
const SAMPLES = [-0.125, -0.375, 0.375, -0.125, 0.125, 0.375, -0.375, 0.125] as const;

/**
 * Fills a convex polygon (`points` as x0, y0, x1, y1 …, in pixels, either winding) with
 * anti-aliased edges. `shade(x, y)` may return a colour per pixel; it defaults to `colour`.
 */
export function fillConvex(canvas: Canvas, points: readonly number[], colour: Rgb, opacity = 1): void {
  const count = points.length / 2;
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < count; k += 1) {
    const x = points[2 * k] ?? 0;
    const y = points[2 * k + 1] ?? 0;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const x0 = Math.max(0, Math.floor(minX));
  const x1 = Math.min(canvas.width - 1, Math.ceil(maxX));
  const y0 = Math.max(0, Math.floor(minY));
  const y1 = Math.min(canvas.height - 1, Math.ceil(maxY));
  const [r, g, b] = colour;
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      let inside = 0;
      for (let s = 0; s < 8; s += 2) {
        if (insideConvex(points, x + 0.5 + (SAMPLES[s] ?? 0), y + 0.5 + (SAMPLES[s + 1] ?? 0))) inside += 1;
      }
      if (inside > 0) blendAt(canvas, (y * canvas.width + x) * canvas.channels, r, g, b, (inside / 4) * opacity);
    }
  }
}

/** Whether a point is inside a convex polygon: on the same side of every edge. */
export function insideConvex(points: readonly number[], px: number, py: number): boolean {
  const count = points.length / 2;
  let sign = 0;
  for (let k = 0; k < count; k += 1) {
    const ax = points[2 * k] ?? 0;
    const ay = points[2 * k + 1] ?? 0;
    const next = (k + 1) % count;
    const bx = points[2 * next] ?? 0;
    const by = points[2 * next + 1] ?? 0;
    const cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax);
    if (cross !== 0) {
      const s = cross > 0 ? 1 : -1;
      if (sign === 0) sign = s;
      else if (s !== sign) return false;
    }
  }
  return true;
}
