import { aspectSize } from '../aspect.ts';
import { formatSize } from '../sizes.ts';
import type { EditRules, ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * Google's native image models on the Gemini API ("Nano Banana"), served by the `gemini` provider
 * (`generateContent`, provider notes §3b and §11). Facts from Google's image-generation guide
 * (ai.google.dev/gemini-api/docs/image-generation) and price list (ai.google.dev/gemini-api/docs/pricing).
 *
 * Sizes are aspect ratios with resolution tiers: a client's `WxH` maps to the nearest ratio and
 * tier, the model picks the exact pixels (1344x768 for 16:9 on 2.5 Flash Image, 1376x768 on the
 * Gemini 3 models) and the response reports what was delivered.
 */

const MB = 1024 * 1024;

/** The ratios every Gemini image model takes (`imageConfig.aspectRatio`, Google's guide). */
const RATIOS = ['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16', '16:9', '21:9'] as const;

/** Long edge at 1:1 of each `imageConfig.imageSize` tier ("1K" is 1024x1024, and so on). */
const TIER_EDGES_PX = { '1K': 1024, '2K': 2048, '4K': 4096 } as const;

type AspectRule = Extract<SizeRule, { kind: 'aspect' }>;

function aspectRule(ratios: readonly string[], tiers: Readonly<Record<string, number>>): AspectRule {
  return { kind: 'aspect', ratios, tiers, defaultRatio: '1:1', defaultTier: '1K', multipleOf: 16 };
}

/**
 * Per-image prices by tier as the ledger looks them up: the request's nominal size at each ratio
 * of a tier maps to that tier's price, `*` (every other size) to the default tier's.
 */
function tierPrices(rule: AspectRule, defaultUsd: number, otherTiersUsd: Readonly<Record<string, number>>): Record<string, number> {
  const prices: Record<string, number> = { '*': defaultUsd };
  for (const [tier, usd] of Object.entries(otherTiersUsd)) {
    for (const ratio of rule.ratios) prices[formatSize(aspectSize(rule, { ratio, tier }))] = usd;
  }
  return prices;
}

/**
 * Edits: input images go in as `inlineData` parts before the prompt. Google takes PNG, JPEG and
 * WebP (also HEIC/HEIF, which the gateway does not read); files up to 7 MB each for inline data
 * (Vertex's model pages for these models; the whole request must stay under the Gemini API's
 * 20 MB, which Google itself enforces with a 400). JSON edits (`image_url`) are taken too.
 * A mask is no Gemini field: the gateway keeps every pixel outside it (providers/gemini).
 */
function editRules(maxImages: number): EditRules {
  return { formats: ['png', 'jpeg', 'webp'], maxImages, maxFileBytes: 7 * MB, square: false, json: true, inputFidelities: [] };
}

/** What the three models share; each row states its sizes, edit rules and price. */
const COMMON = {
  ownedBy: 'google',
  // Far inside the models' input limits (32,768 tokens for 2.5 Flash Image, 65,536 for 3 Pro
  // Image, Google's model pages) even with reference images; the same cap as GPT image models.
  promptMaxChars: 32_000,
  // One image per upstream call ("Multiple candidates is not enabled", provider notes §11): the
  // router fans `n` out in parallel, so n is kept to what a preview model's rate limit bears.
  maxN: 4,
  // The use case answers `stream: true` with completed events; Gemini streams no partial images.
  streaming: true,
  // No transparency: Gemini draws opaque images.
  backgrounds: [],
  // `size` always, because Google picks the pixels; `output_format`, `quality`, `background` and
  // `usage` are fields of GPT image answers, which clients read as such (prices here are per image).
  responseFields: ['size'],
} as const;

const FLASH_25_RULE = aspectRule(RATIOS, { '1K': TIER_EDGES_PX['1K'] });
const PRO_3_RULE = aspectRule(RATIOS, TIER_EDGES_PX);
/*
 * Gemini 3.1 Flash Image adds the extreme ratios 1:4, 4:1, 1:8, 8:1 and a `512` tier to the
 * common ones (Google's guide; the API's AspectRatio enum lists them).
 */
const FLASH_31_RULE = aspectRule([...RATIOS, '1:4', '4:1', '1:8', '8:1'], { '512': 512, ...TIER_EDGES_PX });

export const GOOGLE_MODELS: readonly ModelSpec[] = [
  imageModel({
    ...COMMON,
    id: 'gemini-2.5-flash-image',
    // One resolution (1024 px class, e.g. 1344x768 at 16:9); `imageSize` is not a field of it.
    size: FLASH_25_RULE,
    // "Works best with up to 3 images as input" (Google's guide).
    edit: editRules(3),
    // $30 per 1M output tokens, 1290 tokens per image: $0.039 an image. Google scheduled the
    // model's shutdown for 2026-10-02 (provider notes §11): kept for channels that still serve it.
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.039 } } },
    priceSource: 'Gemini API pricing (ai.google.dev/gemini-api/docs/pricing), Gemini 2.5 Flash Image: $30/1M output tokens × 1290 tokens = $0.039 per image',
  }),
  imageModel({
    ...COMMON,
    id: 'gemini-3.1-flash-image-preview',
    size: FLASH_31_RULE,
    // Up to 14 reference images (10 objects, 4 characters; Google's guide).
    edit: editRules(14),
    // $60 per 1M output image tokens: 512 $0.045, 1K $0.067, 2K $0.101, 4K $0.151 an image.
    price: { kind: 'per_image', usdPerImage: { standard: tierPrices(FLASH_31_RULE, 0.067, { '512': 0.045, '2K': 0.101, '4K': 0.151 }) } },
    priceSource:
      'Gemini API pricing (ai.google.dev/gemini-api/docs/pricing), Gemini 3.1 Flash Image Preview: $60/1M output image tokens = $0.045 (512), $0.067 (1K), $0.101 (2K), $0.151 (4K) per image',
  }),
  imageModel({
    ...COMMON,
    id: 'gemini-3-pro-image-preview',
    size: PRO_3_RULE,
    // Up to 14 reference images (6 objects, 5 people; Google's guide).
    edit: editRules(14),
    // $120 per 1M output image tokens: 1120 tokens (1K, 2K) = $0.134, 2000 tokens (4K) = $0.24.
    price: { kind: 'per_image', usdPerImage: { standard: tierPrices(PRO_3_RULE, 0.134, { '4K': 0.24 }) } },
    priceSource:
      'Gemini API pricing (ai.google.dev/gemini-api/docs/pricing), Gemini 3 Pro Image Preview: $120/1M output image tokens = $0.134 (1K/2K, 1120 tokens), $0.24 (4K, 2000 tokens) per image',
  }),
];
