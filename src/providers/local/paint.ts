import { createCanvas } from './canvas.ts';
import type { Canvas } from './canvas.ts';
import { paintBoat } from './boat.ts';
import { paintCity } from './city.ts';
import { paintClouds } from './clouds.ts';
import { finish } from './finish.ts';
import type { Frame } from './frame.ts';
import { paintGround } from './ground.ts';
import type { Layout } from './layout.ts';
import { paintMountains } from './mountains.ts';
import type { Palette } from './palette.ts';
import { mix32, mulberry32 } from './prng.ts';
import type { Scene } from './scene.ts';
import { paintSky } from './sky.ts';
import { paintForegroundTrees, paintTreeLine } from './trees.ts';
import { paintWater } from './water.ts';

export interface PaintOptions {
  readonly width: number;
  readonly height: number;
  readonly scene: Scene;
  readonly palette: Palette;
  readonly layout: Layout;
  readonly seed: number;
  /** 0–1, see `Frame.detail`. */
  readonly detail: number;
  /** Paint RGBA with the sky at alpha 0, else RGB. */
  readonly transparentSky: boolean;
}

/**
 * Canvases this large (a 2-megapixel picture at high quality, or larger) take tens of
 * milliseconds per layer; painting them gives the event loop a turn between layers, so other
 * requests are not held up for the whole picture. Smaller canvases paint in one go: a yield
 * costs more than their layers.
 */
const YIELD_ABOVE_PIXELS = 1_000_000;

/**
 * Paints one picture, back to front: sky, clouds, what stands on the horizon, then the water
 * (which mirrors all of it), the ground, foreground trees, the boat, and a finishing pass. Each
 * layer draws from its own generator, so adding a cloud does not move the boat.
 */
export async function paintScene(options: PaintOptions): Promise<Canvas> {
  const canvas = createCanvas(options.width, options.height, options.transparentSky ? 4 : 3);
  const frame: Frame = {
    canvas,
    scene: options.scene,
    palette: options.palette,
    layout: options.layout,
    detail: options.detail,
    seed: options.seed,
    unit: Math.min(options.width, options.height),
    horizonRow: Math.max(1, Math.min(options.height - 1, Math.round(options.layout.horizon * options.height))),
  };
  const layer = (salt: number) => mulberry32(mix32(options.seed ^ salt));
  const { scene } = options;
  const large = options.width * options.height > YIELD_ABOVE_PIXELS;
  const steps: (() => void)[] = [() => paintSky(frame, layer(0x01)), () => paintClouds(frame, layer(0x02)), () => paintMountains(frame, layer(0x03))];
  if (scene.city) steps.push(() => paintCity(frame, layer(0x04)));
  if (scene.trees) steps.push(() => paintTreeLine(frame, layer(0x05)));
  steps.push(
    () => paintWater(frame, layer(0x06)),
    () => paintGround(frame, layer(0x07)),
  );
  if (scene.trees) steps.push(() => paintForegroundTrees(frame, layer(0x08)));
  steps.push(
    () => paintBoat(frame),
    () => finish(frame),
  );
  for (const step of steps) {
    step();
    if (large) await new Promise((resolve) => setImmediate(resolve));
  }
  return canvas;
}
