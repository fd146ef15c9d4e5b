import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { parseUsageRange } from '../contract/usage-query.ts';
import type { Database } from '../db/schema.ts';
import { usageByDay } from '../ledger/usage-report.ts';
import { requireApiKey } from './auth.ts';

/** `GET /v1/usage`: the calling key's own requests, images and spend, by UTC day and model. */
export function registerUsageRoute(app: FastifyInstance, deps: { db: Kysely<Database>; now: () => number }): void {
  app.get<{ Querystring: Record<string, string> }>('/v1/usage', async (request) => {
    const apiKey = requireApiKey(request);
    const range = parseUsageRange(request.query, deps.now());
    const report = await usageByDay(deps.db, { apiKeyId: apiKey.id, ...range });
    return {
      object: 'usage',
      api_key_id: apiKey.id,
      from: Math.floor(range.fromMs / 1000),
      to: Math.floor(range.toMs / 1000),
      budget_usd: apiKey.budget_micro_usd === null ? null : apiKey.budget_micro_usd / 1_000_000,
      committed_usd: apiKey.committed_micro_usd / 1_000_000,
      ...report,
    };
  });
}
