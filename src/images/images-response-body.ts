import type { ImagesResponse } from './images-response.ts';

/**
 * Serializes an ImagesResponse to the pieces of its JSON body, in order. `JSON.stringify` would
 * scan every character of a multi-megabyte base64 string for escapes, and joining the pieces would
 * copy the megabytes again; base64 is plain ASCII with nothing to escape (the gateway produced it,
 * or checked the upstream's, see media/base64.ts), so each image's bytes are a piece of their own,
 * written to the socket as they are (api/send-body.ts).
 */
export function imagesResponseBody(body: ImagesResponse): Buffer[] {
  const { data, ...rest } = body;
  const head = JSON.stringify(rest);
  let text = `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"data":[`;
  const parts: Buffer[] = [];
  data.forEach((item, index) => {
    if (index > 0) text += ',';
    if ('b64_json' in item) {
      const { b64_json: base64, ...others } = item;
      const tail = JSON.stringify(others);
      parts.push(Buffer.from(`${text}{"b64_json":"`, 'utf8'), base64);
      text = `"${tail.length > 2 ? `,${tail.slice(1)}` : '}'}`;
    } else {
      text += JSON.stringify(item);
    }
  });
  parts.push(Buffer.from(`${text}]}`, 'utf8'));
  return parts;
}
