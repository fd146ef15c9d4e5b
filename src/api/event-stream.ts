import type { FastifyReply } from 'fastify';
import type { ErrorEnvelope } from '../errors.ts';

/** Comments every so often keep proxies and CDNs from cutting a quiet connection. */
const KEEP_ALIVE_MS = 15_000;

export interface EventStream {
  /** Writes one event; resolves false when the client has gone (nothing more will arrive). */
  send(event: string, data: object): Promise<boolean>;
  /** Ends the stream with an OpenAI-shaped `error` event (openai-node throws it as an APIError). */
  fail(body: ErrorEnvelope): void;
  end(): void;
}

/**
 * A `text/event-stream` answer in the shape the official client parses: `event:` and `data:`
 * lines, a blank line after each event, `: keep-alive` comments while waiting. Writes respect
 * back-pressure, so a slow client slows the stream instead of filling memory.
 */
export function openEventStream(reply: FastifyReply, requestId: string, extraHeaders: Record<string, string>): EventStream {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx buffers responses unless told not to.
    'x-accel-buffering': 'no',
    'x-request-id': requestId,
    ...extraHeaders,
  });
  raw.flushHeaders();
  const keepAlive = setInterval(() => {
    if (!raw.destroyed) raw.write(': keep-alive\n\n');
  }, KEEP_ALIVE_MS);
  keepAlive.unref();
  let ended = false;
  const stop = (): void => {
    ended = true;
    clearInterval(keepAlive);
  };
  raw.once('close', stop);

  const write = async (text: string): Promise<boolean> => {
    if (ended || raw.destroyed) return false;
    if (raw.write(text)) return true;
    return new Promise((resolve) => {
      const onDrain = (): void => {
        raw.off('close', onClose);
        resolve(true);
      };
      const onClose = (): void => {
        raw.off('drain', onDrain);
        resolve(false);
      };
      raw.once('drain', onDrain);
      raw.once('close', onClose);
    });
  };

  return {
    send: (event, data) => write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    fail: (body) => {
      void write(`event: error\ndata: ${JSON.stringify(body)}\n\n`).then(() => {
        stop();
        raw.end();
      });
    },
    end: () => {
      stop();
      if (!raw.destroyed) raw.end();
    },
  };
}
