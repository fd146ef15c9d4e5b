import type { FastifyRequest } from 'fastify';
import { GatewayError } from '../errors.ts';

/*
 * What every route may assume of the raw request before its own validation runs, checked once for
 * all routes (DESIGN.md: establish an invariant once at its owning boundary):
 *
 * - every query parameter is one string: `?after=a&after=b` arrives from the query parser as an
 *   array, which no route expects (SQL saw a row value). No route takes a repeated parameter; one
 *   that should would say so here.
 * - no text carries a NUL character, in the path, the query or the JSON body: PostgreSQL cannot
 *   store U+0000 in text ("invalid byte sequence for encoding UTF8: 0x00") and SQLite cuts C
 *   strings at it, so both databases refuse it alike by never seeing it.
 * - an HTTP/1.1 request names its Host (RFC 9112 §3.2). Node checks this itself, but answers with
 *   an empty 400; the check is done here so the refusal is an OpenAI envelope.
 */

/** `onRequest`: the request line and headers (the body has not been read yet). */
export function checkRequestLine(request: FastifyRequest): void {
  if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
    throw new GatewayError('malformed_request', 'The request has no Host header, which HTTP/1.1 requires.', { param: 'Host' });
  }
  for (const [name, value] of entriesOf(request.params)) {
    if (typeof value === 'string' && value.includes('\u0000')) throw nulRefusal(name);
  }
  for (const [name, value] of entriesOf(request.query)) {
    if (name.includes('\u0000')) throw nulRefusal(name);
    if (Array.isArray(value)) {
      throw new GatewayError('invalid_value', `Invalid value for '${printable(name)}': the query parameter was sent ${value.length} times; send it once.`, {
        param: printable(name),
      });
    }
    if (typeof value === 'string' && value.includes('\u0000')) throw nulRefusal(name);
  }
}

/** `preValidation`: the parsed JSON body, every key and string at any depth. */
export function checkBodyText(request: FastifyRequest): void {
  const at = firstNul(request.body);
  if (at !== null) throw nulRefusal(at);
}

function nulRefusal(param: string): GatewayError {
  return new GatewayError('invalid_value', `Invalid value for '${printable(param)}': text may not contain NUL (\\u0000) characters.`, {
    param: printable(param),
  });
}

/** The path (`images[0].image_url`) of the first key or string holding a NUL, or null. */
function firstNul(body: unknown): string | null {
  // Iterative: a deeply nested body must not be able to overflow the stack.
  const pending: Array<{ value: unknown; path: string }> = [{ value: body, path: '' }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path === '' ? 'body' : path;
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index -= 1) pending.push({ value: value[index], path: `${path}[${index}]` });
    } else if (typeof value === 'object' && value !== null) {
      const entries: Array<[string, unknown]> = Object.entries(value);
      for (let index = entries.length - 1; index >= 0; index -= 1) {
        const [key, child] = entries[index] ?? ['', undefined];
        const childPath = path === '' ? key : `${path}.${key}`;
        if (key.includes('\u0000')) return childPath;
        pending.push({ value: child, path: childPath });
      }
    }
  }
  return null;
}

function entriesOf(value: unknown): Array<[string, unknown]> {
  return typeof value === 'object' && value !== null ? Object.entries(value) : [];
}

/** A parameter name as it can be shown: control characters written as escapes. */
function printable(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is escaped here
  const shown = name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return shown.length > 100 ? `${shown.slice(0, 100)}…` : shown;
}
