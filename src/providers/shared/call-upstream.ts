import { request } from 'undici';
import { GatewayError } from '../../errors.ts';
import { decodedBody } from '../../http/decode-body.ts';
import type { Channel } from '../types.ts';
import { malformedResponse } from './upstream-errors.ts';

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw body (OpenAI-shaped answers lift their base64 out of it without decoding it). */
  readonly body: Buffer;
  /** The body as UTF-8 text, decoded on first use. */
  readonly text: string;
}

function upstreamResponse(status: number, headers: UpstreamResponse['headers'], body: Buffer): UpstreamResponse {
  let text: string | undefined;
  return {
    status,
    headers,
    body,
    get text(): string {
      text ??= body.toString('utf8');
      return text;
    },
  };
}

/**
 * The largest upstream answer read: ten 4K images as base64 JSON fit well below it, and a runaway
 * or hostile upstream cannot make the gateway buffer without bound.
 */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/**
 * One HTTP call to an upstream over the channel's pool. Connection failures, resets and truncated
 * bodies become retryable `upstream_error`s; the caller's signal (client gone, attempt timeout,
 * deadline) aborts the call and is rethrown as is, so the router can tell which one fired.
 */
export async function callUpstream(
  channel: Channel,
  options: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string | Buffer; signal: AbortSignal },
): Promise<UpstreamResponse> {
  let connected = false;
  try {
    const response = await request(options.url, {
      method: options.method,
      headers: options.headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      dispatcher: channel.http.dispatcher,
      signal: options.signal,
    });
    connected = true;
    // Bodies are read a few at a time process-wide (ChannelHttp.acquireBodyRead), so a burst of
    // multi-megabyte answers waits in socket buffers instead of the heap.
    const release = await channel.http.acquireBodyRead(options.signal);
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of decodedBody(response.body, response.headers['content-encoding'], channel.provider)) {
        const buffer = chunk as Buffer;
        total += buffer.length;
        if (total > MAX_RESPONSE_BYTES) {
          response.body.destroy();
          throw new GatewayError('upstream_error', `The upstream provider (${channel.provider}) answered with more than ${MAX_RESPONSE_BYTES} bytes.`, {
            retryable: true,
          });
        }
        chunks.push(buffer);
      }
      return upstreamResponse(response.statusCode, response.headers, Buffer.concat(chunks, total));
    } finally {
      release();
    }
  } catch (err) {
    if (options.signal.aborted) throw options.signal.reason;
    if (err instanceof GatewayError) throw err;
    const what = connected ? 'The answer of the upstream provider' : 'The connection to the upstream provider';
    throw new GatewayError('upstream_error', `${what} (${channel.provider}) failed: ${(err as Error).message}.`, {
      retryable: true,
      cause: err,
    });
  }
}

/** Parses a JSON body; a truncated or garbled one is a retryable upstream fault. */
export function parseJson(provider: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw malformedResponse(provider, 'the body is not valid JSON', err);
  }
}

/**
 * Decodes standard base64 strictly. Node's decoder silently skips characters outside the
 * alphabet, so garbage shows up as fewer bytes than the text's length promises: comparing the two
 * is an O(1) check where a regular expression over megabytes of text would cost milliseconds.
 */
export function decodeBase64Image(provider: string, text: unknown): Buffer {
  if (typeof text !== 'string' || text.length === 0 || text.length % 4 !== 0) {
    throw malformedResponse(provider, 'an image is not valid base64');
  }
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== (text.length / 4) * 3 - padding) throw malformedResponse(provider, 'an image is not valid base64');
  return bytes;
}
