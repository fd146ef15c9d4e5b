import type { Dimensions, SizeRule } from './types.ts';

type AspectRule = Extract<SizeRule, { kind: 'aspect' }>;

/** An aspect ratio and resolution tier, as models with an aspect size rule take them. */
export interface AspectChoice {
  /** `W:H`, one of the rule's ratios. */
  readonly ratio: string;
  /** One of the rule's tiers (`1K`, `2K` …). */
  readonly tier: string;
}

const RATIO_PATTERN = /^([1-9][0-9]?(?:\.[0-9])?):([1-9][0-9]?(?:\.[0-9])?)$/;

/** `16:9` → 16/9; null for anything else. */
export function parseRatio(text: string): number | null {
  const match = RATIO_PATTERN.exec(text);
  if (match === null) return null;
  return Number(match[1]) / Number(match[2]);
}

/**
 * The nominal pixel size of a ratio at a tier: the tier's pixel count (its edge squared) at that
 * ratio, edges rounded to the rule's step. Upstreams pick their own exact pixels (Gemini's 16:9 at
 * 1K is 1344x768); the gateway reports what was delivered, this is what it asks for and prices.
 */
export function aspectSize(rule: AspectRule, choice: AspectChoice): Dimensions {
  const ratio = parseRatio(choice.ratio) ?? 1;
  const edge = rule.tiers[choice.tier] ?? Object.values(rule.tiers)[0] ?? 1024;
  const pixels = edge * edge;
  const step = rule.multipleOf;
  return {
    width: Math.max(step, Math.round(Math.sqrt(pixels * ratio) / step) * step),
    height: Math.max(step, Math.round(Math.sqrt(pixels / ratio) / step) * step),
  };
}

/**
 * The ratio nearest a pixel size (smallest |log r − log rᵢ|, provider notes §10.1) and the tier
 * whose pixel count is nearest, so an OpenAI-style `size` reaches an aspect-ratio model as the
 * closest thing it can draw.
 */
export function nearestAspect(rule: AspectRule, size: Dimensions): AspectChoice {
  const wanted = Math.log(size.width / size.height);
  let ratio = rule.defaultRatio;
  let best = Number.POSITIVE_INFINITY;
  for (const candidate of rule.ratios) {
    const value = parseRatio(candidate);
    if (value === null) continue;
    const distance = Math.abs(Math.log(value) - wanted);
    if (distance < best - 1e-9) {
      best = distance;
      ratio = candidate;
    }
  }
  const pixels = size.width * size.height;
  let tier = rule.defaultTier;
  let tierDistance = Number.POSITIVE_INFINITY;
  for (const [name, edge] of Object.entries(rule.tiers)) {
    const distance = Math.abs(Math.log((edge * edge) / pixels));
    if (distance < tierDistance - 1e-9) {
      tierDistance = distance;
      tier = name;
    }
  }
  return { ratio, tier };
}
