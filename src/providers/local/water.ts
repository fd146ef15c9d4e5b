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

  for (let y = horizonRow; y < height; y += 1) {
    const t = (y - horizonRow + 0.5) / (height - horizonRow);
    // Distance from the viewer, so the pattern is in perspective.
    const z = 1 / (t + 0.04);
    const push = pushAmplitude * (0.3 + t);
    const reflectivity = 0.88 - 0.5 * t;
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
    // Tilted ripple faces reflect the sky from higher up, breaking the mirror image into bars.
    const tilt = tiltAmplitude * (0.4 + t) * Math.sin(crestAt * Math.PI * 2 + phase3);
    // Ripples tilt towards the viewer and reflect light from higher up: reflections stretch downwards.
    const mirrorY = Math.max(0, Math.min(lastSkyRow, Math.round(horizonRow - 1 - (y - horizonRow) / REFLECTION_STRETCH - tilt)));
    const mirrorRow = mirrorY * width;
    const row = y * width;
    for (let x = 0; x < width; x += 1) {
      const u = x / unit;
      let offset = push * (Math.sin(z * 5.3 + u * 1.7 + phase2) + 0.5 * Math.sin(z * 9.1 - u * 3.3 + phase3));
      if (fineRipples) offset += push * 0.35 * Math.sin(z * 23 + u * 7 + phase1);
      let sx = Math.round(x + offset);
      sx = sx < 0 ? 0 : sx >= width ? width - 1 : sx;
      const si = (mirrorRow + sx) * channels;
      const shimmer = band * (1 + (calmness ? 0.03 : 0.06) * Math.sin(z * 17 + u * 2.3 + phase3));
      let r = ((data[si] ?? 0) * tintR * reflectivity + wr * (1 - reflectivity)) * shimmer;
      let g = ((data[si + 1] ?? 0) * tintG * reflectivity + wg * (1 - reflectivity)) * shimmer;
      let b = ((data[si + 2] ?? 0) * tintB * reflectivity + wb * (1 - reflectivity)) * shimmer;
      if (glitterStrength > 0) {
        const dx = (x - barCentre) / barHalfWidth;
        if (dx > -1 && dx < 1) {
          const grain = 1 - sparkle + sparkle * hash2(x >> 1, y, glitterSeed);
          const k = crestLight * (1 - dx * dx) * grain;
          r += (sr - r) * k;
          g += (sg - g) * k;
          b += (sb - b) * k;
        }
      }
      const i = (row + x) * channels;
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      if (channels === 4) data[i + 3] = 255;
    }
  }
}
