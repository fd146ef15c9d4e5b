import { type AspectChoice, aspectSize, type Dimensions, type ModelSpec, resolveSize } from '../catalog/index.ts';
import { GatewayError } from '../errors.ts';
import { type FieldPolicy, invalidChoice } from './image-fields.ts';

/**
 * `size`, and for aspect-ratio models `aspect_ratio` and `resolution` (imagegate extensions that
 * name the model's own choices directly), resolved to the size asked of the upstream. An explicit
 * `aspect_ratio`/`resolution` wins over what `size` maps to; on other models those fields are
 * unsupported (refused, or dropped in drop mode).
 */
export function resolveRequestedSize(
  model: ModelSpec,
  sizeAsked: string | undefined,
  ratioAsked: string | null | undefined,
  tierAsked: string | null | undefined,
  policy: FieldPolicy,
): { size: Dimensions; aspect: AspectChoice | null } {
  const resolved = resolveSize(model.id, model.size, sizeAsked);
  if (!resolved.ok) throw new GatewayError('invalid_value', `Invalid value '${sizeAsked}' for 'size': ${resolved.reason}.`, { param: 'size' });
  const rule = model.size;
  if (rule.kind !== 'aspect') {
    if (ratioAsked != null) policy.unsupported(model, 'aspect_ratio');
    if (tierAsked != null) policy.unsupported(model, 'resolution');
    return { size: resolved.size, aspect: null };
  }
  const base = resolved.aspect ?? { ratio: rule.defaultRatio, tier: rule.defaultTier };
  if (ratioAsked != null && !rule.ratios.includes(ratioAsked)) throw invalidChoice(model, 'aspect_ratio', ratioAsked, rule.ratios);
  const tiers = Object.keys(rule.tiers);
  // Tiers are matched without regard to case: xAI writes `1k`, Gemini `1K`.
  const tier = tierAsked == null ? undefined : tiers.find((name) => name.toLowerCase() === tierAsked.toLowerCase());
  if (tierAsked != null && tier === undefined) throw invalidChoice(model, 'resolution', tierAsked, tiers);
  const aspect = { ratio: ratioAsked ?? base.ratio, tier: tier ?? base.tier };
  return { size: aspectSize(rule, aspect), aspect };
}
