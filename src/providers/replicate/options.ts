import { z } from 'zod';
import { ModelInputsSchema } from './model-inputs.ts';

const Milliseconds = z.coerce.number().int('a whole number of milliseconds').min(0).max(9_999_999);

/*
 * Poll timing. Replicate's own clients poll every 0.5 s (replicate-javascript lib/util.js
 * `interval: 500`); most FLUX predictions are done inside the `Prefer: wait` of the create call,
 * so polls are the exception. Replicate allows 3000 requests a minute on endpoints other than
 * create (replicate.com/docs/topics/predictions/rate-limits): 50 ms between polls on a channel
 * (1200 a minute) stays well under it.
 */

/**
 * The channel options a `replicate` channel reads:
 * - `preferWaitSeconds`: the `Prefer: wait=<s>` of the create call, 1–60 (Replicate's cap; default
 *   60, Replicate's own). Never more than the channel's `timeoutMs`.
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: how a prediction still running after the
 *   wait is polled.
 * - `modelInputs`: what an upstream model (`owner/name`) takes, for models the built-in table
 *   (model-inputs.ts) does not know or that a channel wants to send differently.
 */
export const ReplicateOptionsSchema = z
  .strictObject({
    preferWaitSeconds: z.coerce.number().int('a whole number of seconds').min(1).max(60).default(60),
    pollInitialMs: Milliseconds.default(500),
    pollMaxMs: Milliseconds.default(2000),
    pollMinIntervalMs: Milliseconds.default(50),
    modelInputs: ModelInputsSchema.default({}),
  })
  .transform((options) => ({ ...options, pollMaxMs: Math.max(options.pollInitialMs, options.pollMaxMs) }));

export type ReplicateOptions = z.infer<typeof ReplicateOptionsSchema>;
