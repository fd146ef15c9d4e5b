import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.ts';
import { errorResponseParts, rawErrorResponse } from './raw-error-response.ts';
import { newRequestId } from './request-id.ts';

/** How long a refused connection may go on sending before it is closed hard. */
const LINGER_MS = 1000;

/**
 * Node's `clientError`: the HTTP parser refused the bytes before any request existed (duplicate
 * Content-Length, bad chunking, a header block over the limit, a header or body that did not
 * arrive in time). Fastify's default answers these with its own body shape; here they get the
 * OpenAI envelope like every other error. The connection is half-closed after the answer and
 * closed once the peer stops or LINGER_MS passes: destroying it at once, with the client's bytes
 * still unread, makes the kernel send a reset that can discard our answer before it is read.
 */
export function createClientErrorHandler(deps: { logger: Logger; isShuttingDown: () => boolean; limits: ClientErrorLimits }) {
  const answered = new WeakSet<Socket>();
  return (err: Error & { code?: string; reason?: unknown }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    if (answered.has(socket)) return;
    answered.add(socket);
    const error = describeClientError(err, deps.isShuttingDown(), deps.limits);
    const requestId = newRequestId();
    // debug, not info: a client can cause these at any rate, and each is answered already.
    deps.logger.debug({ reqId: requestId, code: err.code, status: error.status }, 'request refused by the HTTP parser');
    // An answer already under way on this connection cannot be followed by another one.
    const inFlight: unknown = Reflect.get(socket, '_httpMessage');
    const started = inFlight instanceof ServerResponse && inFlight.headersSent;
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
    if (started || !socket.writable) {
      socket.destroy();
      return;
    }
    // Half-close: what the client still sends is read (any further parser error is ignored above)
    // until it closes or the linger timer does.
    socket.end(rawErrorResponse(error, requestId));
  };
}

export interface ClientErrorLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxHeaderBytes: number;
}

function describeClientError(err: Error & { code?: string; reason?: unknown }, shuttingDown: boolean, limits: ClientErrorLimits): GatewayError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      if (shuttingDown) return shutdownRefusal();
      return new GatewayError(
        'request_timeout',
        `The request did not arrive in time: the headers must arrive within ${limits.headersTimeoutMs / 1000} s and the whole request, body included, within ${limits.requestTimeoutMs / 1000} s.`,
      );
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError(
        'request_header_fields_too_large',
        `The request's headers are larger than the ${Math.floor(limits.maxHeaderBytes / 1024)} KB accepted.`,
      );
    default: {
      // llhttp's reason ("Duplicate Content-Length", "Invalid character in chunk size") is
      // fixed parser text, not client input; kept to printable ASCII all the same.
      const reason = typeof err.reason === 'string' ? err.reason.replace(/[^\x20-\x7e]/g, '').slice(0, 120) : '';
      return new GatewayError('malformed_request', `The HTTP request could not be parsed${reason === '' ? '' : `: ${reason}`}.`);
    }
  }
}

/** The refusal of a request that comes in, or is cut short, while the server stops. */
export function shutdownRefusal(): GatewayError {
  return new GatewayError('service_unavailable', 'The server is shutting down; retry on another instance.', { retryAfterSeconds: 1 });
}

/**
 * Node's `checkExpectation`: an `Expect` header other than `100-continue`. Node's own answer is
 * an empty 417; this one is the envelope.
 */
export function answerUnknownExpectation(req: IncomingMessage, res: ServerResponse): void {
  const expectation = req.headers.expect ?? '';
  const error = new GatewayError(
    'expectation_failed',
    `The server cannot meet the expectation '${expectation.replace(/[^\x20-\x7e]/g, '').slice(0, 60)}'; only '100-continue' is supported.`,
    {
      param: 'Expect',
    },
  );
  const { status, headers, text } = errorResponseParts(error, newRequestId());
  res.writeHead(status, headers).end(text);
}
