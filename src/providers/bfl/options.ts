import { z } from 'zod';

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

const Milliseconds = z.coerce.number().int('a whole number of milliseconds').min(0).max(9_999_999);

/*
 * Poll timing. FLUX renders in a few seconds (FLUX.2 [pro] "< 10 s"); BFL's own client polls every
 * 0.5 s (black-forest-labs/flux src/flux/api.py), litellm every 1.5 s. Half a second, then ×1.5 up
 * to 2 s, notices a finished task quickly without hammering. BFL documents no limit on result
 * queries, only 24 tasks in flight per key; 50 ms between polls on a channel (20 a second) polls
 * 24 running tasks about once a second each.
 */

/**
 * The channel options a `bfl` channel reads:
 * - `safetyTolerance`: BFL's `safety_tolerance`, 0 (strictest) to 6; FLUX.2 endpoints stop at 5,
 *   so a higher value is sent to them as 5. Default 2, BFL's own.
 * - `promptUpsampling`: BFL's `prompt_upsampling` (the upstream rewrites the prompt), default false;
 *   sent only to endpoints that take it (not FLUX.2 [pro]/[max]/[klein]).
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: how tasks are polled.
 */
export const BflOptionsSchema = z
  .strictObject({
    safetyTolerance: z.coerce.number().int('a whole number').min(0).max(6).default(2),
    promptUpsampling: Flag.default(false),
    pollInitialMs: Milliseconds.default(500),
    pollMaxMs: Milliseconds.default(2000),
    pollMinIntervalMs: Milliseconds.default(50),
  })
  .transform((options) => ({ ...options, pollMaxMs: Math.max(options.pollInitialMs, options.pollMaxMs) }));

export type BflOptions = z.infer<typeof BflOptionsSchema>;
