import sharp from 'sharp';
import type { Dimensions, OutputFormat } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import { isStructurallyComplete } from './complete.ts';
import { withEncoder } from './encoder.ts';
import { headerFromSharp, readImageHeader, type ImageHeader } from './image-header.ts';
import { reencodeReason } from './needs-reencode.ts';
import { HEADER_ONLY, MAX_INPUT_PIXELS, pixelLimitExcess } from './pixel-limit.ts';
import { sniffImageFormat } from './sniff.ts';

/** What every delivered image must be: the request's format, compression, size and background. */
export interface NormalizeTarget {
  readonly format: OutputFormat;
  /** OpenAI's `output_compression` (0–100, 100 = best quality); jpeg and webp only. */
  readonly compressionPct: number;
  /** The exact size to deliver; null keeps the size the image has (aspect-ratio models). */
  readonly size: Dimensions | null;
  readonly transparent: boolean;
}

export interface NormalizedImage {
  readonly bytes: Buffer;
  readonly format: OutputFormat;
  readonly width: number;
  readonly height: number;
}

/** Opaque targets and JPEG (which has no alpha) get transparent pixels on white, like a page. */
const FLATTEN_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/**
 * Turns an image from any provider into exactly what the client asked for. The format is read
 * from magic bytes, not from the provider's claim, and its header is read in plain code
 * (`readImageHeader`, with sharp as the fallback). When the bytes already are what was asked
 * (see `reencodeReason`), they are returned as they are, the same Buffer, without being decoded;
 * otherwise they are decoded once and encoded with the gateway's encoder settings: resized to
 * cover the target size (cropping the centre) when the size differs, flattened onto white when
 * the target has no alpha.
 *
 * Bytes that are not a whole png/jpeg/webp are an upstream fault: a retryable `upstream_error`.
 */
export async function normalizeImage(input: Buffer, target: NormalizeTarget): Promise<NormalizedImage> {
  const format = sniffImageFormat(input);
  if (format === null) throw badImage('is not a PNG, JPEG or WebP image');
  if (!isStructurallyComplete(input, format)) throw badImage(`is a truncated ${format} image`);

  const header = readImageHeader(input, format) ?? (await headerFromLibvips(input, format));
  const excess = pixelLimitExcess(header.width, header.height);
  if (excess !== null) throw badImage(`is ${excess}`);
  const { width, height } = target.size ?? header;
  const reason = reencodeReason(input, format, header, {
    format: target.format,
    compressionPct: target.compressionPct,
    width,
    height,
    transparent: target.transparent,
  });
  if (reason === null) return { bytes: input, format, width, height };

  let pipeline = sharp(input, { limitInputPixels: MAX_INPUT_PIXELS }).autoOrient();
  if (header.width !== width || header.height !== height) {
    pipeline = pipeline.resize(width, height, { fit: 'cover' });
  }
  if (header.hasAlpha && (target.format === 'jpeg' || !target.transparent)) {
    pipeline = pipeline.flatten({ background: FLATTEN_BACKGROUND });
  }
  try {
    const { data, info } = await withEncoder(pipeline, target.format, target.compressionPct).toBuffer({ resolveWithObject: true });
    return { bytes: data, format: target.format, width: info.width, height: info.height };
  } catch (err) {
    throw badImage(`could not be decoded as ${format}`, err);
  }
}

/**
 * sharp's reading of the header, for the images the plain-code reader leaves to it (an APNG, an
 * EXIF block in a PNG or WebP, anything unusual). Like the plain reader it decodes no pixels.
 */
async function headerFromLibvips(input: Buffer, format: OutputFormat): Promise<ImageHeader> {
  try {
    return headerFromSharp(await sharp(input, HEADER_ONLY).metadata());
  } catch (err) {
    throw badImage(`is not a readable ${format} image`, err);
  }
}

function badImage(what: string, cause?: unknown): GatewayError {
  return new GatewayError('upstream_error', `The upstream returned an image that ${what}.`, {
    retryable: true,
    ...(cause === undefined ? {} : { cause }),
  });
}
