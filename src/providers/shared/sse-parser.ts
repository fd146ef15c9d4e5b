/** One server-sent event: its `event:` name (or 'message') and its joined `data:` lines. */
export interface ServerSentEvent {
  readonly event: string;
  readonly data: string;
}

/**
 * Incremental parser for `text/event-stream` (WHATWG HTML §9.2): feed it chunks as they arrive,
 * get whole events back. Handles \n and \r\n, comment lines (`:`), multi-line data, and one
 * optional space after the colon. Chunks are kept as a list and joined once per event, so an
 * event carrying megabytes of base64 is not rebuilt by repeated string concatenation.
 */
export class SseParser {
  #pending: string[] = [];

  push(chunk: string): ServerSentEvent[] {
    this.#pending.push(chunk);
    if (!chunk.includes('\n')) return [];
    const text = this.#pending.join('');
    const events: ServerSentEvent[] = [];
    let start = 0;
    for (;;) {
      const boundary = findBoundary(text, start);
      if (boundary === null) break;
      const event = parseBlock(text.slice(start, boundary.at));
      if (event !== null) events.push(event);
      start = boundary.at + boundary.length;
    }
    this.#pending = start < text.length ? [text.slice(start)] : [];
    return events;
  }

  /** What is left at the end of the stream (an event without its blank line is still dispatched). */
  end(): ServerSentEvent[] {
    const text = this.#pending.join('');
    this.#pending = [];
    const event = text.trim() === '' ? null : parseBlock(text);
    return event === null ? [] : [event];
  }
}

function findBoundary(text: string, from: number): { at: number; length: number } | null {
  const lf = text.indexOf('\n\n', from);
  const crlf = text.indexOf('\r\n\r\n', from);
  if (lf === -1 && crlf === -1) return null;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) return { at: crlf, length: 4 };
  return { at: lf, length: 2 };
}

function parseBlock(block: string): ServerSentEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const rawLine of block.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length === 0 ? null : { event, data: data.join('\n') };
}
