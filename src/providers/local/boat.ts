import { convexShape, convexSpan, fillConvex } from './canvas.ts';
import type { Rgb } from './colour.ts';
import { mix, scale } from './colour.ts';
import type { Frame } from './frame.ts';
import type { BoatPlacement } from './layout.ts';

/*
 * A boat on the water, seen from the side: an origami paper boat (a trapezoid hull with a
 * folded brim and a triangular sail creased down the middle, one face towards the light and
 * one away) or a sailboat (hull, mast, mainsail and jib). Under it: a dark contact line, faint
 * rings spreading on the water, and a rippled reflection.
 *
 * Shapes are convex polygons in boat units: u along the hull (−0.5 stern … 0.5 bow when facing
 * right), v up from the waterline, both in hull lengths.
 */

interface Part {
  readonly points: readonly number[];
  readonly colour: Rgb;
}

function paperBoat(frame: Frame, sunOnLeft: boolean): Part[] {
  const { paper, paperShade } = frame.palette.colour;
  const lit = mix(paper, frame.palette.colour.light, 0.12);
  const shade = paperShade;
  const [litSide, shadeSide] = sunOnLeft ? [lit, shade] : [shade, lit];
  return [
    // Hull below the brim, then the brim: the fold catches more light than the side under it.
    { points: [-0.44, 0.13, 0.44, 0.13, 0.3, 0, -0.3, 0], colour: mix(lit, shade, 0.45) },
    { points: [-0.5, 0.2, 0.5, 0.2, 0.44, 0.13, -0.44, 0.13], colour: mix(lit, shade, 0.15) },
    // The pocket under the sail, folded into the hull.
    { points: [-0.22, 0.2, 0.22, 0.2, 0, 0.04], colour: mix(lit, shade, 0.62) },
    // The sail, creased down the middle.
    { points: [-0.22, 0.2, 0, 0.2, 0, 0.62], colour: litSide },
    { points: [0, 0.2, 0.22, 0.2, 0, 0.62], colour: shadeSide },
  ];
}

function sailBoat(frame: Frame, sunOnLeft: boolean): Part[] {
  const { sail, hull } = frame.palette.colour;
  const shade = scale(sail, 0.78);
  return [
    { points: [-0.46, 0.12, 0.5, 0.14, 0.36, 0, -0.38, 0], colour: hull },
    { points: [-0.46, 0.14, 0.5, 0.16, 0.49, 0.12, -0.46, 0.11], colour: mix(hull, sail, 0.7) },
    { points: [-0.012, 0.13, 0.012, 0.13, 0.012, 0.96, -0.012, 0.96], colour: scale(hull, 0.7) },
    { points: [0.03, 0.18, 0.03, 0.93, 0.44, 0.19], colour: sunOnLeft ? shade : sail },
    { points: [-0.03, 0.86, -0.03, 0.19, -0.42, 0.17], colour: sunOnLeft ? sail : shade },
  ];
}

export function paintBoat(frame: Frame): void {
  const placement = frame.layout.boat;
  const kind = frame.scene.boat;
  if (placement === null || kind === null) return;
  const { canvas, unit, layout } = frame;
  const length = placement.length * unit;
  const cx = placement.x * canvas.width;
  const waterline = placement.waterline * canvas.height;
  const sunOnLeft = layout.sunX < placement.x;
  // Parts are drawn facing right; a boat facing left is mirrored, and so is its lit side.
  const parts =
    kind === 'paper' ? paperBoat(frame, placement.facing === 1 ? sunOnLeft : !sunOnLeft) : sailBoat(frame, placement.facing === 1 ? sunOnLeft : !sunOnLeft);
  const toCanvas = (points: readonly number[]): number[] =>
    points.map((value, k) => (k % 2 === 0 ? cx + value * length * placement.facing : waterline - value * length));

  paintRings(frame, placement, length);
  paintReflection(frame, placement, parts, length);
  for (const part of parts) fillConvex(canvas, toCanvas(part.points), part.colour);
  // Where hull meets water: a thin dark line grounds the boat.
  const contact = scale(frame.palette.colour.water, 0.6);
  const lip = Math.max(0.6, length * 0.012) / length;
  fillConvex(canvas, toCanvas([-0.31, lip, 0.31, lip, 0.3, -lip, -0.3, -lip]), contact, 0.7);
}

/** Rippled, darkened mirror image of the boat under its waterline. */
function paintReflection(frame: Frame, placement: BoatPlacement, parts: readonly Part[], length: number): void {
  const { canvas, unit } = frame;
  const { data, width, height, channels } = canvas;
  const cx = placement.x * width;
  const waterline = placement.waterline * height;
  const y0 = Math.max(0, Math.floor(waterline));
  const y1 = Math.min(height - 1, Math.ceil(waterline + length * REFLECTION_DEPTH));
  const waterColour = frame.palette.colour.water;
  const wobble = unit * 0.004;
  // Later parts are drawn over earlier ones, as on the boat itself.
  const shapes = parts.map((part) => ({ shape: convexShape(part.points), colour: mix(scale(part.colour, 0.8), waterColour, 0.25) }));
  const span = new Float64Array(2);
  for (let y = y0; y <= y1; y += 1) {
    // Mirrored: a point `v` above the waterline shows `v` below it.
    const v = (y + 0.5 - waterline) / length;
    const fade = 0.7 * (1 - v / REFLECTION_DEPTH);
    if (fade <= 0) continue;
    const shift = wobble * (1 + v * 8) * Math.sin(y * 0.9 + v * 30);
    for (const { shape, colour } of shapes) {
      if (!convexSpan(shape, v, span)) continue;
      // Boat units to canvas columns (a boat facing left is mirrored).
      const ends = [cx + (span[0] ?? 0) * length * placement.facing - shift, cx + (span[1] ?? 0) * length * placement.facing - shift];
      const from = Math.max(0, Math.round(Math.min(ends[0] ?? 0, ends[1] ?? 0)));
      const to = Math.min(width - 1, Math.round(Math.max(ends[0] ?? 0, ends[1] ?? 0)) - 1);
      const [r, g, b] = colour;
      for (let x = from, i = (y * width + from) * channels; x <= to; x += 1, i += channels) {
        data[i] = (data[i] ?? 0) + (r - (data[i] ?? 0)) * fade;
        data[i + 1] = (data[i + 1] ?? 0) + (g - (data[i + 1] ?? 0)) * fade;
        data[i + 2] = (data[i + 2] ?? 0) + (b - (data[i + 2] ?? 0)) * fade;
      }
    }
  }
}

/** How far below the waterline the reflection reaches before fading out, in hull lengths. */
const REFLECTION_DEPTH = 0.7;

/** Two faint elliptical rings spreading from the hull. */
function paintRings(frame: Frame, placement: BoatPlacement, length: number): void {
  const { canvas } = frame;
  const { data, width, height, channels } = canvas;
  const cx = placement.x * width;
  const cy = placement.waterline * height + length * 0.01;
  const light = frame.palette.colour.light;
  const thickness = Math.max(0.6, length * 0.01);
  for (const [radius, strength] of [
    [0.62, 0.22],
    [0.85, 0.12],
  ] as const) {
    const a = radius * length;
    const b = a * 0.13;
    const y0 = Math.max(0, Math.floor(cy - b - 2));
    const y1 = Math.min(height - 1, Math.ceil(cy + b + 2));
    const x0 = Math.max(0, Math.floor(cx - a - 2));
    const x1 = Math.min(width - 1, Math.ceil(cx + a + 2));
    for (let y = y0; y <= y1; y += 1) {
      for (let x = x0; x <= x1; x += 1) {
        const dx = (x + 0.5 - cx) / a;
        const dy = (y + 0.5 - cy) / b;
        // Distance from the ellipse in pixels, roughly: the ring's thickness stays even.
        const q = Math.sqrt(dx * dx + dy * dy);
        const off = Math.abs(q - 1) * Math.min(a, b * 3);
        const k = strength * Math.max(0, 1 - off / thickness);
        if (k <= 0) continue;
        const i = (y * width + x) * channels;
        data[i] = (data[i] ?? 0) + (light[0] - (data[i] ?? 0)) * k;
        data[i + 1] = (data[i + 1] ?? 0) + (light[1] - (data[i + 1] ?? 0)) * k;
        data[i + 2] = (data[i + 2] ?? 0) + (light[2] - (data[i + 2] ?? 0)) * k;
      }
    }
  }
}
