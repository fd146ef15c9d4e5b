import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { GatewayError } from '../errors.ts';
import type { RequestFacts } from '../images/types.ts';
import type { Metrics } from '../observe/metrics.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the request arrives: what its access log line and metrics will say. */
    observed: ObservedRequest | null;
  }
}

interface ObservedRequest {
  readonly startedAtMs: number;
  facts: RequestFacts;
  /** The error code it was refused with, if any. */
  code: string | null;
}

/** A status for requests whose client left before the answer was finished (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * One access log line per request, at info, and the HTTP metrics (requests, durations, requests
 * in flight). The line names the request (its id is the logger's `reqId`), the key by id (never
 * the key), the route, and for image requests the model, provider, channel, n, images delivered,
 * attempts and cost; the prompt only when the log level is debug.
 *
 * Both are written when the response closes, not in an onResponse hook: Fastify runs onResponse
 * on `finish` only, which never comes when the client leaves mid-answer (a stream it abandons),
 * and such a request must still leave the in-flight gauge and be logged. Register before any hook
 * that may refuse a request, so refusals are counted too.
 */
export function observeRequests(
  app: FastifyInstance,
  metrics: Pick<Metrics, 'httpRequestStarted' | 'httpRequestFinished'>,
  /** Whether the log is at debug (then the line carries the prompt). */
  logsDebug: () => boolean,
): void {
  app.decorateRequest('observed', null);
  app.addHook('onRequest', async (request, reply) => {
    const observed: ObservedRequest = { startedAtMs: performance.now(), facts: {}, code: null };
    request.observed = observed;
    metrics.httpRequestStarted();
    reply.raw.once('close', () => finish(request, reply, observed, metrics, logsDebug()));
  });
  app.addHook('onError', async (request, _reply, error) => {
    if (request.observed !== null && error instanceof GatewayError) request.observed.code = error.code;
  });
}

/**
 * Fastify's own per-request lines (incoming, completed, route not found), replaced by the one
 * access log line; the lines for errors while answering stay.
 */
export class AccessLogController extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) super.requestCompleted(error, request, reply);
  }

  override routeNotFound(): void {}
}

/** The `report` callback of the images use case's caller: its facts go to this request's log line. */
export function reportTo(request: FastifyRequest): (facts: RequestFacts) => void {
  return (facts) => {
    if (request.observed !== null) request.observed.facts = { ...request.observed.facts, ...facts };
  };
}

function finish(
  request: FastifyRequest,
  reply: FastifyReply,
  observed: ObservedRequest,
  metrics: Pick<Metrics, 'httpRequestFinished'>,
  withPrompt: boolean,
): void {
  const durationMs = performance.now() - observed.startedAtMs;
  const status = reply.raw.writableFinished ? reply.raw.statusCode : CLIENT_CLOSED_STATUS;
  // The route's pattern, never the URL: a label bounded by the routes, whatever clients send.
  const route = request.routeOptions.url ?? 'unmatched';
  const { facts } = observed;
  metrics.httpRequestFinished({ method: request.method, route, status, model: facts.model ?? null, durationSeconds: durationMs / 1000 });
  const costUsd = facts.costMicroUsd === undefined ? undefined : facts.costMicroUsd / 1_000_000;
  const line = {
    method: request.method,
    route,
    path: request.url.split('?')[0],
    status,
    durationMs: Math.round(durationMs * 10) / 10,
    keyId: request.apiKey?.id,
    model: facts.model,
    provider: facts.provider,
    channel: facts.channel,
    n: facts.n,
    images: facts.imagesDelivered,
    attempts: facts.attempts,
    costUsd,
    code: observed.code ?? undefined,
    // Prompts are the clients' text: kept out of the log unless the operator asked for debug.
    prompt: withPrompt ? facts.prompt : undefined,
  };
  request.log.info(line, 'request');
}
