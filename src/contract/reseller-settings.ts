import { z } from 'zod';
import { type Catalog, PriceRuleSchema } from '../catalog/index.ts';
import type { OrganizationSettings, PriceGroupSettings } from '../keys/organization-settings.ts';
import { GatewayError } from '../errors.ts';
import { zodIssueToError } from './parse-body.ts';

/*
 * The admin API's organisation, credit and price-group bodies (snake_case, money in USD like the
 * key settings); everything past here is in micro-dollars.
 */

const Usd = z.number().min(0).max(1_000_000_000);
const Metadata = z.record(z.string(), z.string().max(500));
const GroupId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/i, 'use up to 64 letters, digits, dot, dash and underscore');

const OrganizationSchema = z.strictObject({
  name: z.string().min(1).max(200),
  price_group: GroupId.optional(),
  budget_usd: Usd.nullable().optional(),
  metadata: Metadata.nullable().optional(),
});

/** Validates a new organisation (`name` required; `price_group` defaults to `default`). */
export function validateNewOrganization(body: unknown): OrganizationSettings {
  const input = parse(OrganizationSchema, body);
  return {
    name: input.name,
    priceGroup: input.price_group ?? 'default',
    budgetMicroUsd: input.budget_usd === undefined || input.budget_usd === null ? null : toMicro(input.budget_usd),
    metadata: input.metadata ?? null,
  };
}

/** Validates a change: absent fields stay, `null` clears the budget or the metadata. */
export function validateOrganizationChanges(body: unknown): Partial<OrganizationSettings> {
  const input = parse(OrganizationSchema.partial(), body);
  const out: { -readonly [K in keyof OrganizationSettings]?: OrganizationSettings[K] } = {};
  if (input.name !== undefined) out.name = input.name;
  if (input.price_group !== undefined) out.priceGroup = input.price_group;
  if (input.budget_usd !== undefined) out.budgetMicroUsd = input.budget_usd === null ? null : toMicro(input.budget_usd);
  if (input.metadata !== undefined) out.metadata = input.metadata;
  return out;
}

const CreditSchema = z.strictObject({
  amount_usd: z
    .number()
    .min(-1_000_000_000)
    .max(1_000_000_000)
    .refine((v) => v !== 0, 'must not be zero'),
  reference: z.string().min(1).max(500).optional(),
});

/** A top-up (positive) or a correction (negative), in micro-dollars. */
export function validateCredit(body: unknown): { amountMicroUsd: number; reference: string | null } {
  const input = parse(CreditSchema, body);
  const amountMicroUsd = Math.round(input.amount_usd * 1_000_000);
  if (amountMicroUsd === 0) throw new GatewayError('invalid_value', "Invalid value for 'amount_usd': less than a micro-dollar.", { param: 'amount_usd' });
  return { amountMicroUsd, reference: input.reference ?? null };
}

const PriceGroupSchema = z.strictObject({
  id: GroupId,
  multiplier: z.number().min(0).max(1000).optional(),
  /** Model id → a catalog price rule replacing its list price in this group; null removes one. */
  model_prices: z.record(z.string(), PriceRuleSchema.nullable()).optional(),
});

/** A new price group: `id`, and a multiplier (default 1) and/or per-model prices. */
export function validateNewPriceGroup(body: unknown, catalog: Catalog): { id: string; settings: PriceGroupSettings } {
  const input = parse(PriceGroupSchema, body);
  return { id: input.id, settings: { multiplier: input.multiplier ?? 1, modelPrices: modelPrices({}, input.model_prices ?? {}, catalog) } };
}

/** Changes to a group: the multiplier, and model prices merged into the current ones (null removes). */
export function validatePriceGroupChanges(body: unknown, current: Readonly<Record<string, unknown>>, catalog: Catalog): Partial<PriceGroupSettings> {
  const input = parse(PriceGroupSchema.omit({ id: true }), body);
  const out: { -readonly [K in keyof PriceGroupSettings]?: PriceGroupSettings[K] } = {};
  if (input.multiplier !== undefined) out.multiplier = input.multiplier;
  if (input.model_prices !== undefined) out.modelPrices = modelPrices(current, input.model_prices, catalog);
  return out;
}

function modelPrices(current: Readonly<Record<string, unknown>>, changes: Readonly<Record<string, unknown>>, catalog: Catalog): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...current };
  for (const [model, rule] of Object.entries(changes)) {
    if (catalog.get(model) === undefined) {
      throw new GatewayError('invalid_value', `Invalid value '${model}' in 'model_prices': not a catalog model.`, { param: 'model_prices' });
    }
    const listed = catalog.get(model)?.price.kind;
    // The hold is computed with the model's own pricing inputs (a token table for per_token), so
    // a group price must be of the same kind as the catalog's.
    if (rule !== null && typeof rule === 'object' && 'kind' in rule && rule.kind !== listed) {
      throw new GatewayError(
        'invalid_value',
        `Invalid value in 'model_prices.${model}': '${model}' is priced ${listed ?? 'unknown'}; give a rule of that kind.`,
        {
          param: 'model_prices',
        },
      );
    }
    if (rule === null) delete merged[model];
    else merged[model] = rule;
  }
  return merged;
}

export type MarginGrouping = 'model' | 'channel' | 'organization' | 'day';

/** `group_by` of the margin report (default: model). */
export function parseMarginGrouping(value: unknown): MarginGrouping {
  if (value === undefined || value === '') return 'model';
  if (value === 'model' || value === 'channel' || value === 'organization' || value === 'day') return value;
  throw new GatewayError('invalid_value', "Invalid value for 'group_by': give model, channel, organization or day.", { param: 'group_by' });
}

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw zodIssueToError(parsed.error, body);
  return parsed.data;
}

function toMicro(usd: number): number {
  return Math.round(usd * 1_000_000);
}
