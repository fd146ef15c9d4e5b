import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatSize } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { ApiKeyRow } from '../db/schema.ts';
import { renderError } from '../errors.ts';
import type { GenerateContext, StreamSink } from '../images/generate-images.ts';
import type { Limits } from '../limits/index.ts';
import { abortOnDisconnect } from './abort-on-disconnect.ts';
import { type EventStream, openEventStream } from './event-stream.ts';
import { enforceKeyLimits } from './key-limits.ts';

/**
 * Answers a `stream: true` generation or edit as server-sent events (`<prefix>.partial_image`,
 * `<prefix>.completed`; prefix `image_generation` or `image_edit`). Limits and the budget hold
 * are checked first (their refusals are ordinary JSON errors with a status, which the client
 * handles before reading a stream); the stream opens when `run` asks for it, and a failure after
 * that ends it with an `error` event in the OpenAI error shape.
 */
export async function streamToClient(
  deps: { limits: Limits; leaseMs: number },
  request: FastifyRequest,
  reply: FastifyReply,
  apiKey: ApiKeyRow,
  asked: GenerationRequest,
  prefix: 'image_generation' | 'image_edit',
  run: (ctx: Omit<GenerateContext, 'onPartial'>, open: () => StreamSink) => Promise<void>,
): Promise<FastifyReply> {
  const lease = await enforceKeyLimits(deps.limits, apiKey, asked.n, reply, deps.leaseMs);
  const signal = abortOnDisconnect(reply);
  // Set once the event stream is open; before that, errors are ordinary JSON answers.
  const opened: { stream: EventStream | null } = { stream: null };
  const base = { size: formatSize(asked.size), quality: asked.quality, background: asked.background, output_format: asked.outputFormat };
  try {
    await run({ apiKeyId: apiKey.id, requestId: request.id, signal }, () => {
      const rateHeaders = Object.fromEntries(
        Object.entries(reply.getHeaders()).filter(([name]) => name.startsWith('x-ratelimit-')).map(([name, value]) => [name, String(value)]),
      );
      const stream = openEventStream(reply, request.id, rateHeaders);
      opened.stream = stream;
      return {
        partial: (partial) => {
          void stream.send(`${prefix}.partial_image`, {
            type: `${prefix}.partial_image`,
            b64_json: partial.base64,
            partial_image_index: partial.partialIndex,
            created_at: Math.floor(Date.now() / 1000),
            ...base,
          });
        },
        completed: async (_index, image, usage, outcome) =>
          stream.send(`${prefix}.completed`, {
            type: `${prefix}.completed`,
            b64_json: 'b64_json' in image ? image.b64_json : '',
            created_at: outcome.body.created,
            ...base,
            size: outcome.body.size ?? base.size,
            ...(usage === null ? {} : { usage }),
          }),
      };
    });
    opened.stream?.end();
  } catch (err) {
    if (opened.stream === null) throw err;
    const { body, status } = renderError(err, request.id);
    if (status >= 500) request.log.error({ err }, 'stream failed');
    opened.stream.fail(body);
  } finally {
    await lease?.release();
  }
  return reply;
}
