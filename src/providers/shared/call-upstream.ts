import type { Readable } from 'node:stream';
import { request } from 'undici';
import { GatewayError } from '../../errors.ts';
import { decodedBody } from '../../http/decode-body.ts';
import { decodeBase64 } from '../../media/base64.ts';
import type { Channel, Retain } from '../types.ts';
import { malformedResponse } from './upstream-errors.ts';

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The raw body (OpenAI-shaped answers lift their base64 out of it without decoding it). */
  readonly body: Buffer;
  /** The body as UTF-8 text, decoded on first use. */
  readonly text: string;
  /**
   * Set when the body was read into a retained turn's pooled memory (`callUpstream`'s `retain`):
   * buffers from the same pool, for the images decoded from this body.
   */
  readonly scratch?: (bytes: number) => Buffer;
}

function upstreamResponse(status: number, headers: UpstreamResponse['headers'], body: Buffer, scratch?: (bytes: number) => Buffer): UpstreamResponse {
  let text: string | undefined;
  return {
    status,
    headers,
    body,
    ...(scratch === undefined ? {} : { scratch }),
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
 *
 * `retain` (the call's `ProviderCall.retain`, for the request whose answer carries the images):
 * a 200 answer's body-read turn is handed to it instead of ending when the body is read, and a
 * body of known length is read into the turn's pooled buffer.
 */
export async function callUpstream(
  channel: Channel,
  options: {
    method: 'GET' | 'POST';
    url: string;
    headers: Record<string, string>;
    body?: string | Buffer;
    signal: AbortSignal;
    retain?: Retain | undefined;
  },
): Promise<UpstreamResponse> {
  let connected = false;
  try {
    const response = await request(options.url, {
      method: options.method,
      headers: options.headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      dispatcher: channel.http.dispatcher,
      signal: options.signal,
      // What an answer waiting for its turn may buffer (undici's default is 64 KiB): a thousand
      // answers arriving at once then hold 16 MB here, and the rest of them stays in the kernel.
      highWaterMark: 16 * 1024,
    });
    connected = true;
    // Upstream answers are held in memory a few at a time process-wide (http/body-reads.ts), so a
    // burst of multi-megabyte answers waits in socket buffers instead of the heap.
    const turn = await channel.http.acquireBodyRead(options.signal);
    const retain = response.statusCode === 200 ? options.retain : undefined;
    let handedOver = false;
    try {
      const body = decodedBody(response.body, response.headers['content-encoding'], channel.provider);
      // Read into the turn's pooled buffer only when the turn lasts as long as the answer does.
      const declared = body === response.body ? declaredLength(response.headers['content-length']) : null;
      const pooled = retain !== undefined && declared !== null;
      const bytes = pooled ? await readInto(turn.scratch(declared), body) : await readAll(body);
      if (bytes === null) throw tooLarge(channel);
      if (retain !== undefined) {
        retain(turn);
        handedOver = true;
      }
      return upstreamResponse(response.statusCode, response.headers, bytes, pooled ? (size) => turn.scratch(size) : undefined);
    } finally {
      if (!handedOver) turn.release();
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

/** Content-Length as a byte count within the cap, or null (absent, malformed, too large). */
function declaredLength(header: string | string[] | undefined): number | null {
  if (typeof header !== 'string' || !/^\d{1,10}$/.test(header)) return null;
  const bytes = Number(header);
  return bytes <= MAX_RESPONSE_BYTES ? bytes : null;
}

/** The whole body, or null past MAX_RESPONSE_BYTES (the body is then destroyed). */
async function readAll(body: Readable): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > MAX_RESPONSE_BYTES) {
      body.destroy();
      return null;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * A body of declared length read into `target`. A body longer than declared is a broken answer,
 * and a shorter one a cut connection: both retryable faults, as undici reports them anyway.
 */
async function readInto(target: Buffer, body: Readable): Promise<Buffer> {
  let filled = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    if (filled + buffer.length > target.length) {
      body.destroy();
      throw new Error('the body is longer than its Content-Length');
    }
    buffer.copy(target, filled);
    filled += buffer.length;
  }
  if (filled !== target.length) throw new Error('the body is shorter than its Content-Length');
  return target;
}

function tooLarge(channel: Channel): GatewayError {
  return new GatewayError('upstream_error', `The upstream provider (${channel.provider}) answered with more than ${MAX_RESPONSE_BYTES} bytes.`, {
    retryable: true,
  });
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
 * Decodes an upstream's base64 image strictly (media/base64.ts); garbage is a retryable malformed
 * answer. `allocate`: the answer's `scratch`, when it has one.
 */
export function decodeBase64Image(provider: string, text: string | Buffer, allocate?: (bytes: number) => Buffer): Buffer {
  const bytes = decodeBase64(text, allocate);
  if (bytes === null) throw malformedResponse(provider, 'an image is not valid base64');
  return bytes;
}
