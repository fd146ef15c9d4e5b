import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Milliseconds from connecting to the server closing the connection (or the answer ending). */
  readonly elapsedMs: number;
}

/**
 * Writes `bytes` on a fresh TCP connection exactly as given (no client library to fix them up)
 * and reads until the server closes it or `timeoutMs` passes. `trickle` is written again every
 * 100 ms afterwards, as a slow client does, until the connection closes.
 */
export async function rawExchange(port: number, bytes: string | Buffer, options: { timeoutMs?: number; trickle?: string } = {}): Promise<RawAnswer> {
  const started = Date.now();
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let trickler: NodeJS.Timeout | undefined;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${options.timeoutMs ?? 10_000} ms; got: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`));
    }, options.timeoutMs ?? 10_000);
    socket.on('connect', () => {
      socket.write(bytes);
      if (options.trickle !== undefined) {
        const piece = options.trickle;
        trickler = setInterval(() => {
          if (!socket.destroyed && socket.writable) socket.write(piece);
        }, 100);
      }
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      clearInterval(trickler);
      try {
        resolve({ ...parseAnswer(Buffer.concat(chunks).toString('utf8')), elapsedMs: Date.now() - started });
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Opens a connection and leaves it to the caller (for connection caps and shutdown tests). */
export async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Reads one HTTP/1.1 answer off `socket` until it closes. */
export async function readUntilClose(socket: Socket, timeoutMs = 10_000): Promise<RawAnswer> {
  const started = Date.now();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not close within ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { ...parseAnswer(Buffer.concat(chunks).toString('utf8')), elapsedMs: Date.now() - started };
}

export function parseAnswer(text: string): Omit<RawAnswer, 'elapsedMs'> {
  const split = text.indexOf('\r\n\r\n');
  if (split === -1) return { status: 0, headers: {}, body: text };
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: text.slice(split + 4) };
}

/** A request with the path sent as written (fetch would normalise it), over a fresh connection. */
export function requestRaw(
  port: number,
  method: string,
  rawPath: string,
  options: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: rawPath, headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface Envelope {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

/** Asserts `text` is exactly the OpenAI error envelope (four keys, right types) and returns it. */
export function assertEnvelope(text: string, context = ''): Envelope {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    assert.fail(`not JSON ${context}: ${JSON.stringify(text.slice(0, 300))}`);
  }
  assert.ok(typeof parsed === 'object' && parsed !== null && 'error' in parsed, `no error object ${context}: ${text.slice(0, 300)}`);
  const error: unknown = parsed.error;
  assert.ok(typeof error === 'object' && error !== null, `error is not an object ${context}`);
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message', 'param', 'type'], context);
  const fields = new Map(Object.entries(error));
  const [message, type, param, code] = [fields.get('message'), fields.get('type'), fields.get('param'), fields.get('code')];
  assert.equal(typeof message, 'string', context);
  assert.equal(typeof type, 'string', context);
  assert.ok(param === null || typeof param === 'string', context);
  assert.ok(code === null || typeof code === 'string', context);
  return { error: { message: String(message), type: String(type), param: param === null ? null : String(param), code: code === null ? null : String(code) } };
}

/** The port of a `http://127.0.0.1:PORT` base URL. */
export function portOf(baseUrl: string): number {
  return Number(new URL(baseUrl).port);
}
