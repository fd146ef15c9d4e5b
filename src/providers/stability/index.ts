import type { ModelSpec, OutputFormat } from '../../catalog/index.ts';
import type { EditRequest } from '../../contract/edit.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { transparentToWhiteMask } from '../../media/alpha-to-mask.ts';
import { mimeOf } from '../../media/sniff.ts';
import type { FormPart } from '../shared/multipart-form.ts';
import type { ProviderAdapter, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { type StabilityOptions, StabilityOptionsSchema } from './options.ts';
import { INPAINT, generateEndpoint, postForm, wireFormat } from './wire.ts';

/** Stability's largest seed (API reference: 0–4294967294, 0 meaning "random"). */
const MAX_SEED = 4_294_967_294;

const EXTENSIONS = { png: 'png', jpeg: 'jpg', webp: 'webp' } as const;

/**
 * Stability AI's v2beta Stable Image API (provider notes §5): every call is one multipart form
 * answered with one image, synchronously. `baseUrl` defaults to `https://api.stability.ai`;
 * `models` maps each catalog model to `ultra`, `core` or an SD 3.5 model name (`sd3.5-large` …,
 * sent to `/sd3` as `model`); `options.stylePreset` sets `style_preset`.
 *
 * Sizes become `aspect_ratio` (the catalog's aspect rule already picked the nearest of the nine);
 * the upstream chooses the pixels and the gateway reports what it measured. Edits go to Inpaint
 * with the OpenAI mask turned into the black-and-white mask Stability reads.
 */
export const stabilityProvider: ProviderAdapter<StabilityOptions> = {
  id: 'stability',
  defaultBaseUrl: 'https://api.stability.ai',
  optionsSchema: StabilityOptionsSchema,
  // Stability's own models; Amazon Bedrock serves the same rows through its own provider.
  serves: (model: ModelSpec) => model.ownedBy === 'stability' || `Stability serves its own models; ${model.id} is owned by ${model.ownedBy}`,
  // The API has no `n`: one image per call, and the router fans out the rest in parallel.
  maxImagesPerCall: () => 1,

  async generate(request, call) {
    const endpoint = generateEndpoint(call.upstreamModel);
    const format = wireFormat(endpoint, request.outputFormat);
    return eachImage(request, (seed) => {
      const parts: FormPart[] = [{ name: 'prompt', value: request.prompt }];
      if (endpoint.model !== null) parts.push({ name: 'model', value: endpoint.model });
      // The catalog's aspect rule resolved `size` to one of Stability's ratios.
      parts.push({ name: 'aspect_ratio', value: request.aspect?.ratio ?? ratioOf(request.model) }, ...commonParts(request, call, seed, format));
      return postForm(call, endpoint, parts, format);
    });
  },

  async edit(request, call) {
    const format = wireFormat(INPAINT, request.outputFormat);
    const image = request.images[0];
    if (image === undefined) throw new GatewayError('missing_required_parameter', "Missing required parameter: 'image'.", { param: 'image' });
    const mask = await inpaintMask(request);
    return eachImage(request, (seed) =>
      postForm(
        call,
        INPAINT,
        [
          { name: 'image', filename: `image.${EXTENSIONS[image.format]}`, contentType: mimeOf(image.format), bytes: image.bytes },
          { name: 'mask', filename: 'mask.png', contentType: 'image/png', bytes: mask },
          { name: 'prompt', value: request.prompt },
          ...commonParts(request, call, seed, format),
        ],
        format,
      ),
    );
  },
};

/** Fields every endpoint takes beside the prompt: output format, negative prompt, seed, style. */
function commonParts(request: ImageParams, call: ProviderCall<StabilityOptions>, seed: number | null, format: OutputFormat): FormPart[] {
  const parts: FormPart[] = [{ name: 'output_format', value: format }];
  if (request.negativePrompt !== null) parts.push({ name: 'negative_prompt', value: request.negativePrompt });
  if (seed !== null) parts.push({ name: 'seed', value: String(seed) });
  if (call.options.stylePreset !== undefined) parts.push({ name: 'style_preset', value: call.options.stylePreset });
  return parts;
}

/**
 * `request.n` calls in parallel (the router sends n = 1, but an adapter answers exactly `n`);
 * with a seed, image i gets seed + i so that they differ, as a batch would.
 */
async function eachImage(request: ImageParams, call: (seed: number | null) => Promise<ProviderImage>): Promise<ProviderResult> {
  const images = await Promise.all(Array.from({ length: request.n }, (_, i) => call(request.seed === null ? null : (request.seed + i) % (MAX_SEED + 1))));
  return { images };
}

function ratioOf(model: ModelSpec): string {
  return model.size.kind === 'aspect' ? model.size.defaultRatio : '1:1';
}

/**
 * The mask Inpaint reads: white where OpenAI's mask is fully transparent. Without a mask the
 * image's own transparent pixels mark the area, as Stability (and dall-e-2) do. With nothing
 * transparent there is nothing to inpaint: refused before anything is paid for, since Stability
 * would charge for handing the picture back unchanged.
 */
async function inpaintMask(request: EditRequest): Promise<Buffer> {
  const source = request.mask ?? request.images[0];
  const mask = source === undefined ? null : await transparentToWhiteMask(source.bytes);
  if (mask !== null && mask.whitePixels > 0) return mask.png;
  const message =
    request.mask === null
      ? "Invalid value for 'mask': stability edits repaint where the mask is transparent; send a mask, or an image whose transparent pixels mark the area."
      : "Invalid file 'mask': it has no fully transparent pixel, so there is nothing to edit.";
  throw new GatewayError('invalid_value', message, { param: 'mask' });
}
