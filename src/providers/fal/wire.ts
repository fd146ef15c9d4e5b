import { z } from 'zod';
import type { Dimensions } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { encodeDataUrl } from '../shared/data-url.ts';

/**
 * fal's named `image_size` presets (fal.ai/docs/model-api-reference/image-generation-api/flux-dev,
 * provider notes §10.1). A size that is one of them is sent by name, as fal's own playground does;
 * any other goes as `{width, height}`, which the same field takes.
 */
const NAMED_SIZES: ReadonlyMap<string, string> = new Map([
  ['1024x1024', 'square_hd'],
  ['512x512', 'square'],
  ['768x1024', 'portrait_4_3'],
  ['576x1024', 'portrait_16_9'],
  ['1024x768', 'landscape_4_3'],
  ['1024x576', 'landscape_16_9'],
]);

/** `image_size` for a pixel size: a preset name or `{width, height}`. */
export function imageSize(size: Dimensions): string | { width: number; height: number } {
  return NAMED_SIZES.get(`${size.width}x${size.height}`) ?? { width: size.width, height: size.height };
}

/** fal's FLUX endpoints encode `jpeg` or `png` (`output_format`); webp is transcoded by the gateway from png. */
export function wireFormat(outputFormat: string): 'png' | 'jpeg' {
  return outputFormat === 'jpeg' ? 'jpeg' : 'png';
}

/**
 * The JSON input of `POST {baseUrl}/{endpoint_id}`: only what fal's image endpoints take
 * (flux-dev input schema, provider notes §7). Models with an aspect-ratio rule (FLUX Ultra,
 * Kontext on fal) get `aspect_ratio`, the others `image_size`. `enable_safety_checker` is fal's
 * default, sent anyway: the refusal handling below relies on fal flagging what it blocks.
 * Edit inputs go as data URIs, which fal takes wherever it takes an image URL.
 */
export function queueInput(
  request: Pick<ImageParams, 'prompt' | 'n' | 'size' | 'aspect' | 'seed' | 'outputFormat' | 'negativePrompt'>,
  images: readonly InputImage[] = [],
): Record<string, unknown> {
  const input: Record<string, unknown> = { prompt: request.prompt, num_images: request.n };
  if (request.aspect !== null) input['aspect_ratio'] = request.aspect.ratio;
  else input['image_size'] = imageSize(request.size);
  if (request.seed !== null) input['seed'] = request.seed;
  if (request.negativePrompt !== null) input['negative_prompt'] = request.negativePrompt;
  input['output_format'] = wireFormat(request.outputFormat);
  input['enable_safety_checker'] = true;
  const urls = images.map((image) => encodeDataUrl(image.bytes, `image/${image.format}`));
  if (urls.length === 1) input['image_url'] = urls[0];
  else if (urls.length > 1) input['image_urls'] = urls;
  return input;
}

/** The queue's answer to a submit: `{request_id, response_url, status_url, cancel_url, queue_position, status}`. */
export const SubmitAnswerSchema = z.looseObject({
  request_id: z.string().min(1),
  status_url: z.string().min(1),
  response_url: z.string().min(1),
  cancel_url: z.string().min(1).nullish(),
});

/**
 * `GET status_url`: `{status: IN_QUEUE|IN_PROGRESS|COMPLETED, queue_position?, logs?, metrics?}`
 * (docs.fal.ai/documentation/model-apis/inference/queue). A request that failed for good is
 * COMPLETED too, with `error` and `error_type` (docs.fal.ai request-errors); read as strings so a
 * word fal adds later is reported, not a parse failure.
 */
export const StatusAnswerSchema = z.looseObject({
  status: z.string(),
  queue_position: z.number().nullish(),
  error: z.string().nullish(),
  error_type: z.string().nullish(),
});

/**
 * `GET response_url` of an image endpoint: `{images: [{url, width, height, content_type}],
 * has_nsfw_concepts: [bool…], seed, prompt, timings}` (flux-dev output schema). `url` is a CDN link
 * or, in sync mode, a data URI (provider notes §11).
 */
export const ResultAnswerSchema = z.looseObject({
  images: z.array(
    z.looseObject({
      url: z.string().min(1),
      width: z.number().int().positive().nullish(),
      height: z.number().int().positive().nullish(),
      content_type: z.string().nullish(),
    }),
  ),
  has_nsfw_concepts: z.array(z.boolean()).nullish(),
  seed: z.number().nullish(),
});
export type ResultAnswer = z.infer<typeof ResultAnswerSchema>;
