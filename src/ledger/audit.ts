import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/** One broken invariant of the ledger, said so a person can find it. */
export interface AuditViolation {
  readonly rule:
    | 'committed_total'
    | 'hold_open_past_expiry'
    | 'charge_without_images'
    | 'images_without_charge'
    | 'charge_negative'
    | 'charge_above_hold'
    | 'organization_committed_total'
    | 'organization_credited_total'
    | 'organization_balance_below_zero';
  /** The key at fault ('' for an organisation's own rule). */
  readonly apiKeyId: string;
  readonly organizationId?: string;
  readonly requestId: string | null;
  readonly detail: string;
}

export interface AuditReport {
  readonly keys: number;
  readonly organizations: number;
  readonly entries: number;
  readonly charges: number;
  readonly chargedImages: number;
  readonly chargedMicroUsd: number;
  readonly violations: readonly AuditViolation[];
}

/**
 * Checks the ledger's invariants against the database as it is:
 * - each key's committed total equals the sum of its entries;
 * - no hold is open past its expiry (the sweeper releases them);
 * - every charge has exactly its images recorded, and every recorded image belongs to a charge;
 * - no charge is negative or above the largest hold of its request;
 * - each organisation's committed total equals the sum of its entries, its credited total the sum
 *   of its credits, and its balance (credits − entries) never went below zero but by a recorded
 *   correction (a negative credit): replayed in time order, no hold or charge leaves it negative.
 *
 * Image records are swept after the retention period, so the image checks cover requests since
 * `imagesSinceMs` (pass the start of the retention window). Read in one pass per table: meant for
 * `imagegate audit`, the soak and the multi-replica test, not for a request path.
 */
export async function auditLedger(db: Kysely<Database>, options: { readonly nowMs: number; readonly imagesSinceMs: number }): Promise<AuditReport> {
  const violations: AuditViolation[] = [];
  const keys = await db.selectFrom('api_keys').select(['id', 'committed_micro_usd']).execute();
  const entries = await db
    .selectFrom('ledger_entries')
    .select(['seq', 'id', 'api_key_id', 'request_id', 'kind', 'amount_micro_usd', 'ref_id', 'image_count', 'created_at_ms', 'expires_at_ms', 'organization_id'])
    .execute();
  const organizations = await db.selectFrom('organizations').select(['id', 'committed_micro_usd', 'credited_micro_usd']).execute();
  const credits = await db.selectFrom('organization_credits').select(['seq', 'organization_id', 'amount_micro_usd', 'created_at_ms']).execute();
  violations.push(...auditOrganizations(organizations, entries, credits));
  const images = await db
    .selectFrom('images')
    .select(['api_key_id', 'request_id', 'created_at_ms'])
    .where('created_at_ms', '>=', options.imagesSinceMs)
    .execute();

  const sums = new Map<string, number>();
  for (const entry of entries) sums.set(entry.api_key_id, (sums.get(entry.api_key_id) ?? 0) + entry.amount_micro_usd);
  for (const key of keys) {
    const sum = sums.get(key.id) ?? 0;
    if (sum !== key.committed_micro_usd) {
      violations.push({
        rule: 'committed_total',
        apiKeyId: key.id,
        requestId: null,
        detail: `committed ${key.committed_micro_usd} µ$, entries sum to ${sum} µ$`,
      });
    }
  }

  const closed = new Set(entries.filter((e) => e.kind === 'release').map((e) => e.ref_id));
  const largestHold = new Map<string, number>();
  for (const hold of entries.filter((e) => e.kind === 'hold')) {
    largestHold.set(hold.request_id, Math.max(largestHold.get(hold.request_id) ?? 0, hold.amount_micro_usd));
    if (!closed.has(hold.id) && hold.expires_at_ms !== null && hold.expires_at_ms < options.nowMs) {
      violations.push({
        rule: 'hold_open_past_expiry',
        apiKeyId: hold.api_key_id,
        requestId: hold.request_id,
        detail: `hold ${hold.id} expired at ${hold.expires_at_ms}`,
      });
    }
  }

  const imagesByRequest = new Map<string, number>();
  for (const image of images) imagesByRequest.set(image.request_id, (imagesByRequest.get(image.request_id) ?? 0) + 1);
  const charges = entries.filter((e) => e.kind === 'charge');
  const chargedRequests = new Set<string>();
  for (const charge of charges) {
    chargedRequests.add(charge.request_id);
    const where = { apiKeyId: charge.api_key_id, requestId: charge.request_id };
    if (charge.amount_micro_usd < 0) violations.push({ ...where, rule: 'charge_negative', detail: `charge ${charge.id} of ${charge.amount_micro_usd} µ$` });
    const hold = largestHold.get(charge.request_id) ?? 0;
    if (charge.amount_micro_usd > hold)
      violations.push({ ...where, rule: 'charge_above_hold', detail: `charge ${charge.amount_micro_usd} µ$ above its hold of ${hold} µ$` });
    if (charge.created_at_ms >= options.imagesSinceMs) {
      const recorded = imagesByRequest.get(charge.request_id) ?? 0;
      if (recorded !== charge.image_count) {
        violations.push({ ...where, rule: 'charge_without_images', detail: `${charge.image_count} images charged, ${recorded} recorded` });
      }
    }
  }
  for (const [requestId, count] of imagesByRequest) {
    if (!chargedRequests.has(requestId)) {
      const owner = images.find((image) => image.request_id === requestId)?.api_key_id ?? '';
      violations.push({ rule: 'images_without_charge', apiKeyId: owner, requestId, detail: `${count} images recorded without a charge` });
    }
  }

  return {
    keys: keys.length,
    organizations: organizations.length,
    entries: entries.length,
    charges: charges.length,
    chargedImages: charges.reduce((total, charge) => total + charge.image_count, 0),
    chargedMicroUsd: charges.reduce((total, charge) => total + charge.amount_micro_usd, 0),
    violations,
  };
}

/** The organisation rules: totals in step with the ledger, and no balance overdrawn but by a correction. */
function auditOrganizations(
  organizations: ReadonlyArray<{ id: string; committed_micro_usd: number; credited_micro_usd: number }>,
  entries: ReadonlyArray<{ seq: number; organization_id: string | null; amount_micro_usd: number; created_at_ms: number; request_id: string }>,
  credits: ReadonlyArray<{ seq: number; organization_id: string; amount_micro_usd: number; created_at_ms: number }>,
): AuditViolation[] {
  const violations: AuditViolation[] = [];
  for (const organization of organizations) {
    const own = entries.filter((entry) => entry.organization_id === organization.id);
    const ownCredits = credits.filter((credit) => credit.organization_id === organization.id);
    const committed = own.reduce((sum, entry) => sum + entry.amount_micro_usd, 0);
    const credited = ownCredits.reduce((sum, credit) => sum + credit.amount_micro_usd, 0);
    const where = { apiKeyId: '', organizationId: organization.id, requestId: null };
    if (committed !== organization.committed_micro_usd) {
      violations.push({
        ...where,
        rule: 'organization_committed_total',
        detail: `organization ${organization.id}: committed ${organization.committed_micro_usd} µ$, entries sum to ${committed} µ$`,
      });
    }
    if (credited !== organization.credited_micro_usd) {
      violations.push({
        ...where,
        rule: 'organization_credited_total',
        detail: `organization ${organization.id}: credited ${organization.credited_micro_usd} µ$, credits sum to ${credited} µ$`,
      });
    }
    // Replayed by the millisecond: a release and its charge share one, and are judged together.
    const moments = new Map<number, { spent: number; credited: number; corrected: boolean; requestId: string | null }>();
    for (const entry of own) {
      const moment = moments.get(entry.created_at_ms) ?? { spent: 0, credited: 0, corrected: false, requestId: null };
      moments.set(entry.created_at_ms, { ...moment, spent: moment.spent + entry.amount_micro_usd, requestId: moment.requestId ?? entry.request_id });
    }
    for (const credit of ownCredits) {
      const moment = moments.get(credit.created_at_ms) ?? { spent: 0, credited: 0, corrected: false, requestId: null };
      moments.set(credit.created_at_ms, {
        ...moment,
        credited: moment.credited + credit.amount_micro_usd,
        corrected: moment.corrected || credit.amount_micro_usd < 0,
      });
    }
    let balance = 0;
    for (const [atMs, moment] of [...moments].sort(([a], [b]) => a - b)) {
      const before = balance;
      balance += moment.credited - moment.spent;
      if (balance < 0 && balance < before && !moment.corrected) {
        violations.push({
          ...where,
          requestId: moment.requestId,
          rule: 'organization_balance_below_zero',
          detail: `organization ${organization.id}: balance ${balance} µ$ at ${atMs}, not by a correction`,
        });
      }
    }
  }
  return violations;
}
