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

  // The texture is sin(rowPart + columnPart): with the column half tabulated, the pixel loop
  // needs no trigonometry (sin(a + b) = sin a · cos b + cos a · sin b).
  const columnSin = new Float32Array(width);
  const columnCos = new Float32Array(width);
  const edgeRow = new Float32Array(width);
  let lowestEdge = 0;
  for (let x = 0; x < width; x += 1) {
    const b = wobble * Math.sin((x / unit) * 2.2 + phase);
    columnSin[x] = Math.sin(b);
    columnCos[x] = Math.cos(b);
    const edge = shoreRow - edgeWave * Math.sin((x / unit) * 9 + phase);
    edgeRow[x] = edge;
    lowestEdge = Math.max(lowestEdge, edge);
  }
  const sharp = texture.sharpness > 0;

  for (let y = Math.max(0, shoreRow - Math.ceil(edgeWave)); y < height; y += 1) {
    const t = (y - horizonRow) / Math.max(1, height - horizonRow);
    const k = Math.pow(Math.max(0, t), 0.8);
    const baseR = far[0] + (near[0] - far[0]) * k;
    const baseG = far[1] + (near[1] - far[1]) * k;
    const baseB = far[2] + (near[2] - far[2]) * k;
    // Distance from the viewer, so bands crowd together towards the horizon.
    const z = 1 / (t + 0.08);
    const sinA = texture.amplitude * Math.sin(z * texture.bands);
    const cosA = texture.amplitude * Math.cos(z * texture.bands);
    const wholeRow = y >= lowestEdge;
    let i = y * width * channels;
    for (let x = 0; x < width; x += 1, i += channels) {
      const cover = wholeRow ? 1 : Math.min(1, Math.max(0, y + 1 - (edgeRow[x] ?? 0)));
      if (cover <= 0) continue;
      const wave = sinA * (columnCos[x] ?? 0) + cosA * (columnSin[x] ?? 0);
      // Sand ripples have a sharp crest: a lit face and a shadowed face.
      let f = 1 + (sharp ? (wave * Math.abs(wave)) / texture.amplitude : wave);
      if (grain > 0) f += ((hash2(x, y, seed) - 0.5) * grain) / 128;
      const r = baseR * f;
      const g = baseG * f;
      const b = baseB * f;
      if (cover >= 1) {
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      } else {
        data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
        data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
        data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
      }
      if (channels === 4) data[i + 3] = 255;
    }
  }
}
