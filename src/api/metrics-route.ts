import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { KeysRepo } from '../db/keys-repo.ts';
import type { Metrics } from '../observe/metrics.ts';
import { authHook } from './auth.ts';

export interface MetricsAccess {
  /** A bearer token accepted besides admin keys; null: admin keys only. */
  readonly token: string | null;
  /** No token needed at all. */
  readonly public: boolean;
}

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * `GET /metrics`: the Prometheus text exposition. Metrics say how much traffic each model and
 * channel takes and what it costs, so they need the admin key or the metrics token unless the
 * operator opened them (`metrics.public`).
 */
export function registerMetricsRoute(app: FastifyInstance, deps: { metrics: Metrics; keys: KeysRepo; now: () => number; access: MetricsAccess }): void {
  const adminOnly = authHook(deps.keys, 'admin', deps.now);
  const token = deps.access.token;
  const authorize = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (deps.access.public) return;
    const sent = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token !== null && sent !== undefined && sameSecret(sent, token)) return;
    await adminOnly(request, reply);
  };
  app.get('/metrics', { onRequest: authorize }, async (_request, reply) => {
    const { contentType, body } = await deps.metrics.scrape();
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
}

/** Compared as digests, in constant time, so neither the token's length nor its prefix leaks. */
function sameSecret(sent: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(sent), digest(expected));
}
