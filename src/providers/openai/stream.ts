import { errors, request } from 'undici';
import type { ImageUsage } from '../../catalog/index.ts';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { decodeBase64Image } from '../shared/call-upstream.ts';
import { SseParser } from '../shared/sse-parser.ts';
import { malformedResponse } from '../shared/upstream-errors.ts';
import type { CallContext, Channel, PartialImage, ProviderImage, ProviderResult } from '../types.ts';
import { readImagesResponse } from './wire.ts';

/** Longest silence tolerated inside an upstream stream before the attempt is cut. */
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/**
 * A streamed generation against an OpenAI-shaped upstream (contract notes §6): the request asks
 * for `stream: true` and `partial_images`, and the answer's `image_generation.partial_image`
 * events are relayed one by one as they arrive (nothing is buffered beyond the event being read);
 * `image_generation.completed` events are the final images, which the gateway stores before it
 * sends its own completed events. An upstream that goes quiet for longer than the idle timeout
 * (`options.streamIdleTimeoutMs`) fails the attempt.
 */
export async function streamGeneration(
  provider: string,
  url: string,
  headers: Record<string, string>,
  body: Record<string, unknown>,
  generation: GenerationRequest,
  channel: Channel,
  ctx: CallContext & { onPartial: (partial: PartialImage) => void },
): Promise<ProviderResult> {
  const idleTimeoutMs = Number(channel.options['streamIdleTimeoutMs'] ?? DEFAULT_IDLE_TIMEOUT_MS);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: 'POST',
      headers: { ...headers, accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true, partial_images: generation.partialImages }),
      dispatcher: channel.http.dispatcher,
      signal: ctx.signal,
      bodyTimeout: idleTimeoutMs,
    });
  } catch (err) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    throw new GatewayError('upstream_error', `The connection to the upstream provider (${provider}) failed: ${(err as Error).message}.`, { retryable: true, cause: err });
  }
  if (response.statusCode !== 200) {
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    // Errors come as ordinary JSON; the non-streaming reader maps them the same way.
    return readImagesResponse(provider, { status: response.statusCode, headers: response.headers, body: bytes, text: bytes.toString('utf8') }, channel, ctx);
  }

  const parser = new SseParser();
  const images: ProviderImage[] = [];
  let usage: ImageUsage | undefined;
  const handle = (event: { event: string; data: string }): void => {
    if (event.data === '[DONE]') return;
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(event.data) as Record<string, unknown>;
    } catch (err) {
      throw malformedResponse(provider, 'a stream event is not valid JSON', err);
    }
    const type = typeof payload['type'] === 'string' ? payload['type'] : event.event;
    if (event.event === 'error' || payload['error'] !== undefined) {
      const error = (payload['error'] ?? payload) as { message?: unknown; code?: unknown };
      const message = typeof error.message === 'string' ? error.message : 'the upstream stream failed';
      if (error.code === 'moderation_blocked' || error.code === 'content_policy_violation') {
        throw new GatewayError('content_policy_violation', `Your request was rejected by the safety system of the upstream provider (${provider}): ${message}`);
      }
      throw new GatewayError('upstream_error', `The upstream provider (${provider}) failed mid-stream: ${message}`, { retryable: true });
    }
    if (type.endsWith('.partial_image')) {
      const base64 = payload['b64_json'];
      if (typeof base64 !== 'string') throw malformedResponse(provider, 'a partial image without b64_json');
      const partialIndex = typeof payload['partial_image_index'] === 'number' ? payload['partial_image_index'] : 0;
      ctx.onPartial({ imageIndex: images.length, partialIndex, base64 });
    } else if (type.endsWith('.completed')) {
      images.push({ bytes: decodeBase64Image(provider, payload['b64_json']), base64: payload['b64_json'] as string });
      const reported = payload['usage'] as ImageUsage | undefined;
      if (reported !== undefined && typeof reported.output_tokens === 'number') usage = addUsage(usage, reported);
    }
  };
  try {
    response.body.setEncoding('utf8');
    for await (const chunk of response.body) for (const event of parser.push(chunk as string)) handle(event);
    for (const event of parser.end()) handle(event);
  } catch (err) {
    response.body.destroy();
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (err instanceof GatewayError) throw err;
    if (err instanceof errors.BodyTimeoutError) {
      throw new GatewayError('upstream_timeout', `The upstream provider (${provider}) went quiet for ${idleTimeoutMs} ms mid-stream.`, { retryable: true, cause: err });
    }
    throw new GatewayError('upstream_error', `The upstream stream (${provider}) broke off: ${(err as Error).message}.`, { retryable: true, cause: err });
  }
  return { images, ...(usage === undefined ? {} : { usage }) };
}

function addUsage(sum: ImageUsage | undefined, next: ImageUsage): ImageUsage {
  if (sum === undefined) return next;
  return {
    input_tokens: sum.input_tokens + next.input_tokens,
    input_tokens_details: {
      text_tokens: sum.input_tokens_details.text_tokens + (next.input_tokens_details?.text_tokens ?? 0),
      image_tokens: sum.input_tokens_details.image_tokens + (next.input_tokens_details?.image_tokens ?? 0),
    },
    output_tokens: sum.output_tokens + next.output_tokens,
    total_tokens: sum.total_tokens + next.total_tokens,
  };
}
