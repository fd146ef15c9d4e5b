import { releaseBuffer, takeBuffer } from './buffer-pool.ts';
import { smoothstep } from './canvas.ts';
import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';
import type { Random } from './prng.ts';

/*
 * Clouds as soft elliptical puffs summed into a density map over the sky, then shaded: where the
 * density grows downwards (a cloud's top) is lit, where it fades downwards (its base) is in shade.
 * Low suns get long thin streaks; overcast and storm skies get many large, flat-based clouds.
 */

interface CloudKind {
  readonly count: number;
  /** Width and height ranges as fractions of the canvas width and the sky's height. */
  readonly width: readonly [number, number];
  readonly height: readonly [number, number];
  readonly puffs: readonly [number, number];
  /** Where cloud centres sit, as fractions of the sky's height. */
  readonly band: readonly [number, number];
}

function cloudKind(frame: Frame): CloudKind | null {
  const { weather, timeOfDay, clouds } = frame.scene;
  const lowSun = timeOfDay === 'sunrise' || timeOfDay === 'sunset';
  if (weather === 'storm') return { count: 12, width: [0.35, 0.8], height: [0.12, 0.3], puffs: [5, 9], band: [0.0, 0.75] };
  if (weather === 'cloudy') return { count: 14, width: [0.2, 0.5], height: [0.08, 0.2], puffs: [7, 12], band: [0.05, 0.85] };
  if (clouds) return { count: 7, width: [0.18, 0.42], height: [0.07, 0.16], puffs: [6, 10], band: [0.1, 0.75] };
  if (lowSun) return { count: 7, width: [0.35, 0.8], height: [0.015, 0.04], puffs: [6, 10], band: [0.08, 0.75] };
  if (weather === 'fog') return { count: 3, width: [0.3, 0.6], height: [0.04, 0.08], puffs: [4, 6], band: [0.2, 0.7] };
  return { count: timeOfDay === 'night' ? 2 : 3, width: [0.12, 0.3], height: [0.05, 0.1], puffs: [5, 8], band: [0.12, 0.55] };
}

export function paintClouds(frame: Frame, random: Random): void {
  const kind = cloudKind(frame);
  if (kind === null) return;
  const { canvas, palette, horizonRow, detail, seed } = frame;
  const { data, width, channels } = canvas;
  const skyRows = horizonRow;
  const density = new Float32Array(takeBuffer(width * skyRows * Float32Array.BYTES_PER_ELEMENT));
  // Per row, the columns any puff touched: the shading pass visits only those.
  const rowFrom = new Int32Array(skyRows).fill(width);
  const rowTo = new Int32Array(skyRows).fill(-1);
  const between = (range: readonly [number, number]): number => range[0] + (range[1] - range[0]) * random();
  const flatBase = frame.scene.weather === 'cloudy' || frame.scene.weather === 'storm' || frame.scene.clouds;

  let typicalPuffRadius = 1;
  for (let c = 0; c < kind.count; c += 1) {
    const cloudW = between(kind.width) * width;
    const cloudH = between(kind.height) * skyRows;
    const cx = random() * width;
    const cy = between(kind.band) * skyRows;
    const baseY = cy + cloudH * 0.35;
    const puffs = Math.round(between(kind.puffs));
    for (let p = 0; p < puffs; p += 1) {
      // Puffs bunch towards the middle of the cloud and rise higher there.
      const u = (random() + random()) / 2 - 0.5;
      const px = cx + u * cloudW;
      const rise = 1 - Math.abs(u) * 1.6;
      const ry = cloudH * (0.3 + 0.45 * random()) * Math.max(0.35, rise);
      const rx = flatBase ? ry * (1.3 + random()) : Math.max(ry * 3, cloudW * (0.15 + 0.15 * random()));
      const py = baseY - ry * (flatBase ? 0.6 + 0.5 * random() : 0.5 + random());
      typicalPuffRadius = ry;
      addPuff(density, width, skyRows, px, py, rx, ry, flatBase ? baseY : Number.POSITIVE_INFINITY);
      for (let y = Math.max(0, Math.floor(py - ry)); y <= Math.min(skyRows - 1, Math.ceil(py + ry)); y += 1) {
        rowFrom[y] = Math.min(rowFrom[y] ?? width, Math.max(0, Math.floor(px - rx)));
        rowTo[y] = Math.max(rowTo[y] ?? -1, Math.min(width - 1, Math.ceil(px + rx)));
      }
    }
  }

  const { cloudLit: lit, cloudShade: shade, sunGlow: glow } = palette.colour;
  const opacity = palette.cloudOpacity;
  const probe = Math.max(1, Math.round(typicalPuffRadius * 0.4));
  const grain = 0.1 * detail;
  const sunX = frame.layout.sunX * width;
  const sunY = frame.layout.sunY * canvas.height;
  const glowR2 = (frame.unit * 0.3) ** 2;
  const glowStrength = palette.glowStrength * 0.7;
  for (let y = 0; y < skyRows; y += 1) {
    const row = y * width;
    const aboveRow = Math.max(0, y - probe) * width;
    const to = rowTo[y] ?? -1;
    for (let x = rowFrom[y] ?? width; x <= to; x += 1) {
      let d = density[row + x] ?? 0;
      if (d < 0.02) continue;
      if (grain > 0) d += (hash2(x, y, seed) - 0.5) * grain;
      const above = density[aboveRow + x] ?? 0;
      const a = smoothstep(0.04, 0.5, d) * opacity;
      if (a <= 0) continue;
      const litness = Math.min(1, Math.max(0, 0.45 + (d - above) * 1.8));
      const dx = x - sunX;
      const dy = y - sunY;
      const sunLit = glowStrength / (1 + (dx * dx + dy * dy) / glowR2);
      let r = shade[0] + (lit[0] - shade[0]) * litness;
      let g = shade[1] + (lit[1] - shade[1]) * litness;
      let b = shade[2] + (lit[2] - shade[2]) * litness;
      r += (glow[0] - r) * sunLit;
      g += (glow[1] - g) * sunLit;
      b += (glow[2] - b) * sunLit;
      const i = (row + x) * channels;
      data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * a;
      data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * a;
      data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * a;
    }
  }
  releaseBuffer(density.buffer);
}

/** Adds one soft ellipse to the density map, cut off below `baseY` (a cloud's flat underside). */
function addPuff(density: Float32Array, width: number, rows: number, px: number, py: number, rx: number, ry: number, baseY: number): void {
  const x0 = Math.max(0, Math.floor(px - rx));
  const x1 = Math.min(width - 1, Math.ceil(px + rx));
  const y0 = Math.max(0, Math.floor(py - ry));
  const y1 = Math.min(rows - 1, Math.ceil(py + ry));
  const invRx2 = 1 / (rx * rx);
  const invRy2 = 1 / (ry * ry);
  const baseSoftness = Math.max(1, ry * 0.25);
  for (let y = y0; y <= y1; y += 1) {
    const dy2 = (y - py) * (y - py) * invRy2;
    if (dy2 >= 1) continue;
    const cut = y <= baseY ? 1 : Math.max(0, 1 - (y - baseY) / baseSoftness);
    if (cut <= 0) continue;
    const row = y * width;
    for (let x = x0; x <= x1; x += 1) {
      const q = (x - px) * (x - px) * invRx2 + dy2;
      if (q >= 1) continue;
      const v = 1 - q;
      density[row + x] = (density[row + x] ?? 0) + v * v * cut;
    }
  }
}
