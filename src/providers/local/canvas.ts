import { takeBuffer } from './buffer-pool.ts';
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

/** A black (and, with alpha, transparent) canvas from the buffer pool: see `releaseBuffer`. */
export function createCanvas(width: number, height: number, channels: 3 | 4): Canvas {
  return { data: new Uint8ClampedArray(takeBuffer(width * height * channels)), width, height, channels };
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
function blendAt(canvas: Canvas, i: number, r: number, g: number, b: number, amount: number): void {
  const d = canvas.data;
  d[i] = (d[i] ?? 0) + (r - (d[i] ?? 0)) * amount;
  d[i + 1] = (d[i + 1] ?? 0) + (g - (d[i + 1] ?? 0)) * amount;
  d[i + 2] = (d[i + 2] ?? 0) + (b - (d[i + 2] ?? 0)) * amount;
  if (canvas.channels === 4) {
    const alpha = d[i + 3] ?? 0;
    d[i + 3] = alpha + (255 - alpha) * amount;
  }
}

/**
 * A convex polygon as the lines of its edges, each `a·x + b·y + c` with (a, b) of unit length and
 * positive inside, so a point's distance inside the polygon is the smallest of the lines' values
 * (exact away from corners). Built once per shape; tests are then a few multiply-adds.
 */
export interface ConvexShape {
  readonly lines: Float64Array;
  readonly minX: number;
  readonly maxX: number;
  readonly minY: number;
  readonly maxY: number;
}

/** A convex polygon from its corners (`x0, y0, x1, y1 …`, either winding). */
export function convexShape(points: readonly number[]): ConvexShape {
  const count = points.length / 2;
  const lines = new Float64Array(count * 3);
  let area = 0;
  for (let k = 0; k < count; k += 1) {
    const next = (k + 1) % count;
    area += (points[2 * k] ?? 0) * (points[2 * next + 1] ?? 0) - (points[2 * next] ?? 0) * (points[2 * k + 1] ?? 0);
  }
  const winding = area >= 0 ? 1 : -1;
  let minX = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < count; k += 1) {
    const ax = points[2 * k] ?? 0;
    const ay = points[2 * k + 1] ?? 0;
    const next = (k + 1) % count;
    const bx = points[2 * next] ?? 0;
    const by = points[2 * next + 1] ?? 0;
    const length = Math.hypot(bx - ax, by - ay) || 1;
    // Inside is to the left of each edge for a positive winding (the edge's normal is (-dy, dx)).
    const a = (-(by - ay) / length) * winding;
    const b = ((bx - ax) / length) * winding;
    lines[3 * k] = a;
    lines[3 * k + 1] = b;
    lines[3 * k + 2] = -(a * ax + b * ay);
    minX = Math.min(minX, ax);
    maxX = Math.max(maxX, ax);
    minY = Math.min(minY, ay);
    maxY = Math.max(maxY, ay);
  }
  return { lines, minX, maxX, minY, maxY };
}

/** How far (x, y) is inside the shape; negative outside. */
function insideDistance(shape: ConvexShape, x: number, y: number): number {
  const lines = shape.lines;
  let nearest = Number.POSITIVE_INFINITY;
  for (let k = 0; k < lines.length; k += 3) {
    const d = (lines[k] ?? 0) * x + (lines[k + 1] ?? 0) * y + (lines[k + 2] ?? 0);
    if (d < nearest) nearest = d;
  }
  return nearest;
}

/**
 * The x-interval where the horizontal line at `y` is inside the shape, written to `span` as
 * [from, to]; false when the line misses it. Each edge line bounds x from one side.
 */
export function convexSpan(shape: ConvexShape, y: number, span: Float64Array): boolean {
  const lines = shape.lines;
  let from = Number.NEGATIVE_INFINITY;
  let to = Number.POSITIVE_INFINITY;
  for (let k = 0; k < lines.length; k += 3) {
    const a = lines[k] ?? 0;
    const rest = (lines[k + 1] ?? 0) * y + (lines[k + 2] ?? 0);
    if (a > 1e-12) from = Math.max(from, -rest / a);
    else if (a < -1e-12) to = Math.min(to, -rest / a);
    else if (rest < 0) return false;
  }
  span[0] = from;
  span[1] = to;
  return from <= to;
}

/**
 * Fills a convex polygon given in canvas pixels, anti-aliased: a pixel's coverage is its centre's
 * distance inside the edge, plus a half, clamped to 0–1.
 */
export function fillConvex(canvas: Canvas, points: readonly number[], colour: Rgb, opacity = 1): void {
  const shape = convexShape(points);
  const x0 = Math.max(0, Math.floor(shape.minX));
  const x1 = Math.min(canvas.width - 1, Math.ceil(shape.maxX));
  const y0 = Math.max(0, Math.floor(shape.minY));
  const y1 = Math.min(canvas.height - 1, Math.ceil(shape.maxY));
  const [r, g, b] = colour;
  for (let y = y0; y <= y1; y += 1) {
    for (let x = x0; x <= x1; x += 1) {
      const cover = insideDistance(shape, x + 0.5, y + 0.5) + 0.5;
      if (cover <= 0) continue;
      blendAt(canvas, (y * canvas.width + x) * canvas.channels, r, g, b, (cover >= 1 ? 1 : cover) * opacity);
    }
  }
}
