import type { Frame } from './frame.ts';
import type { Random } from './prng.ts';

/*
 * Trees: a dense line of small conifers along the horizon (the far shore, in a water scene), and
 * in a land scene a few large ones in the foreground at the sides, clear of the middle where the
 * eye goes. A conifer is drawn in tiers: its half-width grows down each tier, then steps in.
 */

interface Tree {
  readonly x: number;
  readonly baseY: number;
  readonly height: number;
  readonly width: number;
  readonly tiers: number;
  readonly round: boolean;
}

/** A line of small trees in clumps along the horizon (a water scene mirrors it). */
export function paintTreeLine(frame: Frame, random: Random): void {
  const { canvas, horizonRow, unit } = frame;
  const between = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const round = roundShare(frame);
  const trees: Tree[] = [];
  const clumps = 2 + Math.floor(random() * 3);
  for (let c = 0; c < clumps; c += 1) {
    const centre = random() * canvas.width;
    const spread = between(0.15, 0.35) * canvas.width;
    const count = Math.round((spread / unit) * 60);
    for (let k = 0; k < count; k += 1) {
      const height = unit * between(0.025, 0.065);
      trees.push({
        x: centre + (random() - 0.5) * spread,
        baseY: horizonRow + 1 + random() * unit * 0.006,
        height,
        width: height * between(0.35, 0.5),
        tiers: 3,
        round: random() < round,
      });
    }
  }
  paintAll(frame, trees);
}

/** A few large trees at the sides of the foreground, clear of the middle where the eye goes. */
export function paintForegroundTrees(frame: Frame, random: Random): void {
  const { scene, canvas, horizonRow, unit, layout } = frame;
  const between = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const round = roundShare(frame);
  const trees: Tree[] = [];
  if (scene.water === null) {
    const count = 2 + Math.floor(random() * 3);
    for (let k = 0; k < count; k += 1) {
      const side = k % 2 === 0 ? between(0, 0.2) : between(0.8, 1);
      const t = between(0.3, 0.85);
      const baseY = horizonRow + (canvas.height - horizonRow) * t;
      const height = unit * (0.18 + 0.35 * t);
      const isRound = random() < round;
      trees.push({
        x: side * canvas.width,
        baseY,
        height,
        width: height * (isRound ? between(0.6, 0.75) : between(0.38, 0.5)),
        tiers: 4 + Math.floor(random() * 3),
        round: isRound,
      });
    }
  } else if (layout.shore !== null) {
    for (let k = 0; k < 3; k += 1) {
      const height = unit * between(0.2, 0.32);
      const x = (k === 1 ? between(0.85, 1) : between(0, 0.15)) * canvas.width;
      trees.push({ x, baseY: layout.shore * canvas.height + unit * 0.05, height, width: height * 0.42, tiers: 5, round: random() < round });
    }
  }
  paintAll(frame, trees);
}

/** Conifers in snow, mountains and by water; elsewhere about half the trees are round. */
function roundShare(frame: Frame): number {
  const { scene } = frame;
  return scene.ground === 'snow' || scene.mountains || scene.water !== null ? 0 : 0.5;
}

function paintAll(frame: Frame, trees: Tree[]): void {
  // Far trees first, so nearer ones overlap them.
  trees.sort((a, b) => a.baseY - b.baseY);
  for (const tree of trees) paintTree(frame, tree);
}

function paintTree(frame: Frame, tree: Tree): void {
  const { canvas, palette, layout } = frame;
  const { data, width, height, channels } = canvas;
  const [fr, fg, fb] = palette.colour.foliage;
  const [lr, lg, lb] = palette.colour.light;
  const litOnLeft = layout.sunX < 0.5;
  const top = tree.baseY - tree.height;
  const trunkHeight = tree.height * (tree.round ? 0.3 : 0.12);
  const crownBottom = tree.baseY - trunkHeight;
  const trunkHalf = Math.max(0.5, tree.width * (tree.round ? 0.06 : 0.07));
  const y0 = Math.max(0, Math.floor(top));
  const y1 = Math.min(height - 1, Math.ceil(tree.baseY));
  const radius = tree.width / 2;
  // A round crown fills the height above the trunk and hangs a little over its top.
  const crownRy = (crownBottom - top) / 2 + tree.height * 0.04;
  const crownCy = top + crownRy;
  for (let y = y0; y <= y1; y += 1) {
    const py = y + 0.5;
    let crownHalf = 0;
    if (tree.round) {
      const dy = (py - crownCy) / crownRy;
      crownHalf = dy * dy < 1 ? radius * Math.sqrt(1 - dy * dy) : 0;
    } else if (py <= crownBottom) {
      const t = (py - top) / (crownBottom - top);
      const tier = (t * tree.tiers) % 1;
      crownHalf = radius * t * (0.65 + 0.35 * tier);
    }
    const trunk = crownHalf < trunkHalf && py > crownBottom - trunkHeight * 0.5;
    const half = trunk ? trunkHalf : crownHalf;
    if (half <= 0) continue;
    const x0 = Math.max(0, Math.floor(tree.x - half));
    const x1 = Math.min(width - 1, Math.ceil(tree.x + half));
    for (let x = x0; x <= x1; x += 1) {
      const px = x + 0.5;
      const cover = Math.min(1, Math.max(0, half - Math.abs(px - tree.x) + 0.5));
      if (cover <= 0) continue;
      // The sun's side of a tree catches some of its light.
      const sunSide = px < tree.x === litOnLeft ? 0.22 : 0;
      let r = trunk ? fr * 0.6 + 20 : fr;
      let g = trunk ? fg * 0.5 + 10 : fg;
      let b = trunk ? fb * 0.5 : fb;
      r += (lr * 0.55 - r) * sunSide;
      g += (lg * 0.55 - g) * sunSide;
      b += (lb * 0.55 - b) * sunSide;
      const i = (y * width + x) * channels;
      data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * cover;
      data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * cover;
      data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * cover;
      if (channels === 4) data[i + 3] = Math.max(data[i + 3] ?? 0, cover * 255);
    }
  }
}
