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

  /** Holds `amountMicroUsd`, or throws 429 insufficient_quota when the budget cannot cover it. */
  async reserve(apiKeyId: string, requestId: string, model: string, amountMicroUsd: number, holdTtlMs: number): Promise<Hold> {
    const id = `led_${randomUUID().replaceAll('-', '')}`;
    const nowMs = this.#now();
    await this.#db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('api_keys').select(['budget_micro_usd', 'committed_micro_usd']).where('id', '=', apiKeyId);
      if (this.#dialect === 'postgres') query = query.forUpdate();
      const key = await query.executeTakeFirstOrThrow();
      if (key.budget_micro_usd !== null && key.committed_micro_usd + amountMicroUsd > key.budget_micro_usd) {
        const left = Math.max(0, key.budget_micro_usd - key.committed_micro_usd) / 1_000_000;
        throw new GatewayError(
          'insufficient_quota',
          `You exceeded your current quota: this request may cost up to $${(amountMicroUsd / 1_000_000).toFixed(6)} and $${left.toFixed(6)} of this key's budget is left.`,
        );
      }
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
        })
        .execute();
      await trx
        .updateTable('api_keys')
        .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${amountMicroUsd}` })
        .where('id', '=', apiKeyId)
        .execute();
    });
    return { id, apiKeyId, requestId, model, amountMicroUsd };
  }

  /**
   * Releases the hold and charges what the delivered images cost, writing their records in the
   * same transaction: an image is never charged without its record, nor recorded without its
   * charge. Idempotent per hold. The charge is clamped to [0, hold] (reported as an anomaly).
   */
  async settle(hold: Hold, chargeMicroUsd: number, imageCount: number, records: readonly NewImageRow[] = []): Promise<void> {
    const bounded = boundCharge(chargeMicroUsd, hold.amountMicroUsd);
    const charged = await this.#close(hold, { chargeMicroUsd: bounded.chargeMicroUsd, imageCount, records });
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
      .select(['h.id', 'h.api_key_id', 'h.request_id', 'h.model', 'h.amount_micro_usd'])
      .where('h.kind', '=', 'hold')
      .where('h.expires_at_ms', '<=', this.#now())
      .where('r.id', 'is', null)
      .limit(limit)
      .execute();
    for (const row of stale) {
      await this.#close({ id: row.id, apiKeyId: row.api_key_id, requestId: row.request_id, model: row.model, amountMicroUsd: row.amount_micro_usd }, null);
    }
    return stale.length;
  }

  /** Whether a request (by its id) was already charged: a re-run after a crash must not charge twice. */
  async wasCharged(requestId: string): Promise<boolean> {
    const row = await this.#db.selectFrom('ledger_entries').select('id').where('request_id', '=', requestId).where('kind', '=', 'charge').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Every entry of a key, oldest first (for audits and tests). */
  async entries(apiKeyId: string): Promise<LedgerRow[]> {
    return this.#db.selectFrom('ledger_entries').selectAll().where('api_key_id', '=', apiKeyId).orderBy('seq').execute();
  }

  /** Releases the hold and writes the charge, if any; whether a charge was written (false on a repeat). */
  async #close(hold: Hold, charge: { chargeMicroUsd: number; imageCount: number; records: readonly NewImageRow[] } | null): Promise<boolean> {
    const nowMs = this.#now();
    return this.#db.transaction().execute(async (trx) => {
      let lock = trx.selectFrom('api_keys').select('id').where('id', '=', hold.apiKeyId);
      if (this.#dialect === 'postgres') lock = lock.forUpdate();
      await lock.executeTakeFirst();
      // The release names its hold and ref_id is looked up first, so a second close is a no-op.
      const closed = await trx.selectFrom('ledger_entries').select('id').where('ref_id', '=', hold.id).executeTakeFirst();
      if (closed !== undefined) return false;
      const base = { api_key_id: hold.apiKeyId, request_id: hold.requestId, model: hold.model, created_at_ms: nowMs, expires_at_ms: null };
      await trx
        .insertInto('ledger_entries')
        .values({ ...base, id: `led_${randomUUID().replaceAll('-', '')}`, kind: 'release', amount_micro_usd: -hold.amountMicroUsd, ref_id: hold.id, image_count: 0 })
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
          })
          .execute();
        delta += charge.chargeMicroUsd;
        if (charge.records.length > 0) await trx.insertInto('images').values([...charge.records]).execute();
      }
      await trx
        .updateTable('api_keys')
        .set({ committed_micro_usd: sql<number>`committed_micro_usd + ${delta}` })
        .where('id', '=', hold.apiKeyId)
        .execute();
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
