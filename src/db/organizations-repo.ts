import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { OrganizationSettings } from '../keys/organization-settings.ts';
import type { Database, OrganizationRow } from './schema.ts';

export type { OrganizationSettings };

/**
 * Organisations (customer accounts). Their money columns are written by the ledger only
 * (`Ledger.reserve`, `#close`, `credit`); this repository manages the settings. A deleted
 * organisation keeps its row, marked, because its ledger entries still name it.
 */
export class OrganizationsRepo {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async create(settings: OrganizationSettings, nowMs: number = Date.now()): Promise<OrganizationRow> {
    const row: OrganizationRow = {
      id: `org_${randomUUID().replaceAll('-', '')}`,
      name: settings.name,
      price_group: settings.priceGroup,
      budget_micro_usd: settings.budgetMicroUsd,
      committed_micro_usd: 0,
      credited_micro_usd: 0,
      metadata: settings.metadata === null ? null : JSON.stringify(settings.metadata),
      created_at_ms: nowMs,
      updated_at_ms: nowMs,
      deleted_at_ms: null,
    };
    await this.#db.insertInto('organizations').values(row).execute();
    return row;
  }

  /** A live (not deleted) organisation. */
  async get(id: string): Promise<OrganizationRow | undefined> {
    return this.#db.selectFrom('organizations').selectAll().where('id', '=', id).where('deleted_at_ms', 'is', null).executeTakeFirst();
  }

  async list(): Promise<OrganizationRow[]> {
    return this.#db.selectFrom('organizations').selectAll().where('deleted_at_ms', 'is', null).orderBy('created_at_ms').orderBy('id').execute();
  }

  async update(id: string, changes: Partial<OrganizationSettings>, nowMs: number = Date.now()): Promise<OrganizationRow | undefined> {
    const set: { name?: string; price_group?: string; budget_micro_usd?: number | null; metadata?: string | null; updated_at_ms: number } = {
      updated_at_ms: nowMs,
    };
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.priceGroup !== undefined) set.price_group = changes.priceGroup;
    if (changes.budgetMicroUsd !== undefined) set.budget_micro_usd = changes.budgetMicroUsd;
    if (changes.metadata !== undefined) set.metadata = changes.metadata === null ? null : JSON.stringify(changes.metadata);
    await this.#db.updateTable('organizations').set(set).where('id', '=', id).where('deleted_at_ms', 'is', null).execute();
    return this.get(id);
  }

  /** Marks it deleted and detaches its keys (they behave as keys without an organisation). */
  async delete(id: string, nowMs: number = Date.now()): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('organizations')
        .set({ deleted_at_ms: nowMs, updated_at_ms: nowMs })
        .where('id', '=', id)
        .where('deleted_at_ms', 'is', null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await trx.updateTable('api_keys').set({ organization_id: null, updated_at_ms: nowMs }).where('organization_id', '=', id).execute();
      return true;
    });
  }

  /** Whether some live organisation uses this price group. */
  async usesPriceGroup(group: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('organizations')
      .select('id')
      .where('price_group', '=', group)
      .where('deleted_at_ms', 'is', null)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}
