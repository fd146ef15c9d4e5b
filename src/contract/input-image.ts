import path from 'node:path';
import sharp from 'sharp';
import type { OutputFormat } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import { isStructurallyComplete } from '../media/complete.ts';
import { HEADER_ONLY, pixelLimitExcess } from '../media/pixel-limit.ts';
import { mimeOf, sniffImageFormat } from '../media/sniff.ts';

/*
 * Images a client uploads (edits, variations). What a file is comes from its magic bytes: the
 * official Node client sends `fs.createReadStream` parts as `application/octet-stream` (contract
 * notes §3, "Part Content-Type"), so the declared type is used only to word the refusal of a file
 * that is no image at all, as OpenAI words it.
 *
 * (Reads headers with sharp, like the media step; the contract is where raw input is checked.)
 */

/** An uploaded or fetched file, before it is known to be an image. */
export interface RawImage {
  /** The field at fault in errors, in OpenAI's naming: `image`, `image[0]`, `images[2]`, `mask`. */
  readonly param: string;
  readonly bytes: Buffer;
  /** The part's Content-Type or the data URL's media type; `''` when none. Only a claim. */
  readonly declaredType: string;
  readonly filename: string;
}

/** An input image checked to be a whole png/jpeg/webp, with its displayed size. */
export interface InputImage {
  readonly param: string;
  readonly bytes: Buffer;
  readonly format: OutputFormat;
  /** After EXIF orientation, as the picture is seen. */
  readonly width: number;
  readonly height: number;
  readonly hasAlpha: boolean;
  readonly filename: string;
}

/**
 * Checks that `raw` is an image of one of the `accepted` formats and reads its size. Refusals name
 * the part: `Invalid file 'image[0]': unsupported mimetype ('text/plain'). Supported file formats
 * are 'image/jpeg', 'image/png', and 'image/webp'.` (OpenAI's wording, contract notes §7).
 */
export async function probeImage(raw: RawImage, accepted: readonly OutputFormat[]): Promise<InputImage> {
  const format = sniffImageFormat(raw.bytes);
  const declared = raw.declaredType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (format === null && accepted.some((f) => mimeOf(f) === declared)) {
    // Declared as an image we take, but the bytes are no such image: say so, not "unsupported".
    throw new GatewayError('invalid_value', `Invalid file '${raw.param}': it is declared '${declared}' but is not a valid PNG, JPEG or WebP image.`, {
      param: raw.param,
    });
  }
  if (format === null || !accepted.includes(format)) {
    throw new GatewayError(
      'invalid_value',
      `Invalid file '${raw.param}': unsupported mimetype ('${claimedType(raw, format)}'). Supported file formats are ${supportedList(accepted)}.`,
      { param: raw.param },
    );
  }
  if (!isStructurallyComplete(raw.bytes, format)) throw unreadable(raw, format);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(raw.bytes, HEADER_ONLY).metadata();
  } catch (err) {
    throw unreadable(raw, format, err);
  }
  const { width, height } = meta.autoOrient;
  const excess = pixelLimitExcess(width, height);
  if (excess !== null) throw new GatewayError('invalid_value', `Invalid file '${raw.param}': the image is ${excess}.`, { param: raw.param });
  return { param: raw.param, bytes: raw.bytes, format, width, height, hasAlpha: meta.hasAlpha === true, filename: raw.filename };
}

function unreadable(raw: RawImage, format: OutputFormat, cause?: unknown): GatewayError {
  return new GatewayError(
    'invalid_value',
    `Invalid file '${raw.param}': the ${format.toUpperCase()} image could not be read; it may be truncated or corrupt.`,
    {
      param: raw.param,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** `'image/jpeg', 'image/png', and 'image/webp'`, in OpenAI's order and punctuation. */
function supportedList(accepted: readonly OutputFormat[]): string {
  const names = (['jpeg', 'png', 'webp'] as const).filter((f) => accepted.includes(f)).map((f) => `'${mimeOf(f)}'`);
  if (names.length <= 1) return names.join('');
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  return `${names.slice(0, -1).join(', ')}, and ${names.at(-1)}`;
}

const EXTENSION_TYPES: Readonly<Record<string, string>> = {
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.pdf': 'application/pdf',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.svg': 'image/svg+xml',
  '.heic': 'image/heic',
  '.avif': 'image/avif',
  '.html': 'text/html',
};

/**
 * What to call a refused file: its real type when the magic bytes tell one (a GIF, or a PNG where
 * only JPEG… is accepted), else the client's declared type unless that is the uninformative
 * octet-stream, else a guess from the file name.
 */
function claimedType(raw: RawImage, sniffed: OutputFormat | null): string {
  if (sniffed !== null) return mimeOf(sniffed);
  const head = raw.bytes.toString('latin1', 0, 6);
  if (head === 'GIF87a' || head === 'GIF89a') return 'image/gif';
  if (raw.bytes.length >= 2 && raw.bytes[0] === 0x42 && raw.bytes[1] === 0x4d) return 'image/bmp';
  const declared = raw.declaredType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (declared !== '' && declared !== 'application/octet-stream') return declared;
  return EXTENSION_TYPES[path.extname(raw.filename).toLowerCase()] ?? 'application/octet-stream';
}
