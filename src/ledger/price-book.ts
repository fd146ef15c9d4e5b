import type { ModelSpec, PriceRule } from '../catalog/index.ts';
import { PriceRuleSchema } from '../catalog/index.ts';
import type { OrganizationsRepo } from '../db/organizations-repo.ts';
import type { PriceGroupsRepo } from '../db/price-groups-repo.ts';
import type { PriceGroupRow } from '../db/schema.ts';
import type { HeldPrice } from './ledger.ts';

export const DEFAULT_PRICE_GROUP = 'default';

/** The price a request is held and charged at: its group, and the rule every cost is computed with. */
export interface ResolvedPrice {
  readonly group: string;
  readonly price: PriceRule;
  /** As recorded on the request's ledger entries. */
  readonly held: HeldPrice;
}

/**
 * The one place a customer's price is decided. A key without an organisation pays the `default`
 * group's price; a key in one pays its organisation's group. The group's own price for the model
 * (if it has one) replaces the catalog's list price, and its multiplier scales the result.
 *
 * It is resolved once, before the hold, and the resulting rule travels with the request to its
 * charge (and is written on its entries), so a group changed while a request is in flight does
 * not change what that request costs.
 */
export class PriceBook {
  readonly #organizations: OrganizationsRepo;
  readonly #groups: PriceGroupsRepo;

  constructor(organizations: OrganizationsRepo, groups: PriceGroupsRepo) {
    this.#organizations = organizations;
    this.#groups = groups;
  }

  async resolve(organizationId: string | null, model: ModelSpec): Promise<ResolvedPrice> {
    const organization = organizationId === null ? undefined : await this.#organizations.get(organizationId);
    const groupId = organization?.price_group ?? DEFAULT_PRICE_GROUP;
    // A group that vanished (none can be deleted today) falls back to the list price, never to free.
    const group = (await this.#groups.get(groupId)) ?? null;
    const price = group === null ? model.price : groupPrice(group, model);
    return { group: group?.id ?? DEFAULT_PRICE_GROUP, price, held: { group: group?.id ?? DEFAULT_PRICE_GROUP, priceJson: JSON.stringify(price) } };
  }
}

/** A group's price for a model: its own rule for the model, or the list price, times its multiplier. */
export function groupPrice(group: Pick<PriceGroupRow, 'multiplier' | 'model_prices'>, model: ModelSpec): PriceRule {
  const own = (JSON.parse(group.model_prices) as Record<string, unknown>)[model.id];
  const parsed = own === undefined ? null : PriceRuleSchema.safeParse(own);
  const base = parsed?.success === true ? parsed.data : model.price;
  return scalePrice(base, Number(group.multiplier));
}

/** Every amount of a rule times `multiplier` (1 returns the rule itself). */
export function scalePrice(rule: PriceRule, multiplier: number): PriceRule {
  if (multiplier === 1) return rule;
  if (rule.kind === 'per_token') {
    return {
      kind: 'per_token',
      usdPerMillionTextInput: rule.usdPerMillionTextInput * multiplier,
      usdPerMillionImageInput: rule.usdPerMillionImageInput * multiplier,
      usdPerMillionImageOutput: rule.usdPerMillionImageOutput * multiplier,
    };
  }
  const usdPerImage = Object.fromEntries(
    Object.entries(rule.usdPerImage).map(([quality, sizes]) => [
      quality,
      Object.fromEntries(Object.entries(sizes).map(([size, usd]) => [size, usd * multiplier])),
    ]),
  );
  return { kind: 'per_image', usdPerImage };
}
