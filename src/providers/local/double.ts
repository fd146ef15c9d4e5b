import type { Canvas } from './canvas.ts';

/*
 * Doubles a canvas's width and height by bilinear interpolation. With pixel centres aligned,
 * every output pixel lies a quarter of a source pixel from its nearest source pixel, so the
 * weights are fixed: 3/4 for the nearest, 1/4 for the next, along each axis. Separable: each
 * source row is first widened (3·nearest + neighbour), then each output row is 3·nearer widened
 * row + the other one, over 16. Integers throughout; the edges repeat their outermost pixels.
 */
export function doubleCanvas(source: Canvas): Canvas {
  const { data: src, width: sw, height: sh, channels: c } = source;
  const width = sw * 2;
  const height = sh * 2;
  const out = new Uint8ClampedArray(width * height * c);
  const lanes = width * c;

  // Three widened rows (above, current, below) in rotation: each source row is widened once.
  let above = new Uint16Array(lanes);
  let current = new Uint16Array(lanes);
  let below = new Uint16Array(lanes);
  widen(src, 0, sw, c, current);
  above.set(current);
  for (let sy = 0; sy < sh; sy += 1) {
    if (sy + 1 < sh) widen(src, (sy + 1) * sw * c, sw, c, below);
    else below.set(current);
    const top = 2 * sy * lanes;
    const bottom = top + lanes;
    for (let i = 0; i < lanes; i += 1) {
      const centre = 3 * current[i]! + 8;
      out[top + i] = (centre + above[i]!) >> 4;
      out[bottom + i] = (centre + below[i]!) >> 4;
    }
    const spare = above;
    above = current;
    current = below;
    below = spare;
  }
  return { data: out, width, height, channels: c };
}

/** One source row at twice the width, times 4: 3·nearest + neighbour on the side of the output pixel. */
function widen(src: Uint8ClampedArray, rowStart: number, sw: number, c: number, into: Uint16Array): void {
  for (let sx = 0; sx < sw; sx += 1) {
    const here = rowStart + sx * c;
    const left = sx > 0 ? here - c : here;
    const right = sx < sw - 1 ? here + c : here;
    const o = 2 * sx * c;
    for (let k = 0; k < c; k += 1) {
      const centre = 3 * src[here + k]!;
      into[o + k] = centre + src[left + k]!;
      into[o + c + k] = centre + src[right + k]!;
    }
  }
}
