import { mix } from './colour.ts';
import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';
import type { Random } from './prng.ts';

/*
 * Water mirrors what is above the horizon (the sky, sun, mountains, skyline, trees), pushed
 * sideways by ripples, and mixes in its own colour more towards the viewer, where one sees into
 * water rather than across it (Fresnel). Ripples are drawn in perspective: bands crowd together
 * near the horizon and widen towards the viewer. A glitter path runs from the sun (or moon)
 * towards the viewer. Calm water has small ripples; rough water larger ones.
 */

/** How much longer a reflection is than what it mirrors. */
const REFLECTION_STRETCH = 1.5;
/** Ripple crests per unit of perspective distance (see `z`). */
const GLITTER_CRESTS_PER_Z = 9;

export function paintWater(frame: Frame, random: Random): void {
  const water = frame.scene.water;
  if (water === null) return;
  const { canvas, palette, layout, horizonRow, unit, detail, seed } = frame;
  const { data, width, height, channels } = canvas;
  const [wr, wg, wb] = palette.colour.water;
  // Glitter is the sun's colour warmed by its glow (the moon's, at night).
  const [sr, sg, sb] = frame.scene.timeOfDay === 'night' ? palette.colour.moon : mix(palette.colour.sun, palette.colour.sunGlow, 0.35);
  const lowSun = frame.scene.timeOfDay === 'sunrise' || frame.scene.timeOfDay === 'sunset';
  const glitterStrength =
    (frame.scene.weather === 'clear' ? 1 : frame.scene.weather === 'fog' ? 0.4 : frame.scene.weather === 'cloudy' ? 0.2 : 0) *
    (lowSun ? 0.9 : frame.scene.timeOfDay === 'night' ? 0.55 : 0.6);
  const sunX = layout.sunX * width;
  const sunRadius = layout.sunRadius * unit;
  const calmness = water.calm ? 1 : 0;
  // Sideways push of the reflection, in units of the short side at the viewer's end.
  const pushAmplitude = unit * (water.calm ? 0.006 : 0.02);
  const bandDepth = water.calm ? 0.07 : 0.16;
  const tiltAmplitude = unit * (water.calm ? 0.025 : 0.05);
  // Reflected light takes on the colour of the light of the hour (warm at sunrise and sunset).
  const light = palette.colour.light;
  const tintR = 0.5 + (0.5 * light[0]) / 255;
  const tintG = 0.5 + (0.5 * light[1]) / 255;
  const tintB = 0.5 + (0.5 * light[2]) / 255;
  const phase1 = random() * 6.283;
  const phase2 = random() * 6.283;
  const phase3 = random() * 6.283;
  const fineRipples = detail >= 0.5;
  const glitterSeed = seed ^ 0x5bd1e995;
  const sparkle = 0.15 + 0.85 * detail;
  const lastSkyRow = horizonRow - 1;

  // Each ripple term is sin(rowPart + columnPart) = sin(row)·cos(col) + cos(row)·sin(col); the
  // column halves are tabulated once, so the pixel loop multiplies instead of calling Math.sin.
  const offset1 = columnWave(width, unit, 1.7);
  const offset2 = columnWave(width, unit, -3.3);
  const fine = columnWave(width, unit, 7);
  const shimmerWave = columnWave(width, unit, 2.3);
  const shimmerDepth = calmness ? 0.03 : 0.06;
  const fineWeight = fineRipples ? 0.35 : 0;

  for (let y = horizonRow; y < height; y += 1) {
    const t = (y - horizonRow + 0.5) / (height - horizonRow);
    // Distance from the viewer, so the pattern is in perspective.
    const z = 1 / (t + 0.04);
    const push = pushAmplitude * (0.3 + t);
    const reflectivity = 0.9 - 0.62 * t;
    const band = 1 + bandDepth * Math.sin(z * 3.1 + phase1) * (0.6 + 0.4 * Math.sin(z * 0.7 + phase2));
    // The glitter path: each ripple crest facing the sun is one horizontal bar of light, its
    // length and position varying from crest to crest, the bars thicker towards the viewer.
    const pathHalfWidth = sunRadius * (0.8 + 5 * t) * (lowSun ? 1 : 1.5);
    const crestAt = z * GLITTER_CRESTS_PER_Z;
    const crest = Math.floor(crestAt);
    const within = crestAt - crest;
    const crestLight = within < 0.5 ? glitterStrength * Math.sin(within * 2 * Math.PI) ** 2 : 0;
    const barHalfWidth = pathHalfWidth * (0.25 + 0.75 * hash2(crest, 7, glitterSeed));
    const barCentre = sunX + pathHalfWidth * 0.7 * (hash2(crest, 13, glitterSeed) - 0.5);
    const barStart = Math.max(0, Math.ceil(barCentre - barHalfWidth));
    const barEnd = crestLight > 0 ? Math.min(width - 1, Math.floor(barCentre + barHalfWidth)) : -1;
    // Tilted ripple faces reflect the sky from higher up, breaking the mirror image into bars;
    // and ripples tilt towards the viewer, so reflections stretch downwards.
    const tilt = tiltAmplitude * (0.4 + t) * Math.sin(crestAt * Math.PI * 2 + phase3);
    const mirrorY = Math.max(0, Math.min(lastSkyRow, Math.round(horizonRow - 1 - (y - horizonRow) / REFLECTION_STRETCH - tilt)));
    const mirrorRow = mirrorY * width;

    const a1 = z * 5.3 + phase2;
    const a2 = z * 9.1 + phase3;
    const a3 = z * 23 + phase1;
    const a4 = z * 17 + phase3;
    const s1 = push * Math.sin(a1);
    const c1 = push * Math.cos(a1);
    const s2 = 0.5 * push * Math.sin(a2);
    const c2 = 0.5 * push * Math.cos(a2);
    const s3 = fineWeight * push * Math.sin(a3);
    const c3 = fineWeight * push * Math.cos(a3);
    const s4 = band * shimmerDepth * Math.sin(a4);
    const c4 = band * shimmerDepth * Math.cos(a4);
    const kr = tintR * reflectivity;
    const kg = tintG * reflectivity;
    const kb = tintB * reflectivity;
    const ownR = wr * (1 - reflectivity);
    const ownG = wg * (1 - reflectivity);
    const ownB = wb * (1 - reflectivity);
    let i = y * width * channels;
    for (let x = 0; x < width; x += 1, i += channels) {
      let offset = s1 * (offset1.cos[x] ?? 0) + c1 * (offset1.sin[x] ?? 0) + s2 * (offset2.cos[x] ?? 0) + c2 * (offset2.sin[x] ?? 0);
      let shimmer = band;
      if (fineRipples) {
        offset += s3 * (fine.cos[x] ?? 0) + c3 * (fine.sin[x] ?? 0);
        shimmer += s4 * (shimmerWave.cos[x] ?? 0) + c4 * (shimmerWave.sin[x] ?? 0);
      }
      let sx = (x + offset + 0.5) | 0;
      sx = sx < 0 ? 0 : sx >= width ? width - 1 : sx;
      const si = (mirrorRow + sx) * channels;
      let r = ((data[si] ?? 0) * kr + ownR) * shimmer;
      let g = ((data[si + 1] ?? 0) * kg + ownG) * shimmer;
      let b = ((data[si + 2] ?? 0) * kb + ownB) * shimmer;
      if (x >= barStart && x <= barEnd) {
        const dx = (x - barCentre) / barHalfWidth;
        const grain = 1 - sparkle + sparkle * hash2(x >> 1, y, glitterSeed);
        const k = crestLight * (1 - dx * dx) * grain;
        r += (sr - r) * k;
        g += (sg - g) * k;
        b += (sb - b) * k;
      }
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      if (channels === 4) data[i + 3] = 255;
    }
  }
}

/** sin and cos of (x / unit) · frequency for every column. */
function columnWave(width: number, unit: number, frequency: number): { sin: Float32Array; cos: Float32Array } {
  const sin = new Float32Array(width);
  const cos = new Float32Array(width);
  for (let x = 0; x < width; x += 1) {
    const angle = (x / unit) * frequency;
    sin[x] = Math.sin(angle);
    cos[x] = Math.cos(angle);
  }
  return { sin, cos };
}
