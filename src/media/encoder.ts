import type { Sharp } from 'sharp';
import type { OutputFormat } from '../catalog/index.ts';

/*
 * The one place encoder settings are chosen, so the gateway's transcode step and the local
 * renderer write the same kind of file for the same request.
 */

/**
 * zlib level for PNG. PNG is lossless, so the level trades only CPU for bytes; OpenAI's
 * `output_compression` does not apply to it. Measured on 1024x1024 local renders: level 6
 * (libvips' default) takes 30–40% longer than level 3 for 2–16% fewer bytes; level 9 three to
 * four times as long; level 1 is faster but 30–50% larger.
 */
export const PNG_COMPRESSION_LEVEL = 3;

/**
 * libwebp method (0–6). Higher spends more CPU searching for a smaller file at the same quality.
 * Measured on 1024x1024 local renders at quality 80: 4 (the default) takes 2.3 times as long as 2
 * for files about 10% smaller; 0 is 40% faster than 2 but 20–30% larger.
 */
export const WEBP_EFFORT = 2;

/**
 * jpeg/webp quality from OpenAI's `output_compression` (0–100, where 100 is the least compression
 * and the best quality). Encoders take 1–100, so 0 means "smallest" and maps to 1.
 */
export function lossyQuality(compressionPct: number): number {
  return Math.min(100, Math.max(1, Math.round(compressionPct)));
}

/** Adds the encoder for `format` to a sharp pipeline. */
export function withEncoder(pipeline: Sharp, format: OutputFormat, compressionPct: number): Sharp {
  switch (format) {
    case 'png':
      return pipeline.png({ compressionLevel: PNG_COMPRESSION_LEVEL, adaptiveFiltering: false });
    case 'jpeg':
      return pipeline.jpeg({ quality: lossyQuality(compressionPct) });
    case 'webp':
      return pipeline.webp({ quality: lossyQuality(compressionPct), effort: WEBP_EFFORT });
  }
}
