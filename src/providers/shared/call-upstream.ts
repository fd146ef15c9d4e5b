import { request } from 'undici';
import { GatewayError } from '../../errors.ts';
import type { Channel } from '../types.ts';
import { malformedResponse } from './upstream-errors.ts';

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as text (JSON answers are parsed by the adapter, once). */
  readonly text: string;
}

/**
 * One HTTP call to an upstream over the channel's pool. Connection failures, resets and truncated
 * bodies become retryable `upstream_error`s; the caller's signal (client gone, attempt timeout,
 * deadline) aborts the call and is rethrown as is, so the router can tell which one fired.
 */
export async function callUpstream(
  channel: Channel,
  options: { method: 'GET' | 'POST'; url: string; headers: Record<string, string>; body?: string | Buffer; signal: AbortSignal },
): Promise<UpstreamResponse> {
  try {
    const response = await request(options.url, {
      method: options.method,
      headers: options.headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      dispatcher: channel.http.dispatcher,
      signal: options.signal,
    });
    const text = await response.body.text();
    return { status: response.statusCode, headers: response.headers, text };
  } catch (err) {
    if (options.signal.aborted) throw options.signal.reason;
    if (err instanceof GatewayError) throw err;
    throw new GatewayError('upstream_error', `Could not reach the upstream provider (${channel.provider}): ${(err as Error).message}.`, {
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
