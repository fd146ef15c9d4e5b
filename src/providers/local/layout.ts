import type { Random } from './prng.ts';
import type { Scene } from './scene.ts';

/*
 * Where things go in one image, as fractions of the picture, so a composition is the same at
 * every quality (every internal resolution). Drawn from the image's own generator: the `n`
 * images of one request place the sun, the boat and the clouds differently.
 */

export interface BoatPlacement {
  /** Centre, as a fraction of the width. */
  readonly x: number;
  /** The waterline, as a fraction of the height. */
  readonly waterline: number;
  /** Hull length, as a fraction of the picture's short side. */
  readonly length: number;
  /** 1: bow to the right; -1: to the left. */
  readonly facing: 1 | -1;
}

export interface Layout {
  /** Where the sky meets the land or water, as a fraction of the height. */
  readonly horizon: number;
  /** Where water gives way to a foreground shore (water scenes with ground), or null. */
  readonly shore: number | null;
  /** The sun (or moon at night): centre as fractions of width and height, radius of the short side. */
  readonly sunX: number;
  readonly sunY: number;
  readonly sunRadius: number;
  /** Moon phase: how far the shadow disc is shifted off the moon, in radii (0.35: a thin crescent … 2: full). */
  readonly moonShadowOffset: number;
  readonly boat: BoatPlacement | null;
}

export function createLayout(scene: Scene, random: Random): Layout {
  const between = (lo: number, hi: number): number => lo + (hi - lo) * random();
  const horizon = scene.water !== null ? between(0.54, 0.6) : scene.mountains ? between(0.62, 0.68) : between(0.58, 0.66);
  const shore = scene.water !== null && scene.ground !== null ? between(0.84, 0.9) : null;

  let sunX: number;
  let sunY: number;
  let sunRadius: number;
  switch (scene.timeOfDay) {
    case 'sunrise':
    case 'sunset':
      // A low sun, its lower edge near the horizon: the look that says "sunrise".
      sunX = between(0.3, 0.7);
      sunY = horizon - between(0.05, 0.09);
      sunRadius = between(0.045, 0.06);
      break;
    case 'day':
      sunX = between(0.15, 0.85);
      sunY = between(0.1, 0.2);
      sunRadius = between(0.035, 0.045);
      break;
    case 'night':
      sunX = between(0.15, 0.85);
      sunY = between(0.1, 0.25);
      sunRadius = between(0.03, 0.04);
      break;
  }

  let boat: BoatPlacement | null = null;
  if (scene.boat !== null && scene.water !== null) {
    const bottom = shore ?? 1;
    boat = {
      x: between(0.3, 0.7),
      waterline: horizon + (bottom - horizon) * between(0.42, 0.6),
      length: scene.boat === 'paper' ? between(0.28, 0.34) : between(0.22, 0.3),
      facing: random() < 0.5 ? 1 : -1,
    };
  }
  return { horizon, shore, sunX, sunY, sunRadius, moonShadowOffset: between(0.35, 2), boat };
}
