import type { Dimensions } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { GatewayError } from '../../errors.ts';
import { imageDimensions } from '../../media/image-dimensions.ts';
import type { ProviderAdapter, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { profileFor } from './model-inputs.ts';
import { type ReplicateOptions, ReplicateOptionsSchema } from './options.ts';
import { runPrediction } from './prediction.ts';
import { predictionInput, wireSize } from './wire.ts';

/**
 * Most images one Replicate prediction makes: `num_outputs` tops out at 4 on the FLUX.1 models
 * (flux-schnell, flux-dev API schemas). The router cannot know the channel's upstream model when
 * it asks (maxImagesPerCall sees the catalog model and the options only), so it fans out above 4
 * and the adapter splits a part further for models that make fewer per prediction.
 */
const MAX_OUTPUTS = 4;

/**
 * Replicate (provider notes §6): every model has its own `input` schema, so what is sent comes
 * from a per-model profile (model-inputs.ts, overridable per channel). An aggregator: it serves
 * any catalog model the channel maps to a Replicate model (`flux-dev: black-forest-labs/flux-dev`).
 */
export const replicateProvider: ProviderAdapter<ReplicateOptions> = {
  id: 'replicate',
  defaultBaseUrl: 'https://api.replicate.com/v1',
  optionsSchema: ReplicateOptionsSchema,
  serves: () => true,
  maxImagesPerCall: (model) => Math.min(MAX_OUTPUTS, model.maxN),

  generate: (request, call) => run(request, call, null),

  /**
   * Models whose profile names an image input (Kontext's `input_image`) edit by instruction: the
   * first image goes as a data URI. They take no mask, and repainting the whole picture where the
   * client asked for a masked edit would break OpenAI's promise, so a mask is refused.
   */
  async edit(request, call) {
    const profile = profileFor(call.upstreamModel, call.options.modelInputs);
    if (profile.imageInput === null) {
      throw new GatewayError(
        'unsupported_parameter',
        `${request.model.id} on this Replicate channel (${call.upstreamModel}) does not take an input image; edits are not supported.`,
        {
          param: 'image',
        },
      );
    }
    if (request.mask !== null) {
      throw new GatewayError(
        'unsupported_parameter',
        `'mask' is not supported by ${request.model.id} on Replicate: it edits the whole image by instruction; send the edit without a mask.`,
        {
          param: 'mask',
        },
      );
    }
    if (request.images.length > 1) {
      // Kontext on Replicate takes one `input_image`: dropping references silently would answer
      // another edit than the one asked.
      throw new GatewayError('unsupported_parameter', `${request.model.id} on Replicate edits one image; send a single 'image'.`, { param: 'image' });
    }
    return run(request, call, request.images[0] ?? null);
  },
};

/**
 * `request.n` images in as few predictions as the model allows, run side by side. Each prediction
 * after the first gets the seed plus the number of images before it, as the router does for the
 * parts it fans out, so seeded images differ.
 */
async function run(request: ImageParams, call: ProviderCall<ReplicateOptions>, image: InputImage | null): Promise<ProviderResult> {
  const profile = profileFor(call.upstreamModel, call.options.modelInputs);
  const size = wireSize(request, profile);
  const counts: number[] = [];
  for (let left = request.n; left > 0; left -= profile.maxOutputs) counts.push(Math.min(left, profile.maxOutputs));
  // When one prediction fails, the others' pictures would be paid for and thrown away: they are
  // told to stop, which cancels them upstream (once their create call has answered).
  const siblings = new AbortController();
  const stop = counts.length === 1 ? undefined : siblings.signal;
  let offset = 0;
  const parts = counts.map((count) => {
    const seed = request.seed === null ? null : (request.seed + offset) % 2_147_483_648;
    offset += count;
    return runPrediction(call, predictionInput(request, profile, size, count, seed, image), count, stop);
  });
  let images: ProviderImage[];
  try {
    images = (await Promise.all(parts)).flat();
  } catch (err) {
    siblings.abort(err);
    // The first failure is the answer; the others end with the abort and are not waited for.
    for (const part of parts) part.catch(() => undefined);
    throw err;
  }
  const delivered = await deliveredSize(images, request.size);
  return { images, ...(delivered === null ? {} : { deliveredSize: delivered }) };
}

/**
 * Replicate does not say what it drew: aspect-ratio models pick their pixels (flux-dev's 16:9 is
 * 1344x768), so the first image's header is read. Reported only when it differs from the size
 * asked, so the media step keeps those pixels instead of stretching them.
 */
async function deliveredSize(images: readonly ProviderImage[], asked: Dimensions): Promise<Dimensions | null> {
  const first = images[0];
  if (first === undefined) return null;
  const size = await imageDimensions(first.bytes);
  if (size === null || (size.width === asked.width && size.height === asked.height)) return null;
  return size;
}
