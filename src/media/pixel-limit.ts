/*
 * The largest image, in pixels, the gateway decodes: far above any size a model delivers
 * (3840x2160 is 8.3 MP) or a real photo, yet small enough that a decompression bomb fails fast
 * instead of filling memory. One limit for upstream answers and client uploads alike.
 */
export const MAX_INPUT_PIXELS = 64_000_000;

/** `8000x9000 exceeds the 64-megapixel limit`, or null when the size is within it. */
export function pixelLimitExcess(width: number, height: number): string | null {
  if (width * height <= MAX_INPUT_PIXELS) return null;
  return `${width}x${height} exceeds the ${MAX_INPUT_PIXELS / 1_000_000}-megapixel limit`;
}

/**
 * Options for reading only an image's header (sharp's `metadata()`). The pixel limit is off
 * here on purpose: with it sharp refuses an oversized header as "Input image exceeds pixel
 * limit", which the caller could only report as unreadable; reading the header decodes no pixels,
 * so the size is read and `pixelLimitExcess` says what is wrong. Decoding keeps the limit.
 */
export const HEADER_ONLY = { limitInputPixels: false } as const;
