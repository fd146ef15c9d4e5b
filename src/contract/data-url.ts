import { GatewayError } from '../errors.ts';

/** A `data:` URL's payload, decoded, and the media type it claims (only a claim). */
export interface DataUrl {
  readonly declaredType: string;
  readonly bytes: Buffer;
}

const DATA_URL = /^data:([^,;]*)((?:;[^,;]*)*?)(;base64)?,/i;
const PERCENT = 0x25;

/**
 * Decodes a `data:` URL (RFC 2397), or returns null for any other URL. Without `;base64` the
 * payload is percent-encoded bytes: each `%` must be followed by two hex digits, else the URL is
 * the client's error, a 400 naming `param` (decodeURIComponent would throw, and would also refuse
 * every byte above 0x7f that is not UTF-8, which is most of an image). Other characters stand for
 * their UTF-8 bytes, as the URL standard serialises them.
 */
export function decodeDataUrl(url: string, param: string): DataUrl | null {
  const header = DATA_URL.exec(url);
  if (header === null) return null;
  const payload = url.slice(header[0].length);
  const declaredType = header[1] ?? '';
  if (header[3] !== undefined) return { declaredType, bytes: Buffer.from(payload, 'base64') };
  const text = Buffer.from(payload, 'utf8');
  if (!text.includes(PERCENT)) return { declaredType, bytes: text };
  const bytes = Buffer.allocUnsafe(text.length);
  let length = 0;
  for (let index = 0; index < text.length; index += 1) {
    const byte = text[index] ?? 0;
    if (byte !== PERCENT) {
      bytes[length++] = byte;
      continue;
    }
    const high = hexValue(text[index + 1]);
    const low = hexValue(text[index + 2]);
    if (high === null || low === null) {
      const escape = text
        .subarray(index, index + 3)
        .toString('latin1')
        .replace(/[^\x21-\x7e]/g, '?');
      throw new GatewayError(
        'invalid_value',
        `Invalid value for '${param}': the data URL has a bad percent-escape '${escape}'; write each byte as '%' and two hex digits, or use ';base64'.`,
        { param },
      );
    }
    bytes[length++] = high * 16 + low;
    index += 2;
  }
  return { declaredType, bytes: bytes.subarray(0, length) };
}

function hexValue(byte: number | undefined): number | null {
  if (byte === undefined) return null;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return null;
}
