import type { HttpHandlerOptions, HttpRequest, HttpResponse, RequestHandlerOutput } from '@smithy/types';
import { callUpstream } from '../shared/call-upstream.ts';
import type { Channel } from '../types.ts';

/**
 * An HTTP handler for the AWS SDK that sends its signed requests over the channel's own undici
 * pool (`callUpstream`) instead of the SDK's node:http agent: the channel's connection limits,
 * the process-wide limit on bodies read at once, the answer size cap and the gateway's mapping of
 * resets and cut-short bodies to retryable errors apply to Bedrock as to every other upstream.
 * The SDK hands over the request already signed (SigV4) for the endpoint it resolved, so the
 * handler only moves bytes; `abortSignal` is the signal given to `client.send`, the attempt's.
 */
export class ChannelHttpHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  readonly #channel: Channel;

  constructor(channel: Channel) {
    this.#channel = channel;
  }

  async handle(request: HttpRequest, options: HttpHandlerOptions = {}): Promise<RequestHandlerOutput<HttpResponse>> {
    const { abortSignal } = options;
    if (!(abortSignal instanceof AbortSignal)) {
      // A programming error, not a client's: every call passes the attempt's signal; a call without one could never be cancelled.
      throw new TypeError('A Bedrock call was made without an abort signal.');
    }
    if (request.method !== 'POST' && request.method !== 'GET') {
      throw new TypeError(`The Bedrock adapter does not send ${request.method} requests.`);
    }
    // `HttpMessage.body` is typed `any` by smithy; InvokeModel's serializer gives a Uint8Array.
    const body: unknown = request.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
      throw new TypeError('The Bedrock adapter sends bodies held in memory only.');
    }
    const response = await callUpstream(this.#channel, {
      method: request.method,
      url: urlOf(request),
      headers: request.headers,
      ...(body === undefined || body === null ? {} : { body: typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength) }),
      signal: abortSignal,
    });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { response: { statusCode: response.status, headers, body: response.body } };
  }

  updateHttpClientConfig(): void {
    // Nothing to configure: the channel's pool is set up when the channel is built.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    // The channel owns the pool and closes it with the gateway.
  }
}

/** The URL the SDK resolved and signed: scheme, host, port, path and query as it gave them. */
function urlOf(request: HttpRequest): string {
  const port = request.port === undefined ? '' : `:${request.port}`;
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(request.query ?? {})) {
    if (value === null) search.append(name, '');
    else for (const item of Array.isArray(value) ? value : [value]) search.append(name, item);
  }
  const query = search.size === 0 ? '' : `?${search.toString()}`;
  return `${request.protocol}//${request.hostname}${port}${request.path}${query}`;
}
