import type { FastifyReply } from 'fastify';

/**
 * An AbortSignal that fires when the client goes away before the response is sent, so the work
 * done for it (and upstream calls) stops instead of running on for nobody.
 */
export function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response's 'close' fires both after a normal finish and when the connection drops first.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}
