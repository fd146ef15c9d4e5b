import type { ModelSpec } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import type { ProviderAdapter } from '../types.ts';
import { makeImages } from './images.ts';
import { type ArkOptions, ArkOptionsSchema } from './options.ts';
import { MAX_PICTURES_PER_REQUEST } from './wire.ts';

/**
 * ByteDance's Seedream models through Volcengine Ark (火山方舟): one synchronous
 * `POST {baseUrl}/images/generations` with a Bearer API key (image generation API reference,
 * docs/82379/1541523). `models` maps a catalog id to Ark's model id (`doubao-seedream-4-5-251128`)
 * or to an inference endpoint id (`ep-…`), which Ark takes in the same `model` field.
 * BytePlus ModelArk (`https://ark.ap-southeast.bytepluses.com/api/v3`) speaks the same API.
 *
 * Edits send the images as references in `image`; Seedream has no mask, so a masked edit is
 * refused rather than redrawn everywhere.
 */
export const arkProvider: ProviderAdapter<ArkOptions> = {
  id: 'ark',
  defaultBaseUrl: 'https://ark.cn-beijing.volces.com/api/v3',
  optionsSchema: ArkOptionsSchema,
  serves: (model: ModelSpec) => model.ownedBy === 'bytedance' || `Ark serves ByteDance's Seedream models; ${model.id} is owned by ${model.ownedBy}`,

  // A set holds up to 15 pictures (`max_images` 1–15); with `disabled` every call draws one.
  maxImagesPerCall: (model, options) => (options.sequentialImageGeneration === 'disabled' ? 1 : Math.min(MAX_PICTURES_PER_REQUEST, model.maxN)),

  async generate(request, call) {
    return makeImages(request, [], call);
  },

  async edit(request, call) {
    if (request.mask !== null) {
      throw new GatewayError(
        'unsupported_parameter',
        `'mask' is not supported by ${request.model.id}: Seedream edits from reference images and the prompt alone; describe the change in the prompt and send no mask.`,
        { param: 'mask' },
      );
    }
    return makeImages(request, request.images, call);
  },
};
