import type { Frame } from './frame.ts';
import { hash2 } from './prng.ts';
import type { Random } from './prng.ts';

/*
 * Land below the horizon (or the foreground shore of a water scene): a far-to-near gradient with
 * a texture in perspective, bands that crowd together towards the horizon: rolling swells of
 * grass, wind ripples on sand, soft drifts on snow.
 */

const TEXTURE = {
  grass: { bands: 3, amplitude: 0.07, sharpness: 0 },
  desert: { bands: 5, amplitude: 0.13, sharpness: 1 },
  snow: { bands: 2.5, amplitude: 0.05, sharpness: 0 },
  urban: { bands: 8, amplitude: 0.03, sharpness: 1 },
} as const;

export function paintGround(frame: Frame, random: Random): void {
  const { canvas, scene, palette, layout, horizonRow, unit, detail, seed } = frame;
  const ground = scene.ground;
  if (ground === null) return;
  const { data, width, height, channels } = canvas;
  const { groundFar: far, groundNear: near } = palette.colour;
  const texture = TEXTURE[ground];
  const phase = random() * 10;
  const wobble = 1.5 + random() * 2;
  const grain = 12 * detail;
  const shoreRow = layout.shore === null ? horizonRow : Math.round(layout.shore * height);
  const edgeWave = layout.shore === null ? 0 : unit * 0.02;

  for (let y = Math.max(0, shoreRow - Math.ceil(edgeWave)); y < height; y += 1) {
    const t = (y - horizonRow) / Math.max(1, height - horizonRow);
    const k = Math.pow(Math.max(0, t), 0.8);
    const baseR = far[0] + (near[0] - far[0]) * k;
    const baseG = far[1] + (near[1] - far[1]) * k;
    const baseB = far[2] + (near[2] - far[2]) * k;
    // Distance from the viewer: rows near the horizon are far away, so bands crowd there.
    const z = 1 / (t + 0.08);
    const row = y * width;
    for (let x = 0; x < width; x += 1) {
      const edge = shoreRow - edgeWave * Math.sin((x / unit) * 9 + phase);
      const cover = Math.min(1, Math.max(0, y + 1 - edge));
      if (cover <= 0) continue;
      const wave = Math.sin(z * texture.bands + wobble * Math.sin((x / unit) * 2.2 + phase));
      // Sand ripples have a sharp crest: a lit face and a shadowed face.
      const shaped = texture.sharpness > 0 ? wave * Math.abs(wave) : wave;
      let f = 1 + texture.amplitude * shaped;
      if (grain > 0) f += ((hash2(x, y, seed) - 0.5) * grain) / 128;
      const i = (row + x) * channels;
      const r = baseR * f;
      const g = baseG * f;
      const b = baseB * f;
      data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
      data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
      data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
      if (channels === 4) data[i + 3] = 255;
    }
  }
}
