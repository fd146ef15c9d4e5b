import type { GenerationRequest } from '../../contract/generation-request.ts';
import { encodeCanvas } from './encode.ts';
import { createLayout } from './layout.ts';
import { paintScene } from './paint.ts';
import { buildPalette } from './palette.ts';
import type { Palette } from './palette.ts';
import { imageSeed, mulberry32 } from './prng.ts';
import { renderScale } from './quality.ts';
import { describeScene } from './scene.ts';
import type { Scene } from './scene.ts';

/** What every image of one request shares: read from the prompt and style once. */
export interface RenderPlan {
  readonly request: GenerationRequest;
  readonly scene: Scene;
  readonly palette: Palette;
  /** The canvas size painted before enlarging to `request.size`. */
  readonly canvasWidth: number;
  readonly canvasHeight: number;
  readonly detail: number;
}

/** Smallest canvas side: below this the composition's shapes lose their form. */
const MIN_CANVAS_SIDE_PX = 16;

export function planRender(request: GenerationRequest): RenderPlan {
  const scene = describeScene(request.prompt);
  const scale = renderScale(request.quality);
  return {
    request,
    scene,
    palette: buildPalette(scene, request.style),
    canvasWidth: Math.max(MIN_CANVAS_SIDE_PX, Math.round(request.size.width * scale)),
    canvasHeight: Math.max(MIN_CANVAS_SIDE_PX, Math.round(request.size.height * scale)),
    detail: scale,
  };
}

/**
 * Paints image `index` of a request and encodes it as the request asks. The painting runs
 * synchronously (it is short); the returned promise is libvips enlarging and encoding it on the
 * thread pool, so the next image can be painted meanwhile.
 */
export function renderImage(plan: RenderPlan, index: number): Promise<Buffer> {
  const { request, scene } = plan;
  const seed = imageSeed(request.prompt, request.seed, index);
  const canvas = paintScene({
    width: plan.canvasWidth,
    height: plan.canvasHeight,
    scene,
    palette: plan.palette,
    layout: createLayout(scene, mulberry32(seed)),
    seed,
    detail: plan.detail,
    transparentSky: request.background === 'transparent' && request.outputFormat !== 'jpeg',
  });
  return encodeCanvas(canvas, request.size, request.outputFormat, request.outputCompression);
}
