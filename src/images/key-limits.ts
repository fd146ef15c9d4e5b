import type { ApiKeyRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';
import type { Lease, Limits, RateDecision } from '../limits/index.ts';

const MINUTE_MS = 60_000;

/** `x-ratelimit-*` headers for the answer (or the event stream, or nothing for a job). */
export type RateHeaders = Readonly<Record<string, string>>;

/*
 * A key's own limits, checked before any upstream call: requests per minute and images per minute
 * (token buckets, so a burst can use a minute's allowance at once and then refills smoothly, no
 * fixed windows), and generations running at once. Over a limit is a 429 with `Retry-After` and
 * OpenAI-style `x-ratelimit-*` headers (`-requests` and `-images`); the headers are handed back to
 * the caller, which writes them where its answer goes.
 */

/** Requests per minute: counted when a request arrives (for async jobs, when the job is accepted). */
export async function countRequest(limits: Limits, apiKey: ApiKeyRow): Promise<RateHeaders> {
  if (apiKey.requests_per_minute === null) return {};
  const decision = await limits.rateLimiter.consume(`rpm:${apiKey.id}`, 1, { limit: apiKey.requests_per_minute, windowMs: MINUTE_MS });
  const headers = rateHeaders('requests', decision);
  if (!decision.allowed) throw overLimit(`${apiKey.requests_per_minute} requests per minute`, decision, headers);
  return headers;
}

/** Images per minute, for `imageCount` images about to be made. */
export async function countImages(limits: Limits, apiKey: ApiKeyRow, imageCount: number): Promise<RateHeaders> {
  if (apiKey.images_per_minute === null) return {};
  const decision = await limits.rateLimiter.consume(`ipm:${apiKey.id}`, imageCount, { limit: apiKey.images_per_minute, windowMs: MINUTE_MS });
  const headers = rateHeaders('images', decision);
  if (!decision.allowed) {
    if (imageCount > apiKey.images_per_minute) {
      // No wait makes this fit: no Retry-After, so neither clients nor the job runner retry it.
      throw new GatewayError(
        'rate_limit_exceeded',
        `Rate limit reached for this key: ${apiKey.images_per_minute} images per minute, fewer than the ${imageCount} asked in one request. Ask for fewer images.`,
        { headers },
      );
    }
    throw overLimit(`${apiKey.images_per_minute} images per minute`, decision, headers);
  }
  return headers;
}

/** A slot among the key's concurrent generations, or null when the key has no such limit. */
export async function takeConcurrencySlot(limits: Limits, apiKey: ApiKeyRow, leaseMs: number): Promise<Lease | null> {
  if (apiKey.max_concurrent === null) return null;
  const lease = await limits.concurrency.acquire(`conc:${apiKey.id}`, apiKey.max_concurrent, leaseMs);
  if (lease === null) {
    throw new GatewayError('rate_limit_exceeded', `Rate limit reached: this key may run ${apiKey.max_concurrent} generations at once.`, {
      retryAfterSeconds: 1,
    });
  }
  return lease;
}

function overLimit(what: string, decision: RateDecision, headers: RateHeaders): GatewayError {
  return new GatewayError('rate_limit_exceeded', `Rate limit reached for this key: ${what}. Try again in ${formatDuration(decision.retryAfterMs)}.`, {
    retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
    headers,
  });
}

function rateHeaders(unit: 'requests' | 'images', decision: RateDecision): RateHeaders {
  return {
    [`x-ratelimit-limit-${unit}`]: String(decision.limit),
    [`x-ratelimit-remaining-${unit}`]: String(Math.max(0, Math.floor(decision.remaining))),
    [`x-ratelimit-reset-${unit}`]: formatDuration(decision.resetMs),
  };
}

/** OpenAI writes reset times like `1s`, `6m0s`, `120ms`. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
