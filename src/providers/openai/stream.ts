import { buffer } from 'node:stream/consumers';
import { errors, request } from 'undici';
import { z } from 'zod';
import type { ImageUsage } from '../../catalog/index.ts';
import type { ImageParams } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { decodeBase64Image } from '../shared/call-upstream.ts';
import { SseParser } from '../shared/sse-parser.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { PartialImage, ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { readImagesResponse, readUsage } from './wire.ts';

/** One event of an images stream (contract notes §6); other keys pass. */
const StreamEventSchema = z.looseObject({
  type: z.string().optional(),
  b64_json: z.string().optional(),
  partial_image_index: z.number().int().min(0).optional(),
  usage: z.unknown().optional(),
  error: z.looseObject({ message: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish() }).optional(),
  message: z.string().nullish(),
  code: z.union([z.string(), z.number()]).nullish(),
});

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
  generation: ImageParams,
  call: ProviderCall<{ readonly streamIdleTimeoutMs: number }> & { onPartial: (partial: PartialImage) => void },
): Promise<ProviderResult> {
  const { channel } = call;
  const idleTimeoutMs = call.options.streamIdleTimeoutMs;
  let response: Awaited<ReturnType<typeof request>>;
  try {
    response = await request(url, {
      method: 'POST',
      headers: { ...headers, accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true, partial_images: generation.partialImages }),
      dispatcher: channel.http.dispatcher,
      signal: call.signal,
      bodyTimeout: idleTimeoutMs,
    });
  } catch (err) {
    if (call.signal.aborted) throw call.signal.reason;
    throw new GatewayError('upstream_error', `The connection to the upstream provider (${provider}) failed: ${errorText(err)}.`, {
      retryable: true,
      cause: err,
    });
  }
  if (response.statusCode !== 200) {
    const bytes = await buffer(response.body);
    // Errors come as ordinary JSON; the non-streaming reader maps them the same way.
    return readImagesResponse(provider, { status: response.statusCode, headers: response.headers, body: bytes, text: bytes.toString('utf8') }, channel, call);
  }

  const parser = new SseParser();
  const images: ProviderImage[] = [];
  let usage: ImageUsage | undefined;
  const handle = (event: { event: string; data: string }): void => {
    if (event.data === '[DONE]') return;
    let json: unknown;
    try {
      json = JSON.parse(event.data);
    } catch (err) {
      throw malformedResponse(provider, 'a stream event is not valid JSON', err);
    }
    const payload = parseWire(provider, StreamEventSchema, json, 'a stream event');
    const type = payload.type ?? event.event;
    if (event.event === 'error' || payload.error !== undefined) {
      const error = payload.error ?? payload;
      const message = typeof error.message === 'string' && error.message !== '' ? error.message : 'the upstream stream failed';
      if (error.code === 'moderation_blocked' || error.code === 'content_policy_violation') throw contentPolicyError(provider, message);
      throw new GatewayError('upstream_error', `The upstream provider (${provider}) failed mid-stream: ${message}`, { retryable: true });
    }
    if (type.endsWith('.partial_image')) {
      if (payload.b64_json === undefined) throw malformedResponse(provider, 'a partial image without b64_json');
      call.onPartial({ imageIndex: images.length, partialIndex: payload.partial_image_index ?? 0, base64: payload.b64_json });
    } else if (type.endsWith('.completed')) {
      const base64 = payload.b64_json;
      if (base64 === undefined) throw malformedResponse(provider, 'a completed image without b64_json');
      images.push({ bytes: decodeBase64Image(provider, base64), base64 });
      const reported = readUsage(payload.usage);
      if (reported !== undefined) usage = addUsage(usage, reported);
    }
  };
  try {
    response.body.setEncoding('utf8');
    for await (const chunk of response.body) for (const event of parser.push(String(chunk))) handle(event);
    for (const event of parser.end()) handle(event);
  } catch (err) {
    response.body.destroy();
    if (call.signal.aborted) throw call.signal.reason;
    if (err instanceof GatewayError) throw err;
    if (err instanceof errors.BodyTimeoutError) {
      throw new GatewayError('upstream_timeout', `The upstream provider (${provider}) went quiet for ${idleTimeoutMs} ms mid-stream.`, {
        retryable: true,
        cause: err,
      });
    }
    throw new GatewayError('upstream_error', `The upstream stream (${provider}) broke off: ${errorText(err)}.`, { retryable: true, cause: err });
  }
  return { images, ...(usage === undefined ? {} : { usage }) };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function addUsage(sum: ImageUsage | undefined, next: ImageUsage): ImageUsage {
  if (sum === undefined) return next;
  return {
    input_tokens: sum.input_tokens + next.input_tokens,
    input_tokens_details: {
      text_tokens: sum.input_tokens_details.text_tokens + next.input_tokens_details.text_tokens,
      image_tokens: sum.input_tokens_details.image_tokens + next.input_tokens_details.image_tokens,
    },
    output_tokens: sum.output_tokens + next.output_tokens,
    total_tokens: sum.total_tokens + next.total_tokens,
  };
}
