import type { ModelSpec } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import type { ProviderAdapter } from '../types.ts';
import { type BflOptions, BflOptionsSchema } from './options.ts';
import { wireSizeFor } from './sizes.ts';
import { runTask } from './task.ts';
import { taskBody } from './wire.ts';

/**
 * Black Forest Labs' FLUX API (provider notes §4). `baseUrl` defaults to the global endpoint
 * `https://api.bfl.ai/v1` (regional: `https://api.eu.bfl.ai/v1`, `https://api.us.bfl.ai/v1`);
 * `models` maps a catalog model to the endpoint name (`flux-pro-1.1`, `flux-kontext-max`, …).
 * Every call is one asynchronous task (task.ts) that makes one image: `n` is fanned out by the
 * router, as no BFL endpoint takes a count.
 */
export const bflProvider: ProviderAdapter<BflOptions> = {
  id: 'bfl',
  defaultBaseUrl: 'https://api.bfl.ai/v1',
  optionsSchema: BflOptionsSchema,
  // FLUX models are served here whoever else carries them (Replicate, fal have flux-dev too).
  serves: (model: ModelSpec) => model.ownedBy === 'black-forest-labs' || `BFL serves Black Forest Labs' FLUX models; ${model.id} is owned by ${model.ownedBy}`,
  maxImagesPerCall: () => 1,

  async generate(request, call) {
    const size = wireSizeFor(request, call.upstreamModel);
    return runTask(call, taskBody(request, call.upstreamModel, call.options, size), size, request.size, request.outputFormat);
  },

  /**
   * Kontext (and FLUX.2) edit by instruction: the first image goes in `input_image`, references in
   * `input_image_2` …. They take no mask, and painting over the whole picture where the client
   * asked for a masked edit would break OpenAI's promise, so a mask is refused.
   */
  async edit(request, call) {
    if (request.mask !== null) {
      throw new GatewayError(
        'unsupported_parameter',
        `'mask' is not supported by ${request.model.id}: it edits the whole image by instruction; send the edit without a mask.`,
        {
          param: 'mask',
        },
      );
    }
    const size = wireSizeFor(request, call.upstreamModel);
    return runTask(call, taskBody(request, call.upstreamModel, call.options, size, request.images), size, request.size, request.outputFormat);
  },
};
