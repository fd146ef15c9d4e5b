import type { FastifyReply } from 'fastify';
import type { ApiKeyRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';
import type { Lease, Limits, RateDecision } from '../limits/index.ts';

const MINUTE_MS = 60_000;

/**
 * A key's own limits, checked before any money is held: requests per minute and images per minute
 * (token buckets, so a burst can use a minute's allowance at once and then refills smoothly, no
 * fixed windows), and generations running at once. Over a limit is a 429 with `Retry-After` and
 * OpenAI-style `x-ratelimit-*` headers (`-requests` and `-images`). Returns the concurrency lease
 * to release when the request ends, or null when the key has no concurrency limit.
 */
export async function enforceKeyLimits(limits: Limits, apiKey: ApiKeyRow, imageCount: number, reply: FastifyReply, leaseMs: number): Promise<Lease | null> {
  if (apiKey.requests_per_minute !== null) {
    const decision = await limits.rateLimiter.consume(`rpm:${apiKey.id}`, 1, { limit: apiKey.requests_per_minute, windowMs: MINUTE_MS });
    setHeaders(reply, 'requests', decision);
    if (!decision.allowed) throw overLimit(`${apiKey.requests_per_minute} requests per minute`, decision);
  }
  if (apiKey.images_per_minute !== null) {
    const decision = await limits.rateLimiter.consume(`ipm:${apiKey.id}`, imageCount, { limit: apiKey.images_per_minute, windowMs: MINUTE_MS });
    setHeaders(reply, 'images', decision);
    if (!decision.allowed) {
      throw overLimit(
        imageCount > apiKey.images_per_minute
          ? `${apiKey.images_per_minute} images per minute, fewer than the ${imageCount} asked in one request`
          : `${apiKey.images_per_minute} images per minute`,
        decision,
      );
    }
  }
  if (apiKey.max_concurrent !== null) {
    const lease = await limits.concurrency.acquire(`conc:${apiKey.id}`, apiKey.max_concurrent, leaseMs);
    if (lease === null) {
      throw new GatewayError('rate_limit_exceeded', `Rate limit reached: this key may run ${apiKey.max_concurrent} generations at once.`, {
        retryAfterSeconds: 1,
      });
    }
    return lease;
  }
  return null;
}

function overLimit(what: string, decision: RateDecision): GatewayError {
  return new GatewayError('rate_limit_exceeded', `Rate limit reached for this key: ${what}. Try again in ${formatDuration(decision.retryAfterMs)}.`, {
    retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
  });
}

function setHeaders(reply: FastifyReply, unit: 'requests' | 'images', decision: RateDecision): void {
  void reply.header(`x-ratelimit-limit-${unit}`, String(decision.limit));
  void reply.header(`x-ratelimit-remaining-${unit}`, String(Math.max(0, Math.floor(decision.remaining))));
  void reply.header(`x-ratelimit-reset-${unit}`, formatDuration(decision.resetMs));
}

/** OpenAI writes reset times like `1s`, `6m0s`, `120ms`. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
