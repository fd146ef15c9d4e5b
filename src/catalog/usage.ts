import type { Dimensions, ModelSpec, PriceRule } from './types.ts';
import { formatSize } from './sizes.ts';

/** OpenAI's `usage` object for GPT image models. */
export interface ImageUsage {
  input_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens: number;
  total_tokens: number;
}

const REFERENCE_PIXELS = 1024 * 1024;

/**
 * Text tokens for a prompt. The gateway has no tokenizer for every upstream, so it uses OpenAI's
 * published rule of thumb (about four characters of English per token); an upstream that reports
 * its own usage replaces this figure.
 */
export function estimateTextTokens(prompt: string): number {
  return Math.max(1, Math.ceil(prompt.length / 4));
}

/** Output image tokens for one image of `size` at `quality` (a resolved quality, never `auto`). */
export function outputTokensPerImage(model: ModelSpec, quality: string, size: Dimensions): number {
  const table = model.tokens;
  if (table === null) return 0;
  const exact = table.exact[quality]?.[formatSize(size)];
  if (exact !== undefined) return exact;
  const base = table.perMegapixelBase[quality] ?? 0;
  return Math.round((base * size.width * size.height) / REFERENCE_PIXELS);
}

/** The `usage` a GPT image response carries for `imageCount` images. */
export function computeUsage(model: ModelSpec, quality: string, size: Dimensions, imageCount: number, prompt: string, imageInputTokens = 0): ImageUsage {
  const textTokens = estimateTextTokens(prompt);
  const outputTokens = outputTokensPerImage(model, quality, size) * imageCount;
  const inputTokens = textTokens + imageInputTokens;
  return {
    input_tokens: inputTokens,
    input_tokens_details: { text_tokens: textTokens, image_tokens: imageInputTokens },
    output_tokens: outputTokens,
    total_tokens: inputTokens + outputTokens,
  };
}

/** What `imageCount` images cost, in USD, under a model's price rule. */
export function priceUsd(price: PriceRule, quality: string, size: Dimensions, imageCount: number, usage: ImageUsage | null): number {
  if (price.kind === 'per_image') {
    const byQuality = price.usdPerImage[quality] ?? Object.values(price.usdPerImage)[0] ?? {};
    const each = byQuality[formatSize(size)] ?? byQuality['*'] ?? 0;
    return each * imageCount;
  }
  if (usage === null) return 0;
  return (
    (usage.input_tokens_details.text_tokens * price.usdPerMillionTextInput +
      usage.input_tokens_details.image_tokens * price.usdPerMillionImageInput +
      usage.output_tokens * price.usdPerMillionImageOutput) /
    1_000_000
  );
}
