import { z } from 'zod';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import type { BflOptions } from './options.ts';
import type { WireSize } from './sizes.ts';

/** FLUX.2 endpoints take `safety_tolerance` 0–5 (Flux2Inputs), FLUX.1 ones 0–6. */
const FLUX_2 = /^flux-2-/;
/** FLUX.2 [flex] is the only FLUX.2 endpoint with `prompt_upsampling` (Flux2FlexInputs). */
const FLUX_2_UPSAMPLING = /^flux-2-flex/;

/**
 * The JSON body of `POST /v1/{model}`: only what the endpoint takes (BFL OpenAPI). `images` are
 * edit inputs, sent as base64 in `input_image`, `input_image_2` … (FluxKontextProInputs,
 * Flux2Inputs). No webhook: the gateway polls.
 */
export function taskBody(
  request: Pick<ImageParams, 'prompt' | 'seed' | 'outputFormat'>,
  upstreamModel: string,
  options: BflOptions,
  size: WireSize,
  images: readonly InputImage[] = [],
): Record<string, unknown> {
  const flux2 = FLUX_2.test(upstreamModel);
  const body: Record<string, unknown> = { prompt: request.prompt };
  if (size.kind === 'pixels') {
    body['width'] = size.width;
    body['height'] = size.height;
  } else {
    body['aspect_ratio'] = size.ratio;
  }
  if (request.seed !== null) body['seed'] = request.seed;
  body['output_format'] = request.outputFormat;
  body['safety_tolerance'] = flux2 ? Math.min(5, options.safetyTolerance) : options.safetyTolerance;
  if (!flux2 || FLUX_2_UPSAMPLING.test(upstreamModel)) body['prompt_upsampling'] = options.promptUpsampling;
  images.forEach((image, index) => {
    body[index === 0 ? 'input_image' : `input_image_${index + 1}`] = image.bytes.toString('base64');
  });
  return body;
}

/** AsyncResponse: `{id, polling_url, cost?, input_mp?, output_mp?}` (BFL OpenAPI). */
export const SubmitAnswerSchema = z.looseObject({
  id: z.string().min(1),
  polling_url: z.string().min(1),
  cost: z.number().nullish(),
});

/**
 * ResultResponse: `{id, status, result, progress, details, preview}`. `status` is one of "Task not
 * found", "Pending", "Request Moderated", "Content Moderated", "Ready", "Error" (StatusResponse);
 * read as a string so a word BFL adds later is reported, not a parse failure.
 */
export const ResultAnswerSchema = z.looseObject({
  id: z.string().nullish(),
  status: z.string(),
  result: z.unknown().optional(),
  progress: z.number().nullish(),
  details: z.record(z.string(), z.unknown()).nullish(),
});

/** A Ready task's `result`: `{sample: <signed URL, valid about 10 minutes>, prompt, seed, …}`. */
export const ReadyResultSchema = z.looseObject({
  sample: z.string().min(1),
  seed: z.number().nullish(),
});
