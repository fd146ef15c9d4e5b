import { z } from 'zod';

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

const Milliseconds = z.coerce.number().int('a whole number of milliseconds').min(0).max(9_999_999);

/*
 * Poll timing. fal's own clients poll the queue status every 0.5 s (fal-ai/fal-js queue.ts,
 * provider notes §7); FLUX [dev] and [schnell] finish in one to a few seconds. Half a second,
 * then ×1.5 up to 2 s, sees a finished request quickly without hammering the queue.
 */

/**
 * The channel options a `fal` channel reads:
 * - `maxImagesPerCall`: the most images one request asks for in `num_images` (fal's FLUX
 *   endpoints take 1–4, provider notes §7); the router fans out above it.
 * - `storeIo`: false sends `X-Fal-Store-IO: 0`, so fal keeps no copy of prompts and results
 *   beyond the request (provider notes §11: payloads are otherwise stored for 30 days).
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: how the queue status is polled.
 */
export const FalOptionsSchema = z
  .strictObject({
    maxImagesPerCall: z.coerce.number().int('a whole number').min(1).max(10).default(4),
    storeIo: Flag.default(true),
    pollInitialMs: Milliseconds.default(500),
    pollMaxMs: Milliseconds.default(2000),
    pollMinIntervalMs: Milliseconds.default(50),
  })
  .transform((options) => ({ ...options, pollMaxMs: Math.max(options.pollInitialMs, options.pollMaxMs) }));

export type FalOptions = z.infer<typeof FalOptionsSchema>;
