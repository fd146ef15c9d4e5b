import { z } from 'zod';

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

/**
 * The channel options an OpenRouter channel reads:
 * - `referer`, `title`: OpenRouter's optional app attribution, sent as `HTTP-Referer` and
 *   `X-Title` (openrouter.ai/docs, "App Attribution"); without them requests are anonymous;
 * - `modalities`: what the model is asked to output; `["image","text"]` (the default) suits
 *   models that answer with both, such as Gemini's; image-only models (FLUX) take `["image"]`
 *   (OpenRouter's image generation guide);
 * - `imageConfig`: whether to send `image_config.aspect_ratio` (and `image_size` where the
 *   model has tiers); turn it off for a model whose provider refuses it.
 */
export const OpenRouterOptionsSchema = z.strictObject({
  referer: z.url({ protocol: /^https?$/ }).optional(),
  title: z.string().min(1).max(200).optional(),
  modalities: z
    .array(z.enum(['image', 'text']))
    .min(1)
    .refine((list) => list.includes('image'), "modalities must include 'image'")
    .default(['image', 'text']),
  imageConfig: Flag.default(true),
});

export type OpenRouterOptions = z.infer<typeof OpenRouterOptionsSchema>;
