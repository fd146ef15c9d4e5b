import type { FastifyReply, FastifyRequest } from 'fastify';
import { formatSize } from '../catalog/index.ts';
import type { ImageParams } from '../contract/generation-request.ts';
import { renderError } from '../errors.ts';
import type { OpenStream } from '../images/types.ts';
import { type EventStream, openEventStream } from './event-stream.ts';

/**
 * Answers a `stream: true` generation or edit as server-sent events (`<prefix>.partial_image`,
 * `<prefix>.completed`; prefix `image_generation` or `image_edit`). The use case checks limits
 * and the hold before it opens the stream (their refusals are ordinary JSON errors with a
 * status, which the client handles before reading a stream); a failure after that ends the
 * stream with an `error` event in the OpenAI error shape.
 */
export async function streamToClient(
  request: FastifyRequest,
  reply: FastifyReply,
  asked: ImageParams,
  prefix: 'image_generation' | 'image_edit',
  run: (open: OpenStream) => Promise<void>,
): Promise<FastifyReply> {
  // Set once the event stream is open; before that, errors are ordinary JSON answers.
  const opened: { stream: EventStream | null } = { stream: null };
  const base = { size: formatSize(asked.size), quality: asked.quality, background: asked.background, output_format: asked.outputFormat };
  try {
    await run((rateHeaders) => {
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
            b64_json: 'b64_json' in image ? image.b64_json.toString('latin1') : '',
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
  }
  return reply;
}
