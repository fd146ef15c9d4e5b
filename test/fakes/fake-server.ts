import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';

/** A request the fake received, as the upstream would see it. */
export interface Received {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
  /** The body parsed as JSON, when it is JSON. */
  readonly json: unknown;
}

/**
 * Faults a test can queue; each request consumes the next one (then `ok`). They mirror what real
 * upstreams do: slow answers, 5xx, 429 with Retry-After, bodies cut short, bodies that are not
 * JSON, bad base64, a connection that never answers, and a safety refusal.
 */
export type Fault =
  | { kind: 'ok' }
  | { kind: 'delay'; ms: number }
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'rate_limit'; retryAfterSeconds?: number; retryAfterMs?: number }
  | { kind: 'truncate' }
  | { kind: 'invalid_json' }
  | { kind: 'bad_base64' }
  | { kind: 'stall' }
  | { kind: 'moderation' }
  | { kind: 'url_answer' }
  | { kind: 'ignore_format' }
  | { kind: 'stall_stream' }
  | { kind: 'auth' }
  /** Answers `status` with an error whose message quotes the Authorization header it received. */
  | { kind: 'echo_auth'; status: number }
  /** Streams one partial image, then an error event quoting the Authorization header. */
  | { kind: 'echo_auth_stream' }
  /** Answers normally but reports this `usage` (in each completed event, when streaming). */
  | { kind: 'usage'; usage: unknown }
  /** The answer compressed with this Content-Encoding (some upstreams compress unasked). */
  | { kind: 'compress'; encoding: 'gzip' | 'br' | 'deflate' };

export type Handler = (received: Received, fault: Fault, res: ServerResponse) => Promise<void> | void;

/** A small HTTP server on 127.0.0.1:0 that records requests and plays queued faults. */
export class FakeServer {
  readonly received: Received[] = [];
  readonly #faults: Fault[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #handler: Handler;
  /** Picks the fault of a request when none is queued (a soak's random faults); `ok` without one. */
  #picker: (() => Fault) | null = null;
  /** Requests that ended because the client went away (to check abort propagation). */
  aborted = 0;
  /** Keep the requests in `received` (a soak of thousands turns it off). */
  record = true;

  constructor(handler: Handler) {
    this.#handler = handler;
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  get url(): string {
    const address = this.#server.address() as AddressInfo;
    return `http://127.0.0.1:${address.port}`;
  }

  get openConnections(): number {
    return this.#sockets.size;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** Queues faults for the next requests, in order. */
  queue(...faults: Fault[]): this {
    this.#faults.push(...faults);
    return this;
  }

  /** Every request without a queued fault gets `picker()`'s (e.g. a random fault 20% of the time). */
  pickFaults(picker: (() => Fault) | null): this {
    this.#picker = picker;
    return this;
  }

  reset(): void {
    this.received.length = 0;
    this.#faults.length = 0;
    this.aborted = 0;
  }

  count(pathPart: string): number {
    return this.received.filter((r) => r.path.includes(pathPart)).length;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let json: unknown;
    try {
      json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
    } catch {
      json = undefined;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const received: Received = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body, json };
    if (this.record) this.received.push(received);
    res.on('close', () => {
      if (!res.writableFinished) this.aborted += 1;
    });
    const fault = this.#faults.shift() ?? this.#picker?.() ?? { kind: 'ok' };
    if (fault.kind === 'stall') return; // never answers; the client must time out
    if (fault.kind === 'delay') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, fault.ms);
        res.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (res.destroyed) return;
    }
    try {
      await this.#handler(received, fault, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } });
    }
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Sends a JSON body compressed with `encoding`, declaring it in Content-Encoding. */
export function sendCompressed(res: ServerResponse, status: number, body: unknown, encoding: 'gzip' | 'br' | 'deflate'): void {
  const text = Buffer.from(JSON.stringify(body));
  // Brotli's default quality (11) takes seconds on a megabyte of base64; servers use ~4 on the fly.
  const bytes =
    encoding === 'gzip'
      ? gzipSync(text)
      : encoding === 'br'
        ? brotliCompressSync(text, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } })
        : deflateSync(text);
  res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': bytes.length });
  res.end(bytes);
}

/** Sends the first half of a JSON body with a Content-Length for all of it, then cuts the socket. */
export function sendTruncated(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.write(text.slice(0, Math.floor(text.length / 2)));
  setTimeout(() => res.destroy(), 5);
}
