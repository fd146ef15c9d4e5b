import type { OutputFormat } from '../catalog/index.ts';

/*
 * Magic bytes, because an upstream's Content-Type (or our own adapter's `mime`) is only a claim.
 * PNG: the 8-byte signature (RFC 2083 §3.1). JPEG: SOI marker FF D8 followed by another marker's
 * FF (ITU T.81 §B.1.1). WebP: a RIFF container whose form type is "WEBP" (RFC 9649 §2).
 */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Which of the formats the gateway delivers these bytes are, by their magic bytes; `null` if none. */
export function sniffImageFormat(bytes: Buffer): OutputFormat | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 12 && bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  return null;
}

const MIME: Readonly<Record<OutputFormat, string>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** The Content-Type a stored or served image of this format carries. */
export function mimeOf(format: OutputFormat): string {
  return MIME[format];
}
