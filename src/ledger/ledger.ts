import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../db/database.ts';
import type { Database, LedgerRow, NewImageRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';
import type { AnomalySink, MoneyAnomalyKind } from './anomalies.ts';

/** A budget hold taken before an upstream call; settle or release it exactly once. */
export interface Hold {
  readonly id: string;
  readonly apiKeyId: string;
  readonly requestId: string;
  readonly model: string;
  readonly amountMicroUsd: number;
  /** The key's organisation when the hold was taken: its release and charge go to the same one. */
  readonly organizationId?: string | null;
  /** The price the request was held at, recorded again on its release and charge. */
  readonly price?: HeldPrice | null;
}

/** Which price group, and which price (a JSON PriceRule), a request was held at. */
export interface HeldPrice {
  readonly group: string;
  readonly priceJson: string;
}

/** Who delivered a charged request, and what it cost upstream (for the margin report). */
export interface UpstreamCost {
  readonly channel: string;
  readonly upstreamCostMicroUsd: number;
}

/** One top-up (or correction) of an organisation's prepaid balance. */
export interface Credit {
  readonly id: string;
  readonly organizationId: string;
  readonly amountMicroUsd: number;
  readonly reference: string | null;
  readonly createdAtMs: number;
  readonly balanceMicroUsd: number;
}

/**
 * The money path. Before the upstream call the most a request can cost is held against the key's
 * budget; after it, the hold is released and what was delivered is charged, in one transaction.
 * A failed, refused or aborted call releases its hold and charges nothing.
 *
 * The ledger is append-only (hold, release, charge entries); a key's committed total is derived
 * from it, and `api_keys.committed_micro_usd` is that sum kept in step inside the same
 * transactions so a budget check is one row read. The key row is locked for the check (FOR UPDATE
 * on PostgreSQL; SQLite runs one write transaction at a time), so concurrent requests, on one
 * replica or many, can never hold more than the budget between them.
 *
 * A charge is never negative and never above its hold, whatever the caller computed: `settle`
 * clamps it to [0, hold] and reports the clamp as an anomaly. The hold is the most the client was
 * told the request may cost, and the budget check was made against it; charging more would let a
 * bad upstream report (or a bug) overspend a budget, charging less than 0 would raise it.
 * `settle` is the only writer of charges: plain, fanned-out (`n` over several upstream calls),
 * streamed (a share for the images delivered), edits, variations and async jobs all end here.
 */
export class Ledger {
  readonly #db: Kysely<Database>;
  readonly #dialect: DialectName;
  readonly #now: () => number;
  readonly #anomalies: AnomalySink | null;

  constructor(db: Kysely<Database>, dialect: DialectName, now: () => number = Date.now, anomalies: AnomalySink | null = null) {
    this.#db = db;
    this.#dialect = dialect;
    this.#now = now;
    this.#anomalies = anomalies;
  }

  /**
   * Holds `amountMicroUsd`, or throws 429 insufficient_quota naming what cannot cover it: the key's
   * budget, its organisation's budget, or its organisation's prepaid balance. The key row, then
   * the organisation row, are locked for the check (always in that order, here and in `#close`,
   * so two transactions never wait on each other), so concurrent requests of every key of an
   * organisation can never hold more than its balance between them.
   */
  async reserve(apiKeyId: string, requestId: string, model: string, amountMicroUsd: number, holdTtlMs: number, price: HeldPrice | null = null): Promise<Hold> {
    const id = `led_${randomUUID().replaceAll('-', '')}`;
    const organizationId = await this.#db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('api_keys').select(['budget_micro_usd', 'committed_micro_usd', 'organization_id']).where('id', '=', apiKeyId);
      if (this.#dialect === 'postgres') query = query.forUpdate();
      const key = await query.executeTakeFirstOrThrow();
      const cost = `this request may cost up to $${usd(amountMicroUsd)}`;
      if (key.budget_micro_usd !== null && key.committed_micro_usd + amountMicroUsd > key.budget_micro_usd) {
        const left = Math.max(0, key.budget_micro_usd - key.committed_micro_usd);
        throw new GatewayError('insufficient_quota', `You exceeded your current quota: ${cost} and $${usd(left)} of this key's budget is left.`);
      }
      if (key.organization_id !== null) {
        let orgQuery = trx
          .selectFrom('organizations')
          .select(['budget_micro_usd', 'committed_micro_usd', 'credited_micro_usd'])
          .where('id', '=', key.organization_id);
        if (this.#dialect === 'postgres') orgQuery = orgQuery.forUpdate();
        const org = await orgQuery.executeTakeFirstOrThrow();
        if (org.budget_micro_usd !== null && org.committed_micro_usd + amountMicroUsd > org.budget_micro_usd) {
          const left = Math.max(0, org.budget_micro_usd - org.committed_micro_usd);
          throw new GatewayError('insufficient_quota', `You exceeded your current quota: ${cost} and $${usd(left)} of your organization's budget is left.`);
        }
        const balance = org.credited_micro_usd - org.committed_micro_usd;
        if (amountMicroUsd > balance) {
          throw new GatewayError(
            'insufficient_quota',
            `Your organization's prepaid balance is too low: ${cost} and the balance is $${usd(Math.max(0, balance))}. Top it up to continue.`,
          );
        }
        await trx
          .updateTable('organizations')
          .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${amountMicroUsd}` })
          .where('id', '=', key.organization_id)
          .execute();
      }
      // Read once the rows are locked, so entries' times follow the order they were taken in (the audit replays them).
      const nowMs = this.#now();
      await trx
        .insertInto('ledger_entries')
        .values({
          id,
          api_key_id: apiKeyId,
          request_id: requestId,
          kind: 'hold',
          amount_micro_usd: amountMicroUsd,
          ref_id: null,
          model,
          image_count: 0,
          created_at_ms: nowMs,
          expires_at_ms: nowMs + holdTtlMs,
          organization_id: key.organization_id,
          price_group: price?.group ?? null,
          price_json: price?.priceJson ?? null,
          channel: null,
          upstream_cost_micro_usd: null,
        })
        .execute();
      await trx
        .updateTable('api_keys')
        .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${amountMicroUsd}` })
        .where('id', '=', apiKeyId)
        .execute();
      return key.organization_id;
    });
    return { id, apiKeyId, requestId, model, amountMicroUsd, organizationId, price };
  }

  /**
   * Adds `amountMicroUsd` to an organisation's prepaid balance (negative: a correction, which may
   * take the balance below zero; the audit accepts that only because it is recorded here).
   */
  async credit(organizationId: string, amountMicroUsd: number, reference: string | null): Promise<Credit> {
    const id = `cred_${randomUUID().replaceAll('-', '')}`;
    return this.#db.transaction().execute(async (trx) => {
      let lock = trx.selectFrom('organizations').select('id').where('id', '=', organizationId);
      if (this.#dialect === 'postgres') lock = lock.forUpdate();
      await lock.executeTakeFirstOrThrow();
      const nowMs = this.#now();
      await trx
        .insertInto('organization_credits')
        .values({ id, organization_id: organizationId, amount_micro_usd: amountMicroUsd, reference, created_at_ms: nowMs })
        .execute();
      await trx
        .updateTable('organizations')
        .set({ credited_micro_usd: sql<number>`credited_micro_usd + ${amountMicroUsd}` })
        .where('id', '=', organizationId)
        .execute();
      const row = await trx
        .selectFrom('organizations')
        .select(['credited_micro_usd', 'committed_micro_usd'])
        .where('id', '=', organizationId)
        .executeTakeFirstOrThrow();
      return {
        id,
        organizationId,
        amountMicroUsd,
        reference,
        createdAtMs: nowMs,
        balanceMicroUsd: Number(row.credited_micro_usd) - Number(row.committed_micro_usd),
      };
    });
  }

  /**
   * Releases the hold and charges what the delivered images cost, writing their records in the
   * same transaction: an image is never charged without its record, nor recorded without its
   * charge. Idempotent per hold. The charge is clamped to [0, hold] (reported as an anomaly).
   */
  async settle(
    hold: Hold,
    chargeMicroUsd: number,
    imageCount: number,
    records: readonly NewImageRow[] = [],
    upstream: UpstreamCost | null = null,
  ): Promise<void> {
    const bounded = boundCharge(chargeMicroUsd, hold.amountMicroUsd);
    const charged = await this.#close(hold, { chargeMicroUsd: bounded.chargeMicroUsd, imageCount, records, upstream });
    // Reported once the charge is written: a second settle of the same hold is a no-op, not an anomaly.
    if (charged && bounded.anomaly !== null) {
      this.#anomalies?.report({
        kind: bounded.anomaly,
        model: hold.model,
        channel: null,
        requestId: hold.requestId,
        detail: { askedMicroUsd: String(chargeMicroUsd), chargedMicroUsd: bounded.chargeMicroUsd, holdMicroUsd: hold.amountMicroUsd },
      });
    }
  }

  /** Gives the whole hold back: nothing was delivered. Idempotent per hold. */
  async release(hold: Hold): Promise<void> {
    await this.#close(hold, null);
  }

  /**
   * Releases holds whose request never settled (its process died mid-request) once they are past
   * their expiry, which is longer than any request's deadline.
   */
  async releaseExpiredHolds(limit = 500): Promise<number> {
    const stale = await this.#db
      .selectFrom('ledger_entries as h')
      .leftJoin('ledger_entries as r', (join) => join.onRef('r.ref_id', '=', 'h.id'))
      .select(['h.id', 'h.api_key_id', 'h.request_id', 'h.model', 'h.amount_micro_usd', 'h.organization_id', 'h.price_group', 'h.price_json'])
      .where('h.kind', '=', 'hold')
      .where('h.expires_at_ms', '<=', this.#now())
      .where('r.id', 'is', null)
      .limit(limit)
      .execute();
    for (const row of stale) {
      const price = row.price_group === null || row.price_json === null ? null : { group: row.price_group, priceJson: row.price_json };
      const hold = {
        id: row.id,
        apiKeyId: row.api_key_id,
        requestId: row.request_id,
        model: row.model,
        amountMicroUsd: Number(row.amount_micro_usd),
        organizationId: row.organization_id,
        price,
      };
      await this.#close(hold, null);
    }
    return stale.length;
  }

  /** Whether a request (by its id) was already charged: a re-run after a crash must not charge twice. */
  async wasCharged(requestId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('ledger_entries')
      .select('id')
      .where('request_id', '=', requestId)
      .where('kind', '=', 'charge')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Every entry of a key, oldest first (for audits and tests). */
  async entries(apiKeyId: string): Promise<LedgerRow[]> {
    return this.#db.selectFrom('ledger_entries').selectAll().where('api_key_id', '=', apiKeyId).orderBy('seq').execute();
  }

  /** Releases the hold and writes the charge, if any; whether a charge was written (false on a repeat). */
  async #close(
    hold: Hold,
    charge: { chargeMicroUsd: number; imageCount: number; records: readonly NewImageRow[]; upstream: UpstreamCost | null } | null,
  ): Promise<boolean> {
    const organizationId = hold.organizationId ?? null;
    return this.#db.transaction().execute(async (trx) => {
      // PostgreSQL: lock the rows in reserve's order. SQLite's transactions take the database's
      // write lock at BEGIN (db/node-sqlite-dialect.ts), so there is nothing left to lock.
      if (this.#dialect === 'postgres') {
        await trx.selectFrom('api_keys').select('id').where('id', '=', hold.apiKeyId).forUpdate().executeTakeFirst();
        if (organizationId !== null) await trx.selectFrom('organizations').select('id').where('id', '=', organizationId).forUpdate().executeTakeFirst();
      }
      const nowMs = this.#now();
      // The release names its hold and ref_id is looked up first, so a second close is a no-op.
      const closed = await trx.selectFrom('ledger_entries').select('id').where('ref_id', '=', hold.id).executeTakeFirst();
      if (closed !== undefined) return false;
      const base = {
        api_key_id: hold.apiKeyId,
        request_id: hold.requestId,
        model: hold.model,
        created_at_ms: nowMs,
        expires_at_ms: null,
        organization_id: organizationId,
        price_group: hold.price?.group ?? null,
        price_json: hold.price?.priceJson ?? null,
      };
      await trx
        .insertInto('ledger_entries')
        .values({
          ...base,
          id: `led_${randomUUID().replaceAll('-', '')}`,
          kind: 'release',
          amount_micro_usd: -hold.amountMicroUsd,
          ref_id: hold.id,
          image_count: 0,
          channel: null,
          upstream_cost_micro_usd: null,
        })
        .execute();
      let delta = -hold.amountMicroUsd;
      const charging = charge !== null && charge.imageCount > 0;
      if (charging) {
        await trx
          .insertInto('ledger_entries')
          .values({
            ...base,
            id: `led_${randomUUID().replaceAll('-', '')}`,
            kind: 'charge',
            amount_micro_usd: charge.chargeMicroUsd,
            ref_id: null,
            image_count: charge.imageCount,
            channel: charge.upstream?.channel ?? null,
            upstream_cost_micro_usd: charge.upstream === null ? null : Math.max(0, Math.ceil(charge.upstream.upstreamCostMicroUsd)),
          })
          .execute();
        delta += charge.chargeMicroUsd;
        if (charge.records.length > 0)
          await trx
            .insertInto('images')
            .values([...charge.records])
            .execute();
      }
      await trx
        .updateTable('api_keys')
        .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${delta}` })
        .where('id', '=', hold.apiKeyId)
        .execute();
      if (organizationId !== null) {
        await trx
          .updateTable('organizations')
          .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${delta}` })
          .where('id', '=', organizationId)
          .execute();
      }
      return charging;
    });
  }
}

/**
 * A charge within [0, hold], in whole micro-dollars (rounded up, like every price). Something
 * that is not a number (a NaN from a bug upstream of here) is charged the hold: the most the
 * client agreed to, rather than nothing for images that were delivered.
 */
export function boundCharge(chargeMicroUsd: number, holdMicroUsd: number): { chargeMicroUsd: number; anomaly: MoneyAnomalyKind | null } {
  if (Number.isNaN(chargeMicroUsd)) return { chargeMicroUsd: holdMicroUsd, anomaly: 'charge_not_a_number' };
  if (chargeMicroUsd < 0) return { chargeMicroUsd: 0, anomaly: 'charge_negative' };
  if (chargeMicroUsd > holdMicroUsd) return { chargeMicroUsd: holdMicroUsd, anomaly: 'charge_above_hold' };
  return { chargeMicroUsd: Math.min(holdMicroUsd, Math.ceil(chargeMicroUsd)), anomaly: null };
}

/** Micro-dollars as dollars with six decimals, for messages. */
function usd(microUsd: number): string {
  return (microUsd / 1_000_000).toFixed(6);
}
