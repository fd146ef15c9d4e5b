import type { FastifyReply } from 'fastify';

/** Why a request's work stopped: its client went away (the signal's reason, rethrown by the router). */
export class ClientDisconnected extends Error {
  constructor() {
    super('client disconnected');
    this.name = 'ClientDisconnected';
  }
}

/**
 * An AbortSignal that fires when the client goes away before the response is sent, so the work
 * done for it (and upstream calls) stops instead of running on for nobody.
 */
export function abortOnDisconnect(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // The response's 'close' fires both after a normal finish and when the connection drops first.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new ClientDisconnected());
  });
  return controller.signal;
}
