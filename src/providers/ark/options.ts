import { z } from 'zod';

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

/**
 * The channel options an Ark channel reads:
 * - `watermark`: Ark's `watermark`. Ark stamps "AI生成" in the bottom-right corner unless told
 *   `false` (its default is `true`, image generation API reference, docs/82379/1541523); the
 *   gateway sends `false` unless the operator sets this, e.g. where the law asks for the mark.
 * - `responseFormat`: what Ark is asked to answer with. `b64_json` (default) brings the bytes in
 *   the answer; `url` answers with TOS links that expire after 24 hours and are downloaded at once,
 *   which keeps answers small where the gateway sits near Ark's object storage.
 * - `sequentialImageGeneration`: how `n` > 1 is asked for. `auto` (default) asks for a set in one
 *   call (`sequential_image_generation: "auto"` with `max_images: n`) and tops up what Ark leaves
 *   out with single-image calls; `disabled` makes every call one image and lets the router fan
 *   `n` out in parallel (independent pictures, as OpenAI's `n` gives).
 */
export const ArkOptionsSchema = z.strictObject({
  watermark: Flag.default(false),
  responseFormat: z.enum(['b64_json', 'url']).default('b64_json'),
  sequentialImageGeneration: z.enum(['auto', 'disabled']).default('auto'),
});

export type ArkOptions = z.infer<typeof ArkOptionsSchema>;
