import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

export interface CorsSettings {
  /** Exact origins allowed (`https://app.example.com`), or `*` among them for any; empty: no CORS. */
  readonly origins: readonly string[];
  readonly maxAgeSeconds: number;
}

/**
 * Response headers a browser app may read: who served the request and at what cost, the rate
 * limits, and where an async job is. Browsers hide every other non-simple header from scripts.
 */
const EXPOSED_HEADERS = [
  'x-request-id',
  'x-imagegate-provider',
  'x-imagegate-channel',
  'x-imagegate-attempts',
  'x-imagegate-cost-usd',
  'x-imagegate-delivered-size',
  'x-imagegate-dropped-params',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-images',
  'x-ratelimit-remaining-images',
  'x-ratelimit-reset-images',
  'retry-after',
  'idempotent-replayed',
  'location',
];

/**
 * CORS for browser apps on the origins the operator lists, and none otherwise (the default: a
 * browser on another origin cannot read any answer). Preflights are answered before any auth hook
 * runs, since a browser never sends credentials with them. Keys travel in `Authorization`, not in
 * cookies, so no credentialed CORS is needed, and `*` stays safe to allow.
 */
export function registerCors(app: FastifyInstance, settings: CorsSettings): void {
  if (settings.origins.length === 0) return;
  void app.register(fastifyCors, {
    origin: settings.origins.includes('*') ? '*' : [...settings.origins],
    methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
    // Unset, the plugin allows the headers the preflight asks for (the openai client's own
    // x-stainless-* headers, Idempotency-Key, Prefer), which is what an API behind keys wants.
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: settings.maxAgeSeconds,
    // An OPTIONS without the preflight headers is answered like one, not with the plugin's own
    // plain-text 400 (every error of this API is in OpenAI's envelope).
    strictPreflight: false,
  });
}
