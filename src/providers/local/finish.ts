import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';

/*
 * The last pass over the whole picture: fog that thickens towards the horizon, a vignette that
 * keeps the eye in the middle (dramatic and dark moods), and film grain at higher detail (on a
 * small canvas grain would only be blown up into blotches). One loop, so the buffer is walked
 * once, and none at all when there is nothing to do: at low quality this pass would be a fifth of
 * the painting time.
 */

export function finish(frame: Frame): void {
  const { canvas, palette, horizonRow, detail, seed } = frame;
  const { data, width, height, channels } = canvas;
  const fogStrength = palette.fogStrength;
  const [fr, fg, fb] = palette.colour.fog;
  const vignette = palette.vignette;
  const grain = detail >= 0.5 ? 7 * detail : 0;
  if (fogStrength === 0 && vignette === 0 && grain === 0) return;
  const fogFalloffRows = height * 0.22;
  const cx = width / 2;
  const cy = height / 2;
  const invCx2 = 1 / (cx * cx);
  const invCy2 = 1 / (cy * cy);

  for (let y = 0; y < height; y += 1) {
    const fog = fogStrength > 0 ? fogStrength * (0.3 + 0.7 / (1 + ((y - horizonRow) / fogFalloffRows) ** 2)) : 0;
    const dy2 = (y - cy) * (y - cy) * invCy2;
    let i = y * width * channels;
    for (let x = 0; x < width; x += 1, i += channels) {
      let r = data[i] ?? 0;
      let g = data[i + 1] ?? 0;
      let b = data[i + 2] ?? 0;
      if (fog > 0) {
        r += (fr - r) * fog;
        g += (fg - g) * fog;
        b += (fb - b) * fog;
      }
      const r2 = ((x - cx) * (x - cx) * invCx2 + dy2) * 0.5;
      let f = 1 - vignette * r2 * r2;
      if (grain > 0) f += ((hash2(x, y, seed) - 0.5) * grain) / 128;
      data[i] = r * f;
      data[i + 1] = g * f;
      data[i + 2] = b * f;
    }
  }
}
