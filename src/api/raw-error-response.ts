import { STATUS_CODES } from 'node:http';
import { errorHeaders, type GatewayError, renderError } from '../errors.ts';

/** An error answer's status, headers and JSON text, for code that writes to Node's response itself. */
export function errorResponseParts(err: GatewayError, requestId: string): { status: number; headers: Record<string, string>; text: string } {
  const { status, body } = renderError(err, requestId);
  const text = JSON.stringify(body);
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      connection: 'close',
      'x-request-id': requestId,
      ...errorHeaders(err),
    },
    text,
  };
}

/**
 * A whole HTTP/1.1 error response as bytes, for the places that answer below the framework: the
 * HTTP parser's refusals (no request object exists yet) and connections cut at shutdown. The body
 * is the same OpenAI envelope `renderError` gives every other answer, and the connection closes
 * after it, because after a framing error nothing more on it can be trusted.
 */
export function rawErrorResponse(err: GatewayError, requestId: string): string {
  const { status, headers, text } = errorResponseParts(err, requestId);
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n${head}\r\n${text}`;
}
