import { mix } from './colour.ts';
import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';
import type { Random } from './prng.ts';

/*
 * A skyline on the horizon: two rows of blocks (the back row paler, in the haze), tallest
 * towards a random centre, with a grid of windows. At dusk and night a share of the windows
 * is lit; by day they reflect the sky.
 */

export function paintCity(frame: Frame, random: Random): void {
  const { canvas, palette, horizonRow, unit, seed } = frame;
  const { data, width, channels } = canvas;
  const centre = 0.3 + 0.4 * random();
  const cell = Math.max(2, unit * 0.014);
  const litShare = palette.windowLitShare;
  const [wr, wg, wb] = palette.colour.window;

  for (const [layer, hazeAmount, heightScale] of [
    [0, 0.4, 1.25],
    [1, 0, 1],
  ] as const) {
    const body = mix(palette.colour.building, palette.colour.haze, hazeAmount);
    let x = -random() * unit * 0.04;
    let index = 0;
    while (x < width) {
      const w = unit * (0.035 + 0.06 * random());
      const nearCentre = 1 - Math.min(1, Math.abs(x / width - centre) * 1.8);
      const h = unit * heightScale * (0.05 + (0.08 + 0.28 * nearCentre) * random() ** 1.3);
      const top = horizonRow - h;
      const tone = 0.85 + 0.3 * random();
      const br = body[0] * tone;
      const bg = body[1] * tone;
      const bb = body[2] * tone;
      const x0 = Math.max(0, Math.floor(x));
      const x1 = Math.min(width, Math.floor(x + w));
      const y0 = Math.max(0, Math.floor(top));
      const buildingSeed = seed ^ (layer * 7919 + index * 104729);
      for (let y = y0; y < horizonRow + 1 && y < canvas.height; y += 1) {
        const rowInCell = (y - top) % cell;
        const windowRow = rowInCell > cell * 0.35 && y > top + cell * 0.5;
        const cellRow = Math.floor((y - top) / cell);
        for (let px = x0; px < x1; px += 1) {
          const colInCell = (px - x) % cell;
          let r = br;
          let g = bg;
          let b = bb;
          if (windowRow && colInCell > cell * 0.3 && colInCell < cell * 0.8 && px > x + cell * 0.3 && px < x + w - cell * 0.3) {
            const cellCol = Math.floor((px - x) / cell);
            const lit = hash2(cellCol, cellRow, buildingSeed) < litShare;
            const fade = layer === 0 ? 0.55 : 1;
            if (lit) {
              r += (wr - r) * fade;
              g += (wg - g) * fade;
              b += (wb - b) * fade;
            } else {
              r *= 0.8;
              g *= 0.8;
              b *= 0.85;
            }
          }
          const i = (y * width + px) * channels;
          data[i] = r;
          data[i + 1] = g;
          data[i + 2] = b;
          if (channels === 4) data[i + 3] = 255;
        }
      }
      x += w + unit * 0.004 * random();
      index += 1;
    }
  }
}
