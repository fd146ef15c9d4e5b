import type { Canvas } from './canvas.ts';
import type { Layout } from './layout.ts';
import type { Palette } from './palette.ts';
import type { Scene } from './scene.ts';

/** Everything the painters of one image share. */
export interface Frame {
  readonly canvas: Canvas;
  readonly scene: Scene;
  readonly palette: Palette;
  readonly layout: Layout;
  /**
   * 0–1: how much fine detail to add (grain, extra ripples, more stars). It follows the internal
   * resolution, which follows `quality`: detail finer than a pixel of the canvas would be lost.
   */
  readonly detail: number;
  /** The image's seed, for stateless per-pixel hashes. */
  readonly seed: number;
  /** The short side of the canvas in pixels: sizes are given in these units. */
  readonly unit: number;
  /** The first row below the sky. */
  readonly horizonRow: number;
}
