import { z } from 'zod';
import { parseRatio } from './aspect.ts';
import { parseSize } from './sizes.ts';

/*
 * The zod form of `ModelSpec` (types.ts), for models an operator adds or changes in
 * `imagegate.yaml` (`models:`). A model entry is merged over the built-in it is `like` and the
 * whole result is checked here, so an operator's model obeys the same rules as a built-in one.
 */

const WxH = z.string().refine((text) => parseSize(text) !== null, 'must be a size written WIDTHxHEIGHT, such as 1024x1024');
const Format = z.enum(['png', 'jpeg', 'webp']);
const Count = z.number().int().min(1);

const SizeRuleSchema = z.discriminatedUnion('kind', [
  z
    .strictObject({
      kind: z.literal('list'),
      sizes: z.array(WxH).min(1),
      aliases: z.record(WxH, WxH).optional(),
      autoSize: WxH,
      acceptsAuto: z.boolean(),
    })
    .refine((rule) => rule.sizes.includes(rule.autoSize), { message: 'autoSize must be one of sizes', path: ['autoSize'] })
    .refine((rule) => Object.values(rule.aliases ?? {}).every((target) => rule.sizes.includes(target)), {
      message: 'every alias must map to one of sizes',
      path: ['aliases'],
    }),
  z.strictObject({
    kind: z.literal('free'),
    multipleOf: Count,
    maxEdgePx: Count,
    minPixels: Count,
    maxPixels: Count,
    maxAspectRatio: z.number().min(1),
    commonSizes: z.array(WxH),
    autoSize: WxH,
  }),
  z
    .strictObject({
      kind: z.literal('aspect'),
      ratios: z.array(z.string().refine((text) => parseRatio(text) !== null, 'ratios are written W:H, such as 16:9')).min(1),
      tiers: z.record(z.string().min(1), Count).refine((tiers) => Object.keys(tiers).length > 0, 'name at least one tier'),
      defaultRatio: z.string(),
      defaultTier: z.string(),
      multipleOf: Count.default(16),
    })
    .refine((rule) => rule.ratios.includes(rule.defaultRatio), { message: 'defaultRatio must be one of ratios', path: ['defaultRatio'] })
    .refine((rule) => rule.tiers[rule.defaultTier] !== undefined, { message: 'defaultTier must be one of tiers', path: ['defaultTier'] }),
]);

const usd = z.number().min(0);
export const PriceRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('per_image'), usdPerImage: z.record(z.string(), z.record(z.string(), usd)) }),
  z.strictObject({
    kind: z.literal('per_token'),
    usdPerMillionTextInput: usd,
    usdPerMillionImageInput: usd,
    usdPerMillionImageOutput: usd,
  }),
]);

const TokenTableSchema = z.strictObject({
  exact: z.record(z.string(), z.record(WxH, z.number().int().min(0))),
  perMegapixelBase: z.record(z.string(), z.number().min(0)),
});

const EditRulesSchema = z.strictObject({
  formats: z.array(Format).min(1),
  maxImages: Count.max(16),
  maxFileBytes: Count,
  square: z.boolean(),
  json: z.boolean(),
  inputFidelities: z.array(z.enum(['high', 'low'])),
});

/** Every field of a model, checked as a whole (types.ts documents each). */
export const ModelSpecSchema = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/, 'use letters, digits and . _ : / - (at most 100)'),
    ownedBy: z.string().min(1),
    promptMaxChars: Count,
    maxN: Count.max(100),
    size: SizeRuleSchema,
    qualities: z.array(z.string().min(1)).min(1),
    defaultQuality: z.string().min(1),
    styles: z.array(z.enum(['vivid', 'natural'])),
    defaultStyle: z.enum(['vivid', 'natural']).nullable(),
    defaultResponseFormat: z.enum(['url', 'b64_json']),
    outputFormats: z.array(Format),
    nativeFormat: Format,
    backgrounds: z.array(z.enum(['transparent', 'opaque', 'auto'])),
    takesModeration: z.boolean(),
    revisesPrompt: z.boolean(),
    streaming: z.boolean(),
    edit: EditRulesSchema.nullable(),
    variations: z.boolean(),
    extras: z.strictObject({ negativePromptMaxChars: Count.nullable(), seed: z.boolean() }),
    openaiWire: z.array(z.enum(['quality', 'style', 'response_format', 'output_format', 'output_compression', 'background', 'moderation', 'input_fidelity'])),
    responseFields: z.array(z.enum(['background', 'output_format', 'quality', 'size', 'usage'])),
    providerLimits: z.record(z.string(), z.strictObject({ maxImagesPerCall: Count.optional() })),
    tokens: TokenTableSchema.nullable(),
    price: PriceRuleSchema,
    priceSource: z.string().min(1),
  })
  .refine((spec) => spec.qualities.includes(spec.defaultQuality) && spec.defaultQuality !== 'auto', {
    message: "defaultQuality must be one of qualities (not 'auto')",
    path: ['defaultQuality'],
  })
  .refine((spec) => (spec.defaultStyle === null ? spec.styles.length === 0 : spec.styles.includes(spec.defaultStyle)), {
    message: 'defaultStyle must be one of styles, or null when styles is empty',
    path: ['defaultStyle'],
  })
  .refine((spec) => spec.price.kind !== 'per_token' || spec.tokens !== null, {
    message: 'a per_token price needs a tokens table',
    path: ['price'],
  });

/**
 * One entry of `models:`: a new model `like` a built-in (any field overridden), a built-in changed
 * in place (its own id, no `like`), or an alias (`aliasOf`, nothing else).
 */
export const OperatorModelSchema = z.looseObject({
  id: z.string().min(1),
  like: z.string().min(1).optional(),
  aliasOf: z.string().min(1).optional(),
});
