import type { Dimensions, ImageUsage, ModelSpec, PriceRule } from '../catalog/index.ts';
import { PriceRuleSchema, priceUsd } from '../catalog/index.ts';
import { z } from 'zod';
import { scalePrice } from './price-book.ts';

/**
 * What a channel costs the operator, per model id (or `*` for every model it serves): a price rule
 * of the catalog's shape, or a multiplier of the catalog's list price. A model without an entry
 * costs its list price: the operator pays what the provider publishes.
 */
export type ChannelCost = { readonly rule: PriceRule } | { readonly multiplier: number };
export type ChannelCosts = ReadonlyMap<string, ReadonlyMap<string, ChannelCost>>;

const ChannelCostSchema = z.union([z.strictObject({ multiplier: z.number().min(0) }), PriceRuleSchema]);

/** The channels' `cost:` sections, checked at boot; a bad entry throws naming the channel and model. */
export function parseChannelCosts(
  channels: ReadonlyArray<{ readonly id: string; readonly cost?: Readonly<Record<string, unknown>> | undefined }>,
): ChannelCosts {
  const out = new Map<string, Map<string, ChannelCost>>();
  for (const channel of channels) {
    const byModel = new Map<string, ChannelCost>();
    for (const [model, raw] of Object.entries(channel.cost ?? {})) {
      const parsed = ChannelCostSchema.safeParse(raw);
      if (!parsed.success)
        throw new Error(
          `channels (${channel.id}).cost.${model}: give a price rule (kind per_image or per_token) or { multiplier }: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        );
      byModel.set(model, 'multiplier' in parsed.data ? { multiplier: parsed.data.multiplier } : { rule: parsed.data });
    }
    out.set(channel.id, byModel);
  }
  return out;
}

/** What `imageCount` delivered images of `model` cost upstream on `channel`, in micro-dollars. */
export function upstreamCostMicroUsd(
  costs: ChannelCosts,
  channel: string,
  model: ModelSpec,
  quality: string,
  size: Dimensions,
  imageCount: number,
  usage: ImageUsage | null,
): number {
  const entry = costs.get(channel)?.get(model.id) ?? costs.get(channel)?.get('*');
  const rule = entry === undefined ? model.price : 'rule' in entry ? entry.rule : scalePrice(model.price, entry.multiplier);
  return Math.ceil(priceUsd(rule, quality, size, imageCount, usage) * 1_000_000 - 1e-6);
}
