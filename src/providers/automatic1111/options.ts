import { z } from 'zod';

/**
 * The channel options an AUTOMATIC1111 / Forge / SD.Next channel reads. The engine's API takes
 * sampling settings per request (modules/api/models.py, StableDiffusionProcessingTxt2Img's
 * fields); OpenAI's API has no such fields, so they are the operator's per channel:
 * - `username`: HTTP basic auth for a server started with `--api-auth user:password`; the
 *   channel's `apiKey` is the password. (An `apiKey` written `user:password`, as `--api-auth`
 *   takes it, works without `username`.)
 * - `steps`, `samplerName` (e.g. `DPM++ 2M`, `Euler a`), `scheduler` (e.g. `Karras`), `cfgScale`:
 *   sent as `steps`, `sampler_name`, `scheduler`, `cfg_scale`; absent, the engine's own defaults.
 * - `denoisingStrength`: how much of the picture an edit repaints, 0–1 (A1111's default 0.75).
 * - `maxBatchSize`: the most images one call draws at once (`batch_size`; VRAM decides); the
 *   router fans larger `n` out.
 * - `progressIntervalMs`: the least time between two `/sdapi/v1/progress` polls while a streamed
 *   request runs (each answer carries a base64 preview, so polls are not free).
 */
export const Automatic1111OptionsSchema = z.strictObject({
  username: z.string().min(1).optional(),
  steps: z.coerce.number().int().min(1).max(150).optional(),
  samplerName: z.string().min(1).optional(),
  scheduler: z.string().min(1).optional(),
  cfgScale: z.coerce.number().min(1).max(30).optional(),
  denoisingStrength: z.coerce.number().min(0).max(1).default(0.75),
  maxBatchSize: z.coerce.number().int().min(1).max(8).default(8),
  progressIntervalMs: z.coerce.number().int().min(100).max(60_000).default(1000),
});

export type Automatic1111Options = z.infer<typeof Automatic1111OptionsSchema>;
