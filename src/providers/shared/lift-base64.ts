/**
 * Parses an OpenAI-shaped JSON answer without running the JSON parser over its images.
 *
 * A gpt-image answer is a few hundred bytes of JSON around megabytes of base64 in `b64_json`
 * fields. Decoding all of it as UTF-8 and handing it to JSON.parse costs milliseconds per image;
 * base64 needs neither (it is ASCII and JSON escapes never occur in it). So each `"b64_json":"…"`
 * value is lifted out of the raw bytes, the small remainder is parsed, and the values come back as
 * views into the raw bytes (no copy: see media/base64.ts). Anything unexpected (an escape inside
 * the value, a marker that turns out to be inside another string) returns null and the caller
 * parses normally.
 */
export interface LiftedJson {
  readonly json: unknown;
  /** The lifted base64 values, by the index in their placeholder: views into the raw answer. */
  readonly base64: readonly Buffer[];
}

const MARKER = Buffer.from('"b64_json"', 'latin1');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
// The NUL makes a placeholder no JSON string a client or upstream sends can collide with.
// eslint-disable-next-line no-control-regex
const PLACEHOLDER = /^\u0000imagegate-b64:(\d+)$/;

export function parseLiftingBase64(raw: Buffer): LiftedJson | null {
  const pieces: Buffer[] = [];
  const base64: Buffer[] = [];
  let from = 0;
  for (let at = raw.indexOf(MARKER, from); at !== -1; at = raw.indexOf(MARKER, from)) {
    let cursor = skipSpace(raw, at + MARKER.length);
    if (raw[cursor] !== COLON) return null;
    cursor = skipSpace(raw, cursor + 1);
    if (raw[cursor] !== QUOTE) {
      from = cursor; // b64_json: null and the like; left to the parser
      continue;
    }
    const start = cursor + 1;
    const end = raw.indexOf(QUOTE, start);
    if (end === -1) return null;
    const backslash = raw.indexOf(BACKSLASH, start);
    if (backslash !== -1 && backslash < end) return null;
    pieces.push(raw.subarray(from, start), Buffer.from(`\\u0000imagegate-b64:${base64.length}`, 'latin1'));
    base64.push(raw.subarray(start, end));
    from = end;
  }
  if (base64.length === 0) return null;
  pieces.push(raw.subarray(from));
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(pieces).toString('utf8'));
  } catch {
    return null;
  }
  return { json, base64 };
}

/** The lifted value a placeholder stands for, or the value itself when it is no placeholder. */
export function restoreBase64(value: string | null | undefined, lifted: readonly Buffer[], used: Set<number>): string | Buffer | null | undefined {
  if (typeof value !== 'string') return value;
  const match = PLACEHOLDER.exec(value);
  if (match === null) return value;
  const index = Number(match[1]);
  used.add(index);
  return lifted[index];
}

function skipSpace(raw: Buffer, at: number): number {
  let cursor = at;
  while (raw[cursor] === 0x20 || raw[cursor] === 0x0a || raw[cursor] === 0x0d || raw[cursor] === 0x09) cursor += 1;
  return cursor;
}
