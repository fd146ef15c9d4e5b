import type { Kysely } from 'kysely';
import type { PriceGroupSettings } from '../keys/organization-settings.ts';
import type { Database, PriceGroupRow } from './schema.ts';

export type { PriceGroupSettings };

/** Price groups; `default` (multiplier 1, no model prices) is made by the migration and always exists. */
export class PriceGroupsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(id: string): Promise<PriceGroupRow | undefined> {
    return this.#db.selectFrom('price_groups').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(): Promise<PriceGroupRow[]> {
    return this.#db.selectFrom('price_groups').selectAll().orderBy('id').execute();
  }

  /** Creates a group; false when one with this id exists. */
  async create(id: string, settings: PriceGroupSettings, nowMs: number = Date.now()): Promise<boolean> {
    if ((await this.get(id)) !== undefined) return false;
    const result = await this.#db
      .insertInto('price_groups')
      .values({ id, multiplier: settings.multiplier, model_prices: JSON.stringify(settings.modelPrices), created_at_ms: nowMs, updated_at_ms: nowMs })
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async update(id: string, changes: Partial<PriceGroupSettings>, nowMs: number = Date.now()): Promise<PriceGroupRow | undefined> {
    const set: { multiplier?: number; model_prices?: string; updated_at_ms: number } = { updated_at_ms: nowMs };
    if (changes.multiplier !== undefined) set.multiplier = changes.multiplier;
    if (changes.modelPrices !== undefined) set.model_prices = JSON.stringify(changes.modelPrices);
    await this.#db.updateTable('price_groups').set(set).where('id', '=', id).execute();
    return this.get(id);
  }
}
