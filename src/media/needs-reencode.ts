import type { OutputFormat } from '../catalog/index.ts';
import { lossyQuality } from './encoder.ts';
import type { ImageHeader } from './image-header.ts';
import { estimateJpegQuality } from './jpeg-quality.ts';

/** What the client asked the image to be (the contract's resolved values). */
export interface ImageTarget {
  readonly format: OutputFormat;
  /** OpenAI's `output_compression`: 0–100, 100 = least compression. Used by jpeg and webp only. */
  readonly compressionPct: number;
  readonly width: number;
  readonly height: number;
  readonly transparent: boolean;
}

/**
 * A JPEG saved at most this many quality points above the one asked is kept as it is: decoding
 * and encoding it again loses detail a second time, and saves little.
 */
const JPEG_QUALITY_TOLERANCE = 5;

/**
 * Why an upstream image cannot be handed on as it is, or `null` when its bytes already are what
 * was asked. Reads only the header (`ImageHeader`) and the bytes' own tables: the point is to let
 * the common case (the upstream honoured the request) skip a decode and encode.
 *
 * - another format or pixel size, or an EXIF orientation that still has to be applied;
 * - an alpha channel when the target is opaque (it is flattened onto white);
 * - CMYK pixels (print JPEGs), which browsers and image libraries show unreliably;
 * - more than one frame (an animated WebP: the first frame is kept);
 * - a JPEG clearly less compressed than asked (its quality is estimated from its tables);
 * - a lossless WebP when lossy compression was asked.
 *
 * An image without alpha is handed on for a transparent target: transparency is not invented.
 * A lossy WebP is handed on whatever its quality, which cannot be read back from the bitstream.
 */
export function reencodeReason(bytes: Buffer, format: OutputFormat, header: ImageHeader, target: ImageTarget): string | null {
  if (format !== target.format) return `format ${format} → ${target.format}`;
  if (header.orientation !== 1) return `EXIF orientation ${header.orientation}`;
  if (header.width !== target.width || header.height !== target.height) {
    return `size ${header.width}x${header.height} → ${target.width}x${target.height}`;
  }
  if (header.hasAlpha && !target.transparent) return 'alpha on an opaque target';
  if (header.cmyk) return 'CMYK pixels';
  if (header.pages > 1) return `${header.pages} frames`;
  if (format === 'jpeg') {
    const quality = estimateJpegQuality(bytes);
    const asked = lossyQuality(target.compressionPct);
    if (quality !== null && quality > asked + JPEG_QUALITY_TOLERANCE) return `jpeg quality ${quality} → ${asked}`;
  }
  if (format === 'webp' && target.compressionPct < 100 && isLosslessWebp(bytes)) return 'lossless webp → lossy';
  return null;
}

/** Whether the image chunk of a WebP is VP8L (lossless) rather than VP8 (RFC 9649 §2.7). */
function isLosslessWebp(bytes: Buffer): boolean {
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const fourcc = bytes.toString('latin1', offset, offset + 4);
    if (fourcc === 'VP8L') return true;
    if (fourcc === 'VP8 ') return false;
    const chunkBytes = bytes.readUInt32LE(offset + 4);
    offset += 8 + chunkBytes + (chunkBytes % 2); // chunks are padded to even sizes
  }
  return false;
}
