import type { ImagesResponse } from './images-response.ts';

/**
 * Serializes an ImagesResponse straight to bytes. `JSON.stringify` scans every character of a
 * multi-megabyte base64 string for escapes and the socket write then re-encodes the result as
 * UTF-8; base64 is plain ASCII with nothing to escape (the gateway produced it, or checked the
 * upstream's, see `decodeBase64Image`), so it is copied in as Latin-1 bytes instead. On a 1.4 MB
 * image this is the difference between milliseconds and a memcpy.
 */
export function imagesResponseBody(body: ImagesResponse): Buffer {
  const { data, ...rest } = body;
  const head = JSON.stringify(rest);
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"data":[`, 'utf8')];
  data.forEach((item, index) => {
    if (index > 0) parts.push(Buffer.from(',', 'latin1'));
    if ('b64_json' in item) {
      const { b64_json: base64, ...others } = item;
      const tail = JSON.stringify(others);
      parts.push(Buffer.from('{"b64_json":"', 'latin1'), Buffer.from(base64, 'latin1'), Buffer.from(`"${tail.length > 2 ? `,${tail.slice(1)}` : '}'}`, 'utf8'));
    } else {
      parts.push(Buffer.from(JSON.stringify(item), 'utf8'));
    }
  });
  parts.push(Buffer.from(']}', 'latin1'));
  return Buffer.concat(parts);
}
