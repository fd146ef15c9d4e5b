import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.ts';

const DAY_MS = 86_400_000;

export interface UsageRow {
  /** UTC day, YYYY-MM-DD. */
  readonly date: string;
  readonly api_key_id: string;
  readonly model: string;
  readonly requests: number;
  readonly images: number;
  readonly spend_usd: number;
}

/**
 * Usage by UTC day and model, from the ledger's charges (one per successful request). Day
 * buckets are integer division of epoch milliseconds, which SQLite and PostgreSQL compute alike.
 */
export async function usageByDay(
  db: Kysely<Database>,
  filter: { apiKeyId?: string | undefined; organizationId?: string | undefined; fromMs: number; toMs: number },
): Promise<{ data: UsageRow[]; totals: { requests: number; images: number; spend_usd: number } }> {
  let query = db
    .selectFrom('ledger_entries')
    .select([
      sql<number>`created_at_ms / ${sql.lit(DAY_MS)}`.as('day'),
      'api_key_id',
      'model',
      (eb) => eb.fn.countAll<number>().as('requests'),
      (eb) => eb.fn.sum<number>('image_count').as('images'),
      (eb) => eb.fn.sum<number>('amount_micro_usd').as('spend'),
    ])
    .where('kind', '=', 'charge')
    .where('created_at_ms', '>=', filter.fromMs)
    .where('created_at_ms', '<', filter.toMs)
    .groupBy([sql`created_at_ms / ${sql.lit(DAY_MS)}`, 'api_key_id', 'model'])
    .orderBy('day')
    .orderBy('api_key_id')
    .orderBy('model');
  if (filter.apiKeyId !== undefined) query = query.where('api_key_id', '=', filter.apiKeyId);
  // The organisation charged when the request was held (a key moved since keeps its past where it was).
  if (filter.organizationId !== undefined) query = query.where('organization_id', '=', filter.organizationId);
  const rows = await query.execute();
  const data = rows.map((row) => ({
    date: new Date(Math.floor(Number(row.day)) * DAY_MS).toISOString().slice(0, 10),
    api_key_id: row.api_key_id,
    model: row.model,
    requests: Number(row.requests),
    images: Number(row.images),
    spend_usd: Number(row.spend) / 1_000_000,
  }));
  const totals = data.reduce(
    (sum, row) => ({ requests: sum.requests + row.requests, images: sum.images + row.images, spend_usd: sum.spend_usd + row.spend_usd }),
    { requests: 0, images: 0, spend_usd: 0 },
  );
  return { data, totals: { ...totals, spend_usd: Math.round(totals.spend_usd * 1_000_000) / 1_000_000 } };
}
