import { z } from 'zod';

/*
 * What each upstream model on Replicate takes as `input`: every model has its own schema (its API
 * page, replicate.com/{owner}/{name}/api/schema), so the adapter reads a small profile per model
 * instead of guessing. The built-in table below covers the FLUX models people run there; a channel
 * adds or overrides profiles with `options.modelInputs` (keyed by `owner/name`, the same keys).
 * A model found in neither gets DEFAULT_PROFILE, the shape most text-to-image models share.
 */

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

/** The `aspect_ratio` values of Replicate's FLUX.1 models (flux-schnell, flux-dev API schemas). */
const FLUX_RATIOS = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'];

const ProfileSchema = z.strictObject({
  /**
   * How the size is sent: `aspect_ratio` only (flux-schnell, flux-dev, Kontext: the model picks
   * the pixels), `custom` (`aspect_ratio: "custom"` plus `width`/`height`, flux-1.1-pro) or
   * `width_height` (models with plain `width`/`height` inputs, such as SDXL).
   */
  size: z.enum(['aspect_ratio', 'custom', 'width_height']).default('aspect_ratio'),
  aspectRatios: z
    .array(z.string().regex(/^\d+:\d+$/, 'W:H'))
    .min(1)
    .default(FLUX_RATIOS),
  /** The pixel grid of `custom`/`width_height` models: width and height are snapped onto it. */
  multipleOfPx: z.coerce.number().int().min(1).max(256).default(32),
  minEdgePx: z.coerce.number().int().min(1).default(256),
  maxEdgePx: z.coerce.number().int().min(1).default(1440),
  /** Images one prediction makes (`num_outputs` 1…this); 1: the field is not sent. */
  maxOutputs: z.coerce.number().int().min(1).max(10).default(1),
  /** The model's `output_format` value for each gateway format; absent ones are transcoded. */
  outputFormats: z.partialRecord(z.enum(['png', 'jpeg', 'webp']), z.string().min(1)).default({ png: 'png', jpeg: 'jpg', webp: 'webp' }),
  seed: Flag.default(true),
  negativePrompt: Flag.default(false),
  /** The input that takes the image to edit (a data URI), or null when the model does not edit. */
  imageInput: z.string().min(1).nullable().default(null),
  /** `aspect_ratio` sent with an edit when the model can keep the input's ratio (Kontext's `match_input_image`). */
  editAspectRatio: z.string().min(1).nullable().default(null),
  /** Constant inputs sent as they are (e.g. `{ "megapixels": "1", "go_fast": false }`). */
  fixedInput: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

export type ModelInputProfile = z.infer<typeof ProfileSchema>;

/** Channel `options.modelInputs`: profiles by upstream `owner/name`. */
export const ModelInputsSchema = z.record(z.string().regex(/^[^/\s:]+\/[^/\s:]+$/, 'owner/name'), ProfileSchema);

const DEFAULT_PROFILE: ModelInputProfile = ProfileSchema.parse({});

/** The built-in profiles, from each model's API schema on replicate.com (2026). */
const BUILT_IN: Readonly<Record<string, ModelInputProfile>> = {
  // num_outputs 1–4, output_format webp|jpg|png, seed, aspect_ratio (FLUX_RATIOS) at `megapixels` "1".
  'black-forest-labs/flux-schnell': ProfileSchema.parse({ maxOutputs: 4 }),
  'black-forest-labs/flux-dev': ProfileSchema.parse({ maxOutputs: 4 }),
  // One image; aspect_ratio "custom" with width/height 256–1440, multiples of 32.
  'black-forest-labs/flux-1.1-pro': ProfileSchema.parse({ size: 'custom' }),
  // One image at about 4 MP; aspect_ratio 21:9 … 9:21; output_format jpg|png.
  'black-forest-labs/flux-1.1-pro-ultra': ProfileSchema.parse({ outputFormats: { png: 'png', jpeg: 'jpg' } }),
  // Edits by instruction: `input_image` (URI), aspect_ratio incl. "match_input_image", jpg|png.
  'black-forest-labs/flux-kontext-pro': ProfileSchema.parse({
    outputFormats: { png: 'png', jpeg: 'jpg' },
    imageInput: 'input_image',
    editAspectRatio: 'match_input_image',
  }),
  'black-forest-labs/flux-kontext-max': ProfileSchema.parse({
    outputFormats: { png: 'png', jpeg: 'jpg' },
    imageInput: 'input_image',
    editAspectRatio: 'match_input_image',
  }),
};

/**
 * The profile of an upstream model: `owner/name` with any `:version` left off (a version of a
 * model takes that model's inputs), from the channel's own table first.
 */
export function profileFor(upstreamModel: string, channelProfiles: Readonly<Record<string, ModelInputProfile>>): ModelInputProfile {
  const name = upstreamModel.split(':')[0] ?? upstreamModel;
  return channelProfiles[name] ?? BUILT_IN[name] ?? DEFAULT_PROFILE;
}
