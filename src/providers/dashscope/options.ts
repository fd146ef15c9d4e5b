import { z } from 'zod';

/** Which DashScope API serves a model (provider notes §2a, §2b). */
export type DashScopeMode = 'async' | 'sync';

/*
 * qwen-image renders in roughly 10–20 s. Half a second, then ×1.5 up to 3 s, notices a finished
 * task within a few hundred milliseconds early on without spending the account's 20 task queries
 * per second (provider notes §2a) on a long render. 1000 ms / 20 queries = 50 ms between polls;
 * 60 ms leaves room for jitter between our clock and theirs.
 */
const Milliseconds = z.coerce.number().int('a whole number of milliseconds').min(0).max(9_999_999);

/** A boolean from YAML (`true`) or from JSON-in-an-environment-variable text (`"true"`). */
const Flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((text) => text === 'true')]);

/**
 * The channel options a DashScope channel reads:
 * - `mode`: `async` (task API) or `sync` (multimodal-generation); by default chosen from the upstream model;
 * - `promptExtend`: DashScope's `prompt_extend` (the upstream rewrites short prompts), default true;
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: how tasks are polled.
 */
export const DashScopeOptionsSchema = z
  .strictObject({
    mode: z.enum(['async', 'sync']).optional(),
    promptExtend: Flag.default(true),
    pollInitialMs: Milliseconds.default(500),
    pollMaxMs: Milliseconds.default(3000),
    pollMinIntervalMs: Milliseconds.default(60),
  })
  .transform((options) => ({ ...options, pollMaxMs: Math.max(options.pollInitialMs, options.pollMaxMs) }));

export type DashScopeOptions = z.infer<typeof DashScopeOptionsSchema>;

/**
 * Models served only by the sync multimodal-generation API (provider notes §2b): qwen-image-max,
 * qwen-image-2.x/3.x (and their -pro), wan2.6. qwen-image and qwen-image-plus use async tasks.
 */
const SYNC_MODEL = /^(qwen-image-max|qwen-image-[2-9]\.|wan2\.6)/;

/** The API a call uses: the channel's `mode`, else what the upstream model is served by. */
export function modeFor(options: DashScopeOptions, upstreamModel: string): DashScopeMode {
  return options.mode ?? (SYNC_MODEL.test(upstreamModel) ? 'sync' : 'async');
}
