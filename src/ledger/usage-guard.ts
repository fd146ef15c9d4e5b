import { type Dimensions, type ImageUsage, type ModelSpec, computeUsage, outputTokensPerImage } from '../catalog/index.ts';
import type { ImageParams } from '../contract/generation-request.ts';
import type { AnomalySink, MoneyAnomalyKind } from './anomalies.ts';

/*
 * An upstream's `usage` decides what a token-priced request costs, so it is checked against what
 * the request can possibly have used before it is charged. A report outside these bounds is an
 * anomaly and the whole report is replaced by the catalog's estimate (`computeUsage`): a channel
 * that lies about one figure is not trusted with the others.
 *
 * The bounds are deliberately loose (they catch nonsense, not rounding), and the ledger caps every
 * charge at its hold in any case (see Ledger.settle), so a report inside the bounds but above the
 * hold is charged the hold.
 */

/**
 * Output tokens accepted up to this multiple of the catalog's token table (plus partial images).
 * The gpt-image-1 table is OpenAI's own exact figures and real reports match it; gpt-image-2's
 * sizes are scaled by area from a 1024x1024 figure, an estimate that may be off by some tens of
 * percent for other sizes. Twice the table leaves room for that, while a report beyond it (the
 * $40,000 one was a million times the table) is plainly wrong.
 */
export const OUTPUT_TOKENS_FACTOR = 2;

/** OpenAI bills each streamed partial image as 100 extra output tokens (image generation guide). */
export const PARTIAL_IMAGE_OUTPUT_TOKENS = 100;

/**
 * Text tokens a tokenizer may add around the prompt (message framing). A short prompt such as
 * "a cat" is reported as a handful of tokens more than its length; 16 covers that with room.
 */
export const PROMPT_FRAMING_TOKENS = 16;

/**
 * Input image tokens accepted up to this multiple of the gateway's estimate for the input images
 * (`estimateImageInputTokens`, high-detail vision rule). OpenAI does not publish how GPT image
 * models count input images, and `input_fidelity: high` adds several times the estimate; eight
 * times it is beyond any count seen, yet keeps a report of millions of tokens out.
 */
export const IMAGE_INPUT_TOKENS_FACTOR = 8;

/** What the request could have used, for one answer of `imageCount` images. */
export interface UsageLimits {
  readonly model: ModelSpec;
  /** The resolved quality sent upstream. */
  readonly quality: string;
  /** The size delivered. */
  readonly size: Dimensions;
  readonly imageCount: number;
  readonly prompt: string;
  /** Partial images per image, when streamed (0 otherwise). */
  readonly partialImages: number;
  /** The gateway's estimate for the input images (edits); 0 for generations. */
  readonly imageInputTokens: number;
  /**
   * Upstream calls whose usage was summed into the report: a request fanned out over several calls
   * sends its prompt (and input images) with each, and each call bills them.
   */
  readonly upstreamCalls: number;
}

export interface UsageBounds {
  readonly maxTextTokens: number;
  readonly maxImageInputTokens: number;
  readonly maxOutputTokens: number;
}

export interface UsageFinding {
  readonly kind: Exclude<MoneyAnomalyKind, `charge_${string}`>;
  /** The usage field at fault, e.g. `input_tokens_details.text_tokens`. */
  readonly field: string;
  /** What the upstream reported, as text when it was not a number. */
  readonly reported: number | string;
  /** The bound it broke (0 for a value that is not a count). */
  readonly bound: number;
}

export interface GuardedUsage {
  /** The usage to report and charge: the upstream's when it was sane, the catalog's estimate otherwise. */
  readonly usage: ImageUsage;
  readonly source: 'upstream' | 'estimate';
  /** Why the upstream's report was replaced; empty when it was not (or there was none). */
  readonly findings: readonly UsageFinding[];
}

/**
 * Text tokens of one call at the most. A byte-level tokenizer (OpenAI's) never makes more tokens
 * than the prompt has UTF-8 bytes; characters would not do, since a CJK character or an emoji can
 * become several tokens.
 */
export function maxTextTokensPerCall(prompt: string): number {
  return Buffer.byteLength(prompt, 'utf8') + PROMPT_FRAMING_TOKENS;
}

export function usageBounds(limits: UsageLimits): UsageBounds {
  const calls = Math.max(1, Math.min(limits.upstreamCalls, limits.imageCount));
  const perImage = outputTokensPerImage(limits.model, limits.quality, limits.size) + PARTIAL_IMAGE_OUTPUT_TOKENS * limits.partialImages;
  return {
    maxTextTokens: maxTextTokensPerCall(limits.prompt) * calls,
    maxImageInputTokens: Math.ceil(IMAGE_INPUT_TOKENS_FACTOR * limits.imageInputTokens) * calls,
    maxOutputTokens: Math.ceil(OUTPUT_TOKENS_FACTOR * perImage * limits.imageCount),
  };
}

/**
 * Checks an upstream's usage against what the request could have used. Pure: the caller reports
 * the findings (see `trustedUsage`). Without a report, the estimate is used and nothing is found.
 */
export function guardUsage(limits: UsageLimits, reported: ImageUsage | undefined): GuardedUsage {
  const estimate = (): ImageUsage => computeUsage(limits.model, limits.quality, limits.size, limits.imageCount, limits.prompt, limits.imageInputTokens);
  if (reported === undefined) return { usage: estimate(), source: 'estimate', findings: [] };

  // Read defensively: adapters type the report, but it came off the wire and may lack parts.
  const details: unknown = reported.input_tokens_details;
  const detail = (name: string): unknown => (typeof details === 'object' && details !== null ? Reflect.get(details, name) : undefined);
  const counts: ReadonlyArray<readonly [string, unknown]> = [
    ['input_tokens', reported.input_tokens],
    ['input_tokens_details.text_tokens', detail('text_tokens')],
    ['input_tokens_details.image_tokens', detail('image_tokens')],
    ['output_tokens', reported.output_tokens],
    ['total_tokens', reported.total_tokens],
  ];
  const findings: UsageFinding[] = [];
  for (const [field, value] of counts) {
    if (!isCount(value)) findings.push({ kind: 'usage_not_a_count', field, reported: describe(value), bound: 0 });
  }
  if (findings.length === 0) {
    const bounds = usageBounds(limits);
    const over = (kind: UsageFinding['kind'], field: string, value: number, bound: number): void => {
      if (value > bound) findings.push({ kind, field, reported: value, bound });
    };
    over('usage_text_tokens', 'input_tokens_details.text_tokens', reported.input_tokens_details.text_tokens, bounds.maxTextTokens);
    over('usage_image_tokens', 'input_tokens_details.image_tokens', reported.input_tokens_details.image_tokens, bounds.maxImageInputTokens);
    over('usage_output_tokens', 'output_tokens', reported.output_tokens, bounds.maxOutputTokens);
  }
  return findings.length === 0 ? { usage: reported, source: 'upstream', findings } : { usage: estimate(), source: 'estimate', findings };
}

/** A token count: a non-negative integer (JSON numbers can be fractional, negative or huge). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): number | string {
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  return value === undefined ? 'missing' : typeof value;
}

/**
 * The usage a request is charged for: the upstream's report when it is sane, else the catalog's
 * estimate with every finding reported (counted and logged with the channel and model). Applied
 * once, where an answer's usage enters the money path, so it holds for every provider, streamed
 * or not.
 */
export function trustedUsage(
  sink: AnomalySink,
  answer: {
    readonly request: ImageParams;
    readonly size: Dimensions;
    readonly reported: ImageUsage | undefined;
    readonly imageInputTokens: number;
    readonly upstreamCalls: number;
    readonly channel: string;
    readonly requestId: string;
  },
): ImageUsage {
  const { request } = answer;
  const guarded = guardUsage(
    {
      model: request.model,
      quality: request.quality,
      size: answer.size,
      imageCount: request.n,
      prompt: request.prompt,
      partialImages: request.stream ? request.partialImages : 0,
      imageInputTokens: answer.imageInputTokens,
      upstreamCalls: answer.upstreamCalls,
    },
    answer.reported,
  );
  for (const finding of guarded.findings) {
    sink.report({
      kind: finding.kind,
      model: request.model.id,
      channel: answer.channel,
      requestId: answer.requestId,
      detail: { field: finding.field, reported: finding.reported, bound: finding.bound },
    });
  }
  return guarded.usage;
}
