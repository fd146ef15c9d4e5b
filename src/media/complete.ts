import type { OutputFormat } from '../catalog/index.ts';

/*
 * A cheap structural check that an image was not cut short, for the fast path that hands bytes on
 * without decoding them. A truncated upstream body (a dropped connection, a body limit) still has
 * valid magic bytes and a valid header, so sharp's metadata would accept it; these checks read
 * only container framing, never pixel data.
 */

/** Whether the container framing of these bytes (already sniffed as `format`) is whole. */
export function isStructurallyComplete(bytes: Buffer, format: OutputFormat): boolean {
  switch (format) {
    case 'png':
      return pngComplete(bytes);
    case 'jpeg':
      return jpegComplete(bytes);
    case 'webp':
      return webpComplete(bytes);
  }
}

/** Walks the chunk list (RFC 2083 §3.2: length, type, data, CRC) until IEND, inside the buffer. */
function pngComplete(bytes: Buffer): boolean {
  let offset = 8;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const next = offset + 12 + length;
    if (next > bytes.length) return false;
    if (type === 'IEND') return true;
    offset = next;
  }
  return false;
}

/** A JPEG ends with the EOI marker FF D9 (ITU T.81 §B.2.1); trailing zero padding is tolerated. */
function jpegComplete(bytes: Buffer): boolean {
  let end = bytes.length;
  while (end > 2 && bytes[end - 1] === 0x00) end -= 1;
  return end >= 4 && bytes[end - 2] === 0xff && bytes[end - 1] === 0xd9;
}

/** The RIFF header states the payload size (RFC 9649 §2.5); all of it must be present. */
function webpComplete(bytes: Buffer): boolean {
  if (bytes.length < 20) return false;
  const riffSizeBytes = bytes.readUInt32LE(4);
  return riffSizeBytes + 8 <= bytes.length;
}
