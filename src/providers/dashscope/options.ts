import { GatewayError } from '../../errors.ts';
import type { Channel } from '../types.ts';

/** Which DashScope API serves a model (provider notes §2a, §2b). */
export type DashScopeMode = 'async' | 'sync';

/** How a channel polls its async tasks. */
export interface PollTiming {
  /** Wait before the first poll; later waits grow ×1.5 up to `maxMs`. */
  readonly initialMs: number;
  readonly maxMs: number;
  /** Least time between two polls of this channel, whatever the number of tasks (see poll-pacer.ts). */
  readonly minIntervalMs: number;
}

/** The channel options a DashScope channel reads, with their defaults. */
export interface DashScopeOptions {
  readonly mode: DashScopeMode;
  /** DashScope's `prompt_extend`: the upstream rewrites short prompts before drawing. */
  readonly promptExtend: boolean;
  readonly poll: PollTiming;
}

/*
 * qwen-image renders in roughly 10–20 s. Half a second, then ×1.5 up to 3 s, notices a finished
 * task within a few hundred milliseconds early on without spending the account's 20 task queries
 * per second (provider notes §2a) on a long render.
 */
const DEFAULT_POLL_INITIAL_MS = 500;
const DEFAULT_POLL_MAX_MS = 3000;
/** 1000 ms / 20 queries = 50 ms; 60 ms leaves room for jitter between our clock and theirs. */
const DEFAULT_POLL_MIN_INTERVAL_MS = 60;

/**
 * Models served only by the sync multimodal-generation API (provider notes §2b): qwen-image-max,
 * qwen-image-2.x/3.x (and their -pro), wan2.6. qwen-image and qwen-image-plus use async tasks.
 */
const SYNC_MODEL = /^(qwen-image-max|qwen-image-[2-9]\.|wan2\.6)/;

/**
 * Reads a channel's DashScope options:
 * - `mode`: `async` (task API) or `sync` (multimodal-generation); default from the upstream model;
 * - `promptExtend`: `true` (DashScope's own default) or `false`;
 * - `pollInitialMs`, `pollMaxMs`, `pollMinIntervalMs`: whole milliseconds.
 * Options are free-form strings in the config schema, so a bad value is caught here, on first use.
 */
export function dashscopeOptions(channel: Channel, upstreamModel: string): DashScopeOptions {
  const mode = channel.options['mode'] ?? (SYNC_MODEL.test(upstreamModel) ? 'sync' : 'async');
  if (mode !== 'async' && mode !== 'sync') throw badOption(channel, 'mode', "'async' or 'sync'");
  const extend = channel.options['promptExtend'] ?? 'true';
  if (extend !== 'true' && extend !== 'false') throw badOption(channel, 'promptExtend', "'true' or 'false'");
  const initialMs = milliseconds(channel, 'pollInitialMs', DEFAULT_POLL_INITIAL_MS);
  const maxMs = Math.max(initialMs, milliseconds(channel, 'pollMaxMs', DEFAULT_POLL_MAX_MS));
  const minIntervalMs = milliseconds(channel, 'pollMinIntervalMs', DEFAULT_POLL_MIN_INTERVAL_MS);
  return { mode, promptExtend: extend === 'true', poll: { initialMs, maxMs, minIntervalMs } };
}

function milliseconds(channel: Channel, name: string, fallback: number): number {
  const text = channel.options[name];
  if (text === undefined) return fallback;
  if (!/^\d{1,7}$/.test(text)) throw badOption(channel, name, 'a whole number of milliseconds');
  return Number(text);
}

function badOption(channel: Channel, name: string, expected: string): GatewayError {
  // The operator's mistake, not the client's: a 500 whose detail is in the log and the message.
  return new GatewayError('server_error', `Channel ${channel.id}: options.${name} must be ${expected}.`);
}
