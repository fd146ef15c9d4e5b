import sharp from 'sharp';
import { z } from 'zod';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { decodeBase64Image, parseJson, type UpstreamResponse } from '../shared/call-upstream.ts';
import { errorForStatus, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { Channel, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import type { Automatic1111Options } from './options.ts';

export const PROVIDER = 'automatic1111';

/**
 * The fields of a txt2img / img2img request the gateway sets (modules/api/models.py: the
 * pydantic model generated from StableDiffusionProcessingTxt2Img / Img2Img). Everything else
 * keeps the engine's default: `send_images` true, `save_images` false (so no grid image is
 * prepended to a batch), `n_iter` 1, no scripts.
 */
export function commonFields(request: ImageParams, call: ProviderCall<Automatic1111Options>): Record<string, unknown> {
  const { options } = call;
  const body: Record<string, unknown> = {
    prompt: request.prompt,
    width: request.size.width,
    height: request.size.height,
    // One batch of n: the images share a pass and get seeds seed, seed+1, … (`all_seeds` in info).
    batch_size: request.n,
    n_iter: 1,
    // The channel's model map names the checkpoint; the override is undone after the call
    // (`override_settings_restore_afterwards` defaults to true), so channels sharing a server
    // do not change each other's loaded model for good.
    override_settings: { sd_model_checkpoint: call.upstreamModel },
  };
  if (request.negativePrompt !== null) body['negative_prompt'] = request.negativePrompt;
  // Absent, A1111 draws a random seed (-1).
  if (request.seed !== null) body['seed'] = request.seed;
  if (options.steps !== undefined) body['steps'] = options.steps;
  if (options.samplerName !== undefined) body['sampler_name'] = options.samplerName;
  if (options.scheduler !== undefined) body['scheduler'] = options.scheduler;
  if (options.cfgScale !== undefined) body['cfg_scale'] = options.cfgScale;
  return body;
}

/**
 * The `Authorization` header for a server started with `--api-auth user:password` (api.py
 * `Api.auth`: HTTP basic, checked on every `/sdapi` route); none when the channel has no key.
 */
export function authHeaders(channel: Channel, options: Automatic1111Options): Record<string, string> {
  const key = channel.apiKey;
  if (options.username !== undefined) {
    return { authorization: `Basic ${Buffer.from(`${options.username}:${key ?? ''}`).toString('base64')}` };
  }
  if (key !== null && key.includes(':')) return { authorization: `Basic ${Buffer.from(key).toString('base64')}` };
  return {};
}

/**
 * TextToImageResponse / ImageToImageResponse (models.py): `images` as base64 without a `data:`
 * prefix, `parameters` echoing the request, `info` a JSON string (seed, all_seeds, width, height …).
 */
const AnswerSchema = z.looseObject({
  images: z.array(z.string()).nullish(),
  parameters: z.unknown().optional(),
  info: z.string().optional(),
});

/**
 * Every A1111 error goes through one handler (api.py `api_middleware`):
 * `{"error": "<exception class>", "detail": "...", "body": "...", "errors": "..."}` with the
 * HTTPException's status (401 "Incorrect username or password", 404 "Model not found" / "Sampler
 * not found", 422 script and FastAPI validation errors whose `detail` is a list, 500 otherwise,
 * e.g. `OutOfMemoryError`).
 */
const ErrorBodySchema = z.looseObject({
  error: z.string().optional(),
  detail: z.unknown().optional(),
  errors: z.string().optional(),
});

const ValidationIssueSchema = z.looseObject({ loc: z.array(z.union([z.string(), z.number()])).optional(), msg: z.string().optional() });

function errorDetail(status: number, text: string): { detail: string; exception: string | undefined } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { detail: `HTTP ${status}`, exception: undefined };
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (!parsed.success) return { detail: `HTTP ${status}`, exception: undefined };
  const { error, detail, errors } = parsed.data;
  if (typeof detail === 'string' && detail !== '') return { detail, exception: error };
  const issues = z.array(ValidationIssueSchema).safeParse(detail);
  if (issues.success && issues.data.length > 0) {
    return { detail: issues.data.map((issue) => `${(issue.loc ?? []).join('.')}: ${issue.msg ?? 'invalid'}`).join('; '), exception: error };
  }
  return { detail: errors !== undefined && errors !== '' ? errors : `HTTP ${status}`, exception: error };
}

/** An error answer as a GatewayError; 404 names the checkpoint or sampler the channel set. */
export function a1111Error(response: UpstreamResponse, call: ProviderCall<Automatic1111Options>): GatewayError {
  const { detail, exception } = errorDetail(response.status, response.text);
  call.logger.warn({ requestId: call.requestId, channel: call.channel.id, upstreamStatus: response.status, exception, detail }, 'upstream refused');
  if (response.status === 404) {
    return new GatewayError(
      'upstream_configuration_error',
      `The upstream provider (${PROVIDER}) does not have what the channel configured (${detail}); check the checkpoint name '${call.upstreamModel}' and the channel's samplerName.`,
    );
  }
  if (response.status === 422) return new GatewayError('invalid_value', `The upstream provider (${PROVIDER}) rejected the request: ${detail}`);
  return errorForStatus(PROVIDER, response.status, response.headers, detail);
}

/**
 * Reads a txt2img / img2img answer: the first `n` images (alwayson scripts such as ControlNet
 * append their detection maps after the batch), and the size the first one really has (hires fix
 * or a fork's own rounding may differ from the size asked).
 */
export async function readAnswer(response: UpstreamResponse, request: ImageParams, call: ProviderCall<Automatic1111Options>): Promise<ProviderResult> {
  if (response.status !== 200) throw a1111Error(response, call);
  const answer = parseWire(PROVIDER, AnswerSchema, parseJson(PROVIDER, response.text), 'the generation answer');
  const texts = answer.images ?? [];
  if (texts.length < request.n) {
    throw malformedResponse(PROVIDER, `the answer has ${texts.length} images where ${request.n} were asked`);
  }
  if (texts.length > request.n) call.logger.debug({ requestId: call.requestId, extra: texts.length - request.n }, 'extra images (script outputs) dropped');
  const images: ProviderImage[] = texts.slice(0, request.n).map((text) => ({ bytes: decodeBase64Image(PROVIDER, text), base64: text }));
  const first = images[0];
  if (first === undefined) return { images };
  let meta: sharp.Metadata;
  try {
    meta = await sharp(first.bytes).metadata();
  } catch (err) {
    throw malformedResponse(PROVIDER, 'an image is not a picture', err);
  }
  const { width, height } = meta;
  return { images, ...(width === undefined || height === undefined ? {} : { deliveredSize: { width, height } }) };
}

/**
 * ProgressResponse (models.py): `progress` 0–1, `eta_relative`, `state` (job, job_count,
 * sampling_step …), and `current_image`: the live preview as base64, null until the server has
 * one (it needs the `show_progress_every_n_steps` setting, on by default in the web UI).
 */
export const ProgressSchema = z.looseObject({
  progress: z.number(),
  eta_relative: z.number().optional(),
  state: z.looseObject({ sampling_step: z.number().optional(), sampling_steps: z.number().optional(), job_count: z.number().optional() }).optional(),
  current_image: z.string().nullish(),
  textinfo: z.string().nullish(),
});
export type Progress = z.infer<typeof ProgressSchema>;
