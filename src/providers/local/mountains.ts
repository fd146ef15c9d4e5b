import type { Rgb } from './colour.ts';
import { mix } from './colour.ts';
import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';
import type { Random } from './prng.ts';
import { heightProfile } from './profile.ts';

/*
 * Silhouettes that stand on the horizon: layered mountain ranges (far ones paler, lost in the
 * haze of the horizon's colour), or low rolling hills and dunes when the prompt names no
 * mountains. Slopes that face the sun are lit, the others shaded, which is what makes a flat
 * silhouette read as a range.
 */

interface Ridge {
  /** Highest peaks above the horizon, as a fraction of the canvas height. */
  readonly heightFrac: number;
  readonly colour: Rgb;
  /** 0–1: how much the horizon's haze covers the layer, most at its foot. */
  readonly haze: number;
  readonly ridged: boolean;
  readonly cycles: number;
  /** Heights (0–1 of the profile) above which the ridge is snow-capped; >1 for none. */
  readonly snowLine: number;
}

function ridgesOf(frame: Frame): Ridge[] {
  const { scene, palette } = frame;
  const { mountainFar: far, mountainNear: near } = palette.colour;
  if (scene.mountains) {
    const snowLine = scene.ground === 'snow' ? 0.45 : 0.78;
    return [
      { heightFrac: 0.3, colour: mix(far, palette.colour.haze, 0.25), haze: 0.55, ridged: true, cycles: 2.5, snowLine },
      { heightFrac: 0.2, colour: mix(far, near, 0.5), haze: 0.35, ridged: true, cycles: 3.5, snowLine: snowLine + 0.1 },
      { heightFrac: 0.1, colour: near, haze: 0.2, ridged: false, cycles: 4, snowLine: 2 },
    ];
  }
  if (scene.city) return [];
  if (scene.ground === 'desert') {
    return [{ heightFrac: 0.06, colour: mix(palette.colour.groundFar, far, 0.35), haze: 0.3, ridged: false, cycles: 2.5, snowLine: 2 }];
  }
  if (scene.water === null) {
    return [{ heightFrac: 0.08, colour: mix(palette.colour.groundFar, far, 0.45), haze: 0.35, ridged: false, cycles: 2, snowLine: 2 }];
  }
  // Water with nothing else: a distant, low shore so the horizon is not a ruler line.
  return [{ heightFrac: 0.025, colour: mix(far, near, 0.6), haze: 0.45, ridged: false, cycles: 5, snowLine: 2 }];
}

export function paintMountains(frame: Frame, random: Random): void {
  const { canvas, horizonRow, palette, layout, detail, seed } = frame;
  const { data, width, channels } = canvas;
  const haze = palette.colour.haze;
  const [snowR, snowG, snowB] = palette.colour.snowCap;
  // Slopes rising towards the sun's side are lit.
  const lightSide = layout.sunX < 0.5 ? 1 : -1;
  const grain = 10 * detail;

  for (const ridge of ridgesOf(frame)) {
    const profile = heightProfile(width, random, { cycles: ridge.cycles, octaves: 4 + Math.round(detail * 3), roughness: 0.48, ridged: ridge.ridged });
    const amplitude = ridge.heightFrac * canvas.height;
    for (let x = 0; x < width; x += 1) {
      const h = profile[x] ?? 0;
      const topY = horizonRow - (0.25 + 0.75 * h) * amplitude;
      // Rise in pixels per pixel: the same at every canvas size.
      const slope = (((profile[Math.min(width - 1, x + 1)] ?? 0) - (profile[Math.max(0, x - 1)] ?? 0)) * amplitude * 0.75) / 2;
      const light = Math.min(1, Math.max(0, 0.5 + slope * lightSide * 1.5));
      const tone = 0.78 + 0.4 * light;
      const baseR = ridge.colour[0] * tone;
      const baseG = ridge.colour[1] * tone;
      const baseB = ridge.colour[2] * tone;
      const snowDepth = h > ridge.snowLine ? (h - ridge.snowLine) * amplitude * 1.6 : 0;
      const span = horizonRow - topY;
      const firstRow = Math.max(0, Math.floor(topY));
      for (let y = firstRow; y < horizonRow; y += 1) {
        const cover = y === firstRow ? 1 - (topY - firstRow) : 1;
        const depth = (y - topY) / span;
        const hz = ridge.haze * (0.35 + 0.65 * depth * depth);
        let r = baseR + (haze[0] - baseR) * hz;
        let g = baseG + (haze[1] - baseG) * hz;
        let b = baseB + (haze[2] - baseB) * hz;
        if (y - topY < snowDepth) {
          const s = 0.6 + 0.4 * light;
          r = snowR * s;
          g = snowG * s;
          b = snowB * s;
        }
        if (grain > 0) {
          const n = (hash2(x, y, seed) - 0.5) * grain;
          r += n;
          g += n;
          b += n;
        }
        const i = (y * width + x) * channels;
        if (cover >= 1) {
          data[i] = r;
          data[i + 1] = g;
          data[i + 2] = b;
          if (channels === 4) data[i + 3] = 255;
        } else {
          data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
          data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
          data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
          if (channels === 4) data[i + 3] = Math.max(data[i + 3] ?? 0, cover * 255);
        }
      }
    }
  }
}
