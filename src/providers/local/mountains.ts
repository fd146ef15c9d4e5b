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
  return [{ heightFrac: 0.03, colour: mix(far, near, 0.3), haze: 0.7, ridged: false, cycles: 3, snowLine: 2 }];
}

export function paintMountains(frame: Frame, random: Random): void {
  const { canvas, horizonRow, palette, layout, detail, seed } = frame;
  const { data, width, channels } = canvas;
  const haze = palette.colour.haze;
  const [snowR, snowG, snowB] = palette.colour.snowCap;
  // Slopes rising towards the sun's side are lit.
  const lightSide = layout.sunX < 0.5 ? 1 : -1;
  const grain = 10 * detail;

  const ridges = ridgesOf(frame);
  const profiles = ridges.map((ridge) =>
    heightProfile(width, random, { cycles: ridge.cycles, octaves: 4 + Math.round(detail * 3), roughness: 0.48, ridged: ridge.ridged }),
  );
  // Per layer and column, the highest top among the layers in front of it: a layer is painted
  // only down to there, since the nearer ones cover the rest (back to front without overdraw).
  const hiddenFrom = ridges.map(() => new Float32Array(width).fill(horizonRow));
  for (let layer = ridges.length - 1; layer > 0; layer -= 1) {
    const profile = profiles[layer];
    const ridge = ridges[layer];
    const behind = hiddenFrom[layer - 1];
    const own = hiddenFrom[layer];
    if (profile === undefined || ridge === undefined || behind === undefined || own === undefined) continue;
    for (let x = 0; x < width; x += 1) {
      const top = horizonRow - (0.25 + 0.75 * (profile[x] ?? 0)) * ridge.heightFrac * canvas.height;
      behind[x] = Math.min(own[x] ?? horizonRow, top);
    }
  }

  for (let layer = 0; layer < ridges.length; layer += 1) {
    const ridge = ridges[layer];
    const profile = profiles[layer];
    const hidden = hiddenFrom[layer];
    if (ridge === undefined || profile === undefined || hidden === undefined) continue;
    const amplitude = ridge.heightFrac * canvas.height;
    const shading = smoothed(profile, Math.max(1, Math.round(width * 0.03)));
    for (let x = 0; x < width; x += 1) {
      const h = profile[x] ?? 0;
      const topY = horizonRow - (0.25 + 0.75 * h) * amplitude;
      // The nearer layer's top row is only partly covered: paint it too.
      const lastRow = Math.min(horizonRow, Math.ceil(hidden[x] ?? horizonRow) + 1);
      // Rise in pixels per pixel, so the same at every canvas size; taken from a smoothed profile
      // so the light follows the big faces of the range, not every jag of its outline.
      const slope = (((shading[Math.min(width - 1, x + 1)] ?? 0) - (shading[Math.max(0, x - 1)] ?? 0)) * amplitude * 0.75) / 2;
      const light = Math.min(1, Math.max(0, 0.5 + slope * lightSide * 1.2));
      const [cr, cg, cb] = ridge.colour;
      const snowDepth = h > ridge.snowLine ? (h - ridge.snowLine) * amplitude * 1.6 : 0;
      const span = horizonRow - topY;
      const firstRow = Math.max(0, Math.floor(topY));
      for (let y = firstRow; y < lastRow; y += 1) {
        const cover = y === firstRow ? 1 - (topY - firstRow) : 1;
        const depth = Math.max(0, (y - topY) / span);
        // Faces are lit most near the crest; lower down the slopes merge into one shadowed mass.
        const tone = 1 + (light - 0.5) * 0.36 * (1 - depth) - 0.12 * depth;
        const hz = ridge.haze * (0.35 + 0.65 * depth * depth);
        let r = cr * tone + (haze[0] - cr * tone) * hz;
        let g = cg * tone + (haze[1] - cg * tone) * hz;
        let b = cb * tone + (haze[2] - cb * tone) * hz;
        if (snowDepth > 0 && y - topY < snowDepth) {
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

/** A running mean of `values` over `radius` on each side. */
function smoothed(values: Float32Array, radius: number): Float32Array {
  const out = new Float32Array(values.length);
  let sum = 0;
  let count = 0;
  for (let x = 0; x < Math.min(radius, values.length); x += 1) {
    sum += values[x] ?? 0;
    count += 1;
  }
  for (let x = 0; x < values.length; x += 1) {
    const entering = x + radius;
    if (entering < values.length) {
      sum += values[entering] ?? 0;
      count += 1;
    }
    const leaving = x - radius - 1;
    if (leaving >= 0) {
      sum -= values[leaving] ?? 0;
      count -= 1;
    }
    out[x] = sum / count;
  }
  return out;
}
