import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/schema.ts';

const DAY_MS = 86_400_000;

export type MarginGrouping = 'model' | 'channel' | 'organization' | 'day';

export interface MarginRow {
  /** The model, channel, organisation id (null: keys without one) or UTC day (YYYY-MM-DD). */
  readonly key: string | null;
  readonly requests: number;
  readonly images: number;
  readonly revenue_usd: number;
  readonly upstream_cost_usd: number;
  readonly margin_usd: number;
  /** Charges written before upstream costs were recorded (counted as cost 0). */
  readonly requests_without_cost: number;
}

/**
 * Revenue (what customers were charged), upstream cost (what the delivering channel costs the
 * operator, recorded on each charge) and their difference, from the ledger's charges. Sums are
 * taken in integer micro-dollars and converted once, so the totals are exact.
 */
export async function marginReport(
  db: Kysely<Database>,
  options: { readonly groupBy: MarginGrouping; readonly fromMs: number; readonly toMs: number },
): Promise<{ data: MarginRow[]; totals: Omit<MarginRow, 'key'> }> {
  const column = {
    model: sql<string | null>`model`,
    channel: sql<string | null>`channel`,
    organization: sql<string | null>`organization_id`,
    day: sql<string | null>`created_at_ms / ${sql.lit(DAY_MS)}`,
  }[options.groupBy];
  const rows = await db
    .selectFrom('ledger_entries')
    .select([
      column.as('group_key'),
      (eb) => eb.fn.countAll<number>().as('requests'),
      (eb) => eb.fn.sum<number>('image_count').as('images'),
      (eb) => eb.fn.sum<number>('amount_micro_usd').as('revenue'),
      sql<number>`sum(coalesce(upstream_cost_micro_usd, 0))`.as('cost'),
      sql<number>`sum(case when upstream_cost_micro_usd is null then 1 else 0 end)`.as('without_cost'),
    ])
    .where('kind', '=', 'charge')
    .where('created_at_ms', '>=', options.fromMs)
    .where('created_at_ms', '<', options.toMs)
    .groupBy(column)
    .orderBy(column)
    .execute();
  const micro = rows.map((row) => ({
    key:
      row.group_key === null
        ? null
        : options.groupBy === 'day'
          ? new Date(Math.floor(Number(row.group_key)) * DAY_MS).toISOString().slice(0, 10)
          : String(row.group_key),
    requests: Number(row.requests),
    images: Number(row.images),
    revenue: Number(row.revenue),
    cost: Number(row.cost),
    withoutCost: Number(row.without_cost),
  }));
  const total = micro.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      images: sum.images + row.images,
      revenue: sum.revenue + row.revenue,
      cost: sum.cost + row.cost,
      withoutCost: sum.withoutCost + row.withoutCost,
    }),
    { requests: 0, images: 0, revenue: 0, cost: 0, withoutCost: 0 },
  );
  const shown = (row: Omit<(typeof micro)[number], 'key'>) => ({
    requests: row.requests,
    images: row.images,
    revenue_usd: row.revenue / 1_000_000,
    upstream_cost_usd: row.cost / 1_000_000,
    margin_usd: (row.revenue - row.cost) / 1_000_000,
    requests_without_cost: row.withoutCost,
  });
  return { data: micro.map((row) => ({ key: row.key, ...shown(row) })), totals: shown(total) };
}
