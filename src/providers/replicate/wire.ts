import { z } from 'zod';
import { type Dimensions, nearestAspect, type SizeRule } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import type { InputImage } from '../../contract/input-image.ts';
import { mimeOf } from '../../media/sniff.ts';
import { encodeDataUrl } from '../shared/data-url.ts';
import type { ModelInputProfile } from './model-inputs.ts';

/** The size as sent: the input fields, and the pixels when the gateway chose them. */
export interface WireSize {
  readonly input: Record<string, string | number>;
  /** Set for `custom`/`width_height` models: what the model is told to draw. */
  readonly pixels: Dimensions | null;
}

/**
 * The size fields of a prediction's `input`. Aspect-ratio models get the request's own ratio when
 * it named one the model takes, else the nearest to its pixel size; pixel models get the size
 * snapped onto their grid and edge limits (Replicate answers 422 off the grid rather than round).
 */
export function wireSize(request: Pick<ImageParams, 'size' | 'aspect'>, profile: ModelInputProfile): WireSize {
  if (profile.size === 'aspect_ratio') {
    const asked = request.aspect?.ratio;
    if (asked !== undefined && profile.aspectRatios.includes(asked)) return { input: { aspect_ratio: asked }, pixels: null };
    const rule: Extract<SizeRule, { kind: 'aspect' }> = {
      kind: 'aspect',
      ratios: profile.aspectRatios,
      tiers: { '1MP': 1024 },
      defaultRatio: profile.aspectRatios.includes('1:1') ? '1:1' : (profile.aspectRatios[0] ?? '1:1'),
      defaultTier: '1MP',
      multipleOf: 16,
    };
    return { input: { aspect_ratio: nearestAspect(rule, request.size).ratio }, pixels: null };
  }
  const pixels = snap(request.size, profile);
  const input: Record<string, string | number> = { width: pixels.width, height: pixels.height };
  return { input: profile.size === 'custom' ? { aspect_ratio: 'custom', ...input } : input, pixels };
}

/** Scales `size` into the model's edges (ratio kept), then rounds each edge to its grid. */
function snap(size: Dimensions, profile: ModelInputProfile): Dimensions {
  const step = profile.multipleOfPx;
  const long = Math.max(size.width, size.height);
  const short = Math.min(size.width, size.height);
  const scale = Math.min(Math.max(1, profile.minEdgePx / short), profile.maxEdgePx / long);
  const lowest = Math.ceil(profile.minEdgePx / step) * step;
  const highest = Math.max(lowest, Math.floor(profile.maxEdgePx / step) * step);
  const edge = (px: number): number => Math.min(highest, Math.max(lowest, Math.round((px * scale) / step) * step));
  return { width: edge(size.width), height: edge(size.height) };
}

/**
 * The `input` of one prediction: only what the model's profile says it takes. `count` images
 * (`num_outputs`, sent only to models that make more than one), `seed` as given (the caller
 * offsets it per prediction), `output_format` in the model's own spelling (`jpg`), or none when
 * the model lacks the format asked (the gateway transcodes what it gets).
 */
export function predictionInput(
  request: Pick<ImageParams, 'prompt' | 'negativePrompt' | 'outputFormat'>,
  profile: ModelInputProfile,
  size: WireSize,
  count: number,
  seed: number | null,
  image: InputImage | null = null,
): Record<string, unknown> {
  const input: Record<string, unknown> = { ...profile.fixedInput, prompt: request.prompt };
  if (image !== null && profile.imageInput !== null) {
    input[profile.imageInput] = encodeDataUrl(image.bytes, mimeOf(image.format));
    if (profile.editAspectRatio !== null) input['aspect_ratio'] = profile.editAspectRatio;
    else Object.assign(input, size.input);
  } else {
    Object.assign(input, size.input);
  }
  if (profile.maxOutputs > 1) input['num_outputs'] = count;
  const format = profile.outputFormats[request.outputFormat] ?? profile.outputFormats.png;
  if (format !== undefined) input['output_format'] = format;
  if (profile.seed && seed !== null) input['seed'] = seed;
  if (profile.negativePrompt && request.negativePrompt !== null) input['negative_prompt'] = request.negativePrompt;
  return input;
}

/** Prediction statuses (replicate-javascript index.d.ts `Status`; `aborted` when Cancel-After struck before it started). */
export const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

/**
 * The prediction object (HTTP API reference, "Get a prediction"): `output` is model-specific, a
 * URI, a list of URIs, or null while running; `error` a string (or, rarely, an object) on failure.
 * `urls.get` and `urls.cancel` name where to poll and cancel.
 */
export const PredictionSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string().min(1),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  urls: z
    .looseObject({
      get: z.string().min(1).optional(),
      cancel: z.string().min(1).optional(),
    })
    .nullish(),
  metrics: z.looseObject({ predict_time: z.number().nullish() }).nullish(),
});

export type Prediction = z.infer<typeof PredictionSchema>;

/** A succeeded prediction's output: one URI or data URI, or a list of them. */
export const OutputSchema = z.union([
  z
    .string()
    .min(1)
    .transform((uri) => [uri]),
  z.array(z.string().min(1)).min(1),
]);
