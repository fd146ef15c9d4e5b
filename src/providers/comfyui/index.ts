import { randomInt } from 'node:crypto';
import sharp from 'sharp';
import type { Dimensions } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import type { ProviderAdapter, ProviderImage } from '../types.ts';
import { type ComfyOptions, ComfyOptionsSchema, workflowFor } from './options.ts';
import { runPrompt } from './run-prompt.ts';
import { fillWorkflow } from './workflow.ts';

/**
 * EmptyLatentImage's grid (ComfyUI nodes.py): width and height in steps of 8 from 16 to
 * MAX_RESOLUTION (16384); the latent is a eighth of the pixels, so other sizes are rounded down.
 */
const LATENT_STEP_PX = 8;
const MIN_EDGE_PX = 16;
const MAX_EDGE_PX = 16_384;

/** KSampler's `seed` goes to 0xffffffffffffffff; the gateway's own seeds stay within 2^31. */
const MAX_RANDOM_SEED = 2 ** 31;

/**
 * A self-hosted ComfyUI server (e.g. `http://127.0.0.1:8188`, channels with `local: true`): the
 * channel's workflow (options.ts) is filled with the request's values and queued; progress comes
 * over the websocket, with the history as the fallback (run-prompt.ts). It serves any catalog
 * model: what a model is, is the operator's workflow and checkpoint (the channel's `models:` map a
 * model to the checkpoint put into `checkpoint`). `n` is the latent's batch size where the workflow
 * maps one; otherwise the router fans out one prompt per image.
 */
export const comfyuiProvider: ProviderAdapter<ComfyOptions> = {
  id: 'comfyui',
  optionsSchema: ComfyOptionsSchema,
  serves: () => true,
  maxImagesPerCall: (model, options) => (workflowFor(options, model.id).inputs.batchSize === null ? 1 : model.maxN),

  async generate(request, call) {
    const workflow = workflowFor(call.options, request.model.id);
    const { inputs } = workflow;
    if (request.negativePrompt !== null && inputs.negativePrompt === null) {
      throw new GatewayError('unsupported_parameter', `'negative_prompt' is not supported by this channel's workflow for ${request.model.id}.`, {
        param: 'negative_prompt',
      });
    }
    const size = latentSize(request.size);
    const graph = fillWorkflow(workflow, {
      prompt: request.prompt,
      negativePrompt: request.negativePrompt,
      // A fixed seed would make ComfyUI answer a repeated prompt from its cache with the same
      // picture: a request without one gets a fresh one.
      seed: request.seed ?? randomInt(0, MAX_RANDOM_SEED),
      width: size.width,
      height: size.height,
      batchSize: request.n,
      checkpoint: call.upstreamModel,
    });
    const images = await runPrompt(graph, request, request.n, call);
    const delivered = await deliveredSize(images, inputs.width === null || inputs.height === null ? null : size);
    const differs = delivered !== null && (delivered.width !== request.size.width || delivered.height !== request.size.height);
    return { images, ...(differs ? { deliveredSize: delivered } : {}) };
  },
};

/** The size EmptyLatentImage draws for a request: each edge rounded to its grid and range. */
export function latentSize(size: Dimensions): Dimensions {
  const edge = (px: number): number => Math.min(MAX_EDGE_PX, Math.max(MIN_EDGE_PX, Math.round(px / LATENT_STEP_PX) * LATENT_STEP_PX));
  return { width: edge(size.width), height: edge(size.height) };
}

/**
 * What ComfyUI drew: the first image's own header. The sent size is the expectation, but a
 * workflow may scale (an upscaler after the sampler) or fix its own size where no input is mapped.
 */
async function deliveredSize(images: readonly ProviderImage[], sent: Dimensions | null): Promise<Dimensions | null> {
  const first = images[0];
  if (first === undefined) return sent;
  try {
    const meta = await sharp(first.bytes).metadata();
    if (meta.width > 0 && meta.height > 0) return { width: meta.width, height: meta.height };
  } catch {
    // Not an image sharp reads: the media step refuses it with the proper error.
  }
  return sent;
}
