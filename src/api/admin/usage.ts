import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { parseUsageRange } from '../../contract/usage-query.ts';
import type { Database } from '../../db/schema.ts';
import { usageByDay } from '../../ledger/usage-report.ts';

/** `GET /admin/v1/usage?api_key_id=&from=&to=`: any key's (or every key's) usage by day and model. */
export function registerAdminUsageRoute(app: FastifyInstance, deps: { db: Kysely<Database>; now: () => number }): void {
  app.get<{ Querystring: Record<string, string> }>('/admin/v1/usage', async (request) => {
    const range = parseUsageRange(request.query, deps.now());
    const apiKeyId = request.query['api_key_id'];
    const report = await usageByDay(deps.db, { apiKeyId: apiKeyId === '' ? undefined : apiKeyId, ...range });
    return { object: 'usage', from: Math.floor(range.fromMs / 1000), to: Math.floor(range.toMs / 1000), ...report };
  });
}
