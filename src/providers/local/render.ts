import type { ImageParams } from '../../contract/generation-request.ts';
import { encodeCanvas } from './encode.ts';
import { createLayout } from './layout.ts';
import { paintScene } from './paint.ts';
import { buildPalette } from './palette.ts';
import type { Palette } from './palette.ts';
import { imageSeed, mulberry32 } from './prng.ts';
import { upscaleFactor } from './quality.ts';
import { describeScene } from './scene.ts';
import type { Scene } from './scene.ts';

/** What every image of one request shares: read from the prompt and style once. */
export interface RenderPlan {
  readonly request: ImageParams;
  readonly scene: Scene;
  readonly palette: Palette;
  /** The canvas painted, `factor` times smaller than `request.size` (rounded up). */
  readonly canvasWidth: number;
  readonly canvasHeight: number;
  readonly factor: number;
}

/** Smallest canvas side worth enlarging: below it the composition's shapes lose their form. */
const MIN_CANVAS_SIDE_PX = 64;

export function planRender(request: ImageParams): RenderPlan {
  const scene = describeScene(request.prompt);
  const { width, height } = request.size;
  let factor = upscaleFactor(request.quality);
  while (factor > 1 && Math.min(width, height) / factor < MIN_CANVAS_SIDE_PX) factor /= 2;
  return {
    request,
    scene,
    palette: buildPalette(scene, request.style),
    canvasWidth: Math.ceil(width / factor),
    canvasHeight: Math.ceil(height / factor),
    factor,
  };
}

/** Paints image `index` of a request and encodes it as the request asks. */
export async function renderImage(plan: RenderPlan, index: number): Promise<Buffer> {
  const { request, scene } = plan;
  const seed = imageSeed(request.prompt, request.seed, index);
  const canvas = await paintScene({
    width: plan.canvasWidth,
    height: plan.canvasHeight,
    scene,
    palette: plan.palette,
    layout: createLayout(scene, mulberry32(seed)),
    seed,
    detail: 1 / plan.factor,
    transparentSky: request.background === 'transparent' && request.outputFormat !== 'jpeg',
  });
  return encodeCanvas(canvas, plan.factor, request.size, request.outputFormat, request.outputCompression);
}
