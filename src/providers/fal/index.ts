import { GatewayError } from '../../errors.ts';
import type { ProviderAdapter } from '../types.ts';
import { type FalOptions, FalOptionsSchema } from './options.ts';
import { runQueueRequest } from './queue.ts';
import { queueInput, wireFormat } from './wire.ts';

/**
 * fal.ai's queue API (provider notes §7, §11). `baseUrl` defaults to `https://queue.fal.run`;
 * `models` maps a catalog model to a fal endpoint id (`flux-dev: fal-ai/flux/dev`,
 * `flux-schnell: fal-ai/flux/schnell`). fal is an aggregator: a channel may list any catalog
 * model, and the operator names the endpoint that runs it. Every call is one queued request
 * (queue.ts) for up to `maxImagesPerCall` images (`num_images`); the router fans out above it.
 */
export const falProvider: ProviderAdapter<FalOptions> = {
  id: 'fal',
  defaultBaseUrl: 'https://queue.fal.run',
  optionsSchema: FalOptionsSchema,
  serves: () => true,
  maxImagesPerCall: (model, options) => Math.min(model.maxN, options.maxImagesPerCall, model.providerLimits['fal']?.maxImagesPerCall ?? Infinity),

  async generate(request, call) {
    return runQueueRequest(call, queueInput(request), { size: request.size, n: request.n, mime: `image/${wireFormat(request.outputFormat)}` });
  },

  /**
   * Image-to-image endpoints (FLUX Kontext on fal: `fal-ai/flux-pro/kontext` takes `image_url`,
   * `…/kontext/multi` takes `image_urls`) edit by instruction; none takes a mask, and painting over
   * the whole picture where the client asked for a masked edit would break OpenAI's promise, so a
   * mask is refused. Only models whose catalog row has edit rules reach this.
   */
  async edit(request, call) {
    if (request.mask !== null) {
      throw new GatewayError(
        'unsupported_parameter',
        `'mask' is not supported by ${request.model.id} on fal: it edits the whole image by instruction; send the edit without a mask.`,
        {
          param: 'mask',
        },
      );
    }
    return runQueueRequest(call, queueInput(request, request.images), { size: request.size, n: request.n, mime: `image/${wireFormat(request.outputFormat)}` });
  },
};
