import { clamp01, smoothstep } from './canvas.ts';
import type { Frame } from './frame.ts';
import type { Random } from './prng.ts';

/*
 * The sky: a three-stop gradient, the glow around the sun (or moon), the sun's or moon's disc,
 * and stars. On a transparent picture the sky's alpha stays 0; its colours are still painted
 * because the water reflects them.
 */

export function paintSky(frame: Frame, random: Random): void {
  const { canvas, palette, layout, unit, horizonRow } = frame;
  const { data, width, channels } = canvas;
  const { skyTop: top, skyMid: mid, skyHorizon: hor, sunGlow: glowColour } = palette.colour;
  const [gr, gg, gb] = glowColour;
  const midAt = palette.skyMidAt;
  const night = frame.scene.timeOfDay === 'night';
  const sunX = layout.sunX * width;
  const sunY = layout.sunY * canvas.height;
  const glowRadius = unit * (night ? 0.12 : frame.scene.timeOfDay === 'day' ? 0.16 : 0.2);
  const glow = glowTable(palette.glowStrength);
  // Table index per pixel of distance from the sun.
  const stepsPerPixel = GLOW_STEPS_PER_RADIUS / glowRadius;
  const lastStep = glow.length - 1;
  const alpha = channels === 4 ? 0 : 255;
  // Every sky colour is a blend of palette colours, so always within 0–255: plain bytes with
  // explicit rounding are safe here, and cheaper to store than the clamped array's doubles (the
  // sky is the largest layer).
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);

  for (let y = 0; y < horizonRow; y += 1) {
    const t = y / horizonRow;
    let r: number;
    let g: number;
    let b: number;
    if (t < midAt) {
      const u = smoothstep(0, 1, t / midAt);
      r = top[0] + (mid[0] - top[0]) * u;
      g = top[1] + (mid[1] - top[1]) * u;
      b = top[2] + (mid[2] - top[2]) * u;
    } else {
      const u = smoothstep(0, 1, (t - midAt) / (1 - midAt));
      r = mid[0] + (hor[0] - mid[0]) * u;
      g = mid[1] + (hor[1] - mid[1]) * u;
      b = mid[2] + (hor[2] - mid[2]) * u;
    }
    const dy2 = (y - sunY) * (y - sunY);
    let i = y * width * channels;
    for (let x = 0; x < width; x += 1, i += channels) {
      const dx = x - sunX;
      const step = Math.sqrt(dx * dx + dy2) * stepsPerPixel;
      const k = glow[step < lastStep ? step | 0 : lastStep] ?? 0;
      bytes[i] = (r + (gr - r) * k + 0.5) | 0;
      bytes[i + 1] = (g + (gg - g) * k + 0.5) | 0;
      bytes[i + 2] = (b + (gb - b) * k + 0.5) | 0;
      if (channels === 4) bytes[i + 3] = alpha;
    }
  }

  if (palette.starVisibility > 0) paintStars(frame, random);
  if (night) paintMoon(frame);
  else paintSun(frame);
}

/** Table resolution: entries per glow radius of distance from the sun. */
const GLOW_STEPS_PER_RADIUS = 128;
/** Distance, in glow radii, beyond which the glow is under one level of 255. */
const GLOW_REACH_RADII = 18;

/**
 * How strongly the glow tints the sky at each distance: a bright core and a long halo. Rational
 * falloffs instead of exp() for the shape; tabulated so the pixel loop does one lookup.
 */
function glowTable(strength: number): Float32Array {
  const table = new Float32Array(GLOW_STEPS_PER_RADIUS * GLOW_REACH_RADII + 1);
  for (let step = 0; step < table.length; step += 1) {
    const d = step / GLOW_STEPS_PER_RADIUS;
    const d2 = d * d;
    const core = 1 / (1 + 3 * d2);
    table[step] = strength * (0.6 * core * core + 0.4 / (1 + 0.35 * d2));
  }
  return table;
}

function paintSun(frame: Frame): void {
  const { canvas, layout, unit, horizonRow } = frame;
  const { data, width, channels } = canvas;
  const [r, g, b] = frame.palette.colour.sun;
  const cx = layout.sunX * width;
  const cy = layout.sunY * canvas.height;
  const radius = layout.sunRadius * unit;
  // Clouds and fog dim the disc.
  const strength = frame.scene.weather === 'clear' ? 1 : frame.scene.weather === 'fog' ? 0.55 : frame.scene.weather === 'cloudy' ? 0.35 : 0;
  if (strength === 0) return;
  const y0 = Math.max(0, Math.floor(cy - radius - 1));
  const y1 = Math.min(horizonRow - 1, Math.ceil(cy + radius + 1));
  for (let y = y0; y <= y1; y += 1) {
    for (let x = Math.max(0, Math.floor(cx - radius - 1)); x <= Math.min(width - 1, Math.ceil(cx + radius + 1)); x += 1) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const cover = clamp01(radius - d + 0.5) * strength;
      if (cover <= 0) continue;
      const i = (y * width + x) * channels;
      data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
      data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
      data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
    }
  }
}

/** A moon: a bright disc minus a shadow disc offset by the phase, so it is often a crescent. */
function paintMoon(frame: Frame): void {
  const { canvas, layout, unit, horizonRow } = frame;
  const { data, width, channels } = canvas;
  const [r, g, b] = frame.palette.colour.moon;
  const cx = layout.sunX * width;
  const cy = layout.sunY * canvas.height;
  const radius = layout.sunRadius * unit;
  const shadowX = cx + layout.moonShadowOffset * radius * 0.9;
  const shadowY = cy - layout.moonShadowOffset * radius * 0.3;
  const strength = frame.scene.weather === 'storm' ? 0 : frame.scene.weather === 'clear' ? 1 : 0.5;
  if (strength === 0) return;
  for (let y = Math.max(0, Math.floor(cy - radius - 1)); y <= Math.min(horizonRow - 1, Math.ceil(cy + radius + 1)); y += 1) {
    for (let x = Math.max(0, Math.floor(cx - radius - 1)); x <= Math.min(width - 1, Math.ceil(cx + radius + 1)); x += 1) {
      const lit = clamp01(radius - Math.hypot(x + 0.5 - cx, y + 0.5 - cy) + 0.5);
      const shadow = clamp01(radius - Math.hypot(x + 0.5 - shadowX, y + 0.5 - shadowY) + 0.5);
      const cover = lit * (1 - shadow * 0.92) * strength;
      if (cover <= 0) continue;
      const i = (y * width + x) * channels;
      data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
      data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
      data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
    }
  }
}

/** Stars thin out towards the horizon; more of them, and a few with rays, at higher detail. */
function paintStars(frame: Frame, random: Random): void {
  const { canvas, unit, horizonRow, detail } = frame;
  const { data, width, channels } = canvas;
  const [sr, sg, sb] = frame.palette.colour.star;
  const perUnitArea = 500 * (0.3 + 0.7 * detail) * frame.palette.starVisibility;
  const count = Math.round(((width * horizonRow) / (unit * unit)) * perUnitArea);
  for (let k = 0; k < count; k += 1) {
    const x = Math.floor(random() * width);
    const y = Math.floor(horizonRow * random() ** 1.4);
    const brightness = (0.25 + 0.75 * random() ** 3) * Math.sqrt(1 - y / horizonRow);
    plot(x, y, brightness);
    if (brightness > 0.75 && detail >= 0.5) {
      const ray = brightness * 0.35;
      plot(x - 1, y, ray);
      plot(x + 1, y, ray);
      plot(x, y - 1, ray);
      plot(x, y + 1, ray);
    }
  }

  function plot(x: number, y: number, amount: number): void {
    if (x < 0 || x >= width || y < 0 || y >= horizonRow) return;
    const i = (y * width + x) * channels;
    data[i] = (data[i] ?? 0) + (sr - (data[i] ?? 0)) * amount;
    data[i + 1] = (data[i + 1] ?? 0) + (sg - (data[i + 1] ?? 0)) * amount;
    data[i + 2] = (data[i + 2] ?? 0) + (sb - (data[i + 2] ?? 0)) * amount;
  }
}
