import { createCanvas } from './canvas.ts';
import type { Canvas } from './canvas.ts';

/*
 * Doubles a canvas's width and height by bilinear interpolation. With pixel centres aligned,
 * every output pixel lies a quarter of a source pixel from its nearest source pixel, so the
 * weights are fixed: 3/4 for the nearest, 1/4 for the next, along each axis. Separable: each
 * source row is first widened (3·nearest + neighbour, in 16-bit lanes), then each output row is
 * (3·nearer widened row + the other one) / 16. Integers throughout; edges repeat their outermost
 * pixels.
 *
 * Both passes work on two 16-bit lanes per 32-bit integer where they can: the vertical pass
 * writes every output byte, four per store; the widening of RGB rows stores lane pairs. Lanes
 * hold at most 4·255 and sums at most 16·255, so no lane carries into the next. Measured at
 * 256x256 → 512x512 RGB: about 1 ms, a tenth of a 1024x1024 JPEG encode.
 */

/** Typed arrays use the platform's byte order; the 4-byte stores below assume little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function doubleCanvas(source: Canvas): Canvas {
  const { data: src, width: sw, height: sh, channels: c } = source;
  const width = sw * 2;
  const height = sh * 2;
  const doubled = createCanvas(width, height, c);
  const out = doubled.data;
  const lanes = width * c;
  // Four-byte stores need every output row to start on a multiple of 4 bytes.
  const wordwise = LITTLE_ENDIAN && lanes % 4 === 0;
  const out32 = wordwise ? new Uint32Array(out.buffer) : null;

  // Three widened rows (above, current, below) in rotation: each source row is widened once.
  let above = widenedRow(lanes);
  let current = widenedRow(lanes);
  let below = widenedRow(lanes);
  const widenRow = (rowStart: number, into: WidenedRow): void => {
    if (c === 3 && LITTLE_ENDIAN) widenRgbPairs(src, rowStart, sw, into.pairs);
    else widen(src, rowStart, sw, c, into.lanes);
  };
  widenRow(0, current);
  above.lanes.set(current.lanes);
  for (let sy = 0; sy < sh; sy += 1) {
    if (sy + 1 < sh) widenRow((sy + 1) * sw * c, below);
    else below.lanes.set(current.lanes);
    const top = 2 * sy * lanes;
    if (out32 !== null) {
      blendRowsWordwise(above.pairs, current.pairs, below.pairs, out32, top / 4, lanes / 4);
    } else {
      const a = above.lanes;
      const m = current.lanes;
      const b = below.lanes;
      for (let i = 0; i < lanes; i += 1) {
        const centre = 3 * m[i]! + 8;
        out[top + i] = (centre + a[i]!) >> 4;
        out[top + lanes + i] = (centre + b[i]!) >> 4;
      }
    }
    const spare = above;
    above = current;
    current = below;
    below = spare;
  }
  return doubled;
}

/** A widened row: its 16-bit lanes, and the same memory as pairs of lanes. */
interface WidenedRow {
  readonly lanes: Uint16Array;
  readonly pairs: Uint32Array;
}

function widenedRow(lanes: number): WidenedRow {
  // Rounded up to whole pairs; the extra lane, if any, is never read.
  const pairs = new Uint32Array(Math.ceil(lanes / 2));
  return { lanes: new Uint16Array(pairs.buffer, 0, lanes), pairs };
}

/**
 * One source row at twice the width, times 4: 3·nearest + the neighbour on the output pixel's
 * side. Walks the row one channel at a time, so the inner loop has no channel arithmetic.
 */
function widen(src: Uint8ClampedArray, rowStart: number, sw: number, c: number, into: Uint16Array): void {
  const last = (sw - 1) * c;
  const step = 2 * c;
  for (let k = 0; k < c; k += 1) {
    const base = rowStart + k;
    // The edge pixels have themselves as their outer neighbour.
    let previous = src[base]!;
    let here = previous;
    let o = k;
    for (let x = 0; x < last; x += c, o += step) {
      const next = src[base + x + c]!;
      const centre = 3 * here;
      into[o] = centre + previous;
      into[o + c] = centre + next;
      previous = here;
      here = next;
    }
    into[o] = 3 * here + previous;
    into[o + c] = 4 * here;
  }
}

/**
 * `widen` for RGB, writing lanes in pairs: a pixel's six lanes (left R G B, right R G B) are
 * three 32-bit stores instead of six 16-bit ones.
 */
function widenRgbPairs(src: Uint8ClampedArray, rowStart: number, sw: number, into: Uint32Array): void {
  let pr = src[rowStart]!;
  let pg = src[rowStart + 1]!;
  let pb = src[rowStart + 2]!;
  let hr = pr;
  let hg = pg;
  let hb = pb;
  for (let sx = 0, w = 0; sx < sw; sx += 1, w += 3) {
    // The last pixel is its own right neighbour.
    const at = rowStart + (sx < sw - 1 ? sx + 1 : sx) * 3;
    const nr = src[at]!;
    const ng = src[at + 1]!;
    const nb = src[at + 2]!;
    const cr = 3 * hr;
    const cg = 3 * hg;
    const cb = 3 * hb;
    into[w] = (cr + pr) | ((cg + pg) << 16);
    into[w + 1] = (cb + pb) | ((cr + nr) << 16);
    into[w + 2] = (cg + ng) | ((cb + nb) << 16);
    pr = hr;
    pg = hg;
    pb = hb;
    hr = nr;
    hg = ng;
    hb = nb;
  }
}

/** Both output rows of a source row, two lanes per operation, four bytes per store. */
function blendRowsWordwise(a32: Uint32Array, c32: Uint32Array, b32: Uint32Array, out32: Uint32Array, topWord: number, rowWords: number): void {
  const ROUND = 0x00080008;
  const LOW_BYTES = 0x00ff00ff;
  for (let w = 0, j = 0; w < rowWords; w += 1, j += 2) {
    const c0 = 3 * c32[j]! + ROUND;
    const c1 = 3 * c32[j + 1]! + ROUND;
    // Each t holds two output bytes, in bits 0–7 and 16–23.
    const t0 = ((c0 + a32[j]!) >>> 4) & LOW_BYTES;
    const t1 = ((c1 + a32[j + 1]!) >>> 4) & LOW_BYTES;
    const b0 = ((c0 + b32[j]!) >>> 4) & LOW_BYTES;
    const b1 = ((c1 + b32[j + 1]!) >>> 4) & LOW_BYTES;
    out32[topWord + w] = ((t0 | (t0 >>> 8)) & 0xffff) | ((t1 | (t1 >>> 8)) << 16);
    out32[topWord + rowWords + w] = ((b0 | (b0 >>> 8)) & 0xffff) | ((b1 | (b1 >>> 8)) << 16);
  }
}
