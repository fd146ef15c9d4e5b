import { pipeline, type Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createZstdDecompress } from 'node:zlib';
import { GatewayError } from '../errors.ts';

/**
 * The decoders for the `Content-Encoding`s an upstream may answer with (RFC 9110 §8.4.1). undici's
 * `request`, unlike `fetch`, hands the body over as it came off the wire, so a gzip or br answer
 * would otherwise be taken for a garbled one. Decoded bytes are what the callers' size caps count,
 * so a small compressed answer cannot expand past them (a zip bomb stops at the cap).
 */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
  zstd: createZstdDecompress,
};

/** More layers than any real server sends; a longer chain is refused, not unwound. */
const MAX_LAYERS = 2;

/**
 * The body with its content codings undone, last applied first. `identity` and no header leave
 * it as it is; an unknown coding is an upstream fault (not retryable: it would answer the same).
 */
export function decodedBody(body: Readable, contentEncoding: string | string[] | undefined, provider: string): Readable {
  const header = Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? '');
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return body;
  if (codings.length > MAX_LAYERS) {
    discard(body);
    throw new GatewayError('upstream_error', `The upstream (${provider}) answered with ${codings.length} content codings; at most ${MAX_LAYERS} are undone.`);
  }
  const decoders = codings.reverse().map((coding) => {
    const make = DECODERS[coding];
    if (make === undefined) {
      discard(body);
      throw new GatewayError(
        'upstream_error',
        `The upstream (${provider}) answered with an unsupported Content-Encoding '${coding.replace(/[^\x21-\x7e]/g, '?').slice(0, 40)}'.`,
      );
    }
    return make();
  });
  // pipeline destroys every stage when one fails or the reader stops early, and hands the error
  // (a corrupt gzip stream, a reset) to the last stage, where the caller's loop sees it.
  let decoded: Readable = body;
  for (const decoder of decoders) decoded = pipeline(decoded, decoder, () => {});
  return decoded;
}

/** Drops a body that will not be read; the abort error it then emits has nobody to tell. */
function discard(body: Readable): void {
  body.once('error', () => {});
  body.destroy();
}
