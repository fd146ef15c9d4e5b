/*
 * Base64 (RFC 4648 §4, the standard alphabet with padding) kept as ASCII bytes.
 *
 * Upstreams answer images as base64 inside JSON, and a b64_json client wants the same text back.
 * Held as a JavaScript string, each 1.5 MB value is copied into memory V8 counts as external, and
 * under load those copies, not the work, decide how often V8 runs a full garbage collection. So
 * the gateway keeps base64 as the bytes it arrived in (a view into the upstream's answer) and
 * decodes it in pieces small enough to live and die in the young generation.
 */

/** Characters decoded per step: a multiple of 4 (whole quanta), and far below V8's external-string size. */
const PIECE_CHARS = 64 * 1024;
const EQUALS = 0x3d;

/**
 * The bytes a base64 text encodes, or null when it is not strict base64: empty, a length that is
 * not a multiple of 4, or any character outside the alphabet (including whitespace and padding
 * before the end, and base64url's '-' and '_'). Node's decoder skips characters it does not know,
 * so a text with one shows up as fewer bytes than its length promises: counting them per piece is
 * the check. It also reads base64url's two letters as if they were '+' and '/', so those are looked
 * for (a memchr each): a text the gateway may pass on to a client as b64_json must be standard.
 *
 * `allocate` gives the buffer the bytes are decoded into (exactly the decoded length); by default
 * a new one.
 */
export function decodeBase64(text: string | Buffer, allocate: (bytes: number) => Buffer = (bytes) => Buffer.allocUnsafe(bytes)): Buffer | null {
  if (text.length === 0 || text.length % 4 !== 0 || text.includes('-') || text.includes('_')) return null;
  if (typeof text === 'string') {
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    const bytes = Buffer.from(text, 'base64');
    return bytes.length === (text.length / 4) * 3 - padding ? bytes : null;
  }
  const padding = text[text.length - 1] === EQUALS ? (text[text.length - 2] === EQUALS ? 2 : 1) : 0;
  const decoded = allocate((text.length / 4) * 3 - padding);
  let written = 0;
  for (let from = 0; from < text.length; from += PIECE_CHARS) {
    const to = Math.min(text.length, from + PIECE_CHARS);
    const expected = to === text.length ? decoded.length - written : ((to - from) / 4) * 3;
    // A '=' inside a piece ends Node's decoding early, which the count catches as well.
    if (decoded.write(text.toString('latin1', from, to), written, 'base64') !== expected) return null;
    written += expected;
  }
  return decoded;
}

/** The base64 text of some bytes, as ASCII bytes (for a JSON body written without escaping). */
export function encodeBase64(bytes: Buffer): Buffer {
  return Buffer.from(bytes.toString('base64'), 'latin1');
}

/** Base64 as bytes, whichever form a provider produced it in. */
export function base64Bytes(text: string | Buffer): Buffer {
  return typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
}
