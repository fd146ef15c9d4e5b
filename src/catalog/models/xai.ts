import { aspectSize } from '../aspect.ts';
import { formatSize } from '../sizes.ts';
import type { EditRules, ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * xAI's Grok Imagine image models, served by xAI's own API (`provider: xai`). Rules from xAI's
 * image-generation guide (docs.x.ai/developers/model-capabilities/images/generation) and its API
 * schema as mirrored by Comfy Router (docs.comfy.org, xai/grok-imagine-image*), provider notes §9
 * and §11:
 * - no `size`, `quality` (except grok-imagine-image-2.0) or `style`: "Argument not supported";
 * - `aspect_ratio` from a wide menu, `resolution` `1k` or `2k` (the default), `n` 1–10;
 * - `response_format` url (temporary links) or b64_json; JPEG pictures; the prompt comes back
 *   up-sampled as `revised_prompt`;
 * - edits at `/images/edits`, JSON with 1–3 images as URLs or data URIs, no mask.
 * xAI documents no seed, negative prompt or prompt limit; the gateway's default limit stands.
 *
 * grok-imagine-image-pro was deprecated on 2026-05-15 and now runs grok-imagine-image-2.0 at medium
 * quality (BlockRunAI/blockrun-mcp v0.55.5); grok-2-image(-1212) is legacy. Operators who still
 * use those names alias them (`aliases:` in imagegate.yaml).
 */

/** xAI's `aspect_ratio` values, `auto` aside (the gateway always names the ratio it prices). */
const XAI_RATIOS = ['1:1', '3:4', '4:3', '9:16', '16:9', '2:3', '3:2', '9:19.5', '19.5:9', '9:20', '20:9', '1:2', '2:1'] as const;

/**
 * Tiers as xAI writes them (`1k`, `2k`), so the tier name is the wire value. xAI draws 1024x1024
 * at 1k and 2048x2048 at 2k, other ratios at about the same pixel count (16:9 at 1k is 1408x768,
 * per Runware's xai:grok-imagine@image size table); the response reports what was delivered.
 */
export const XAI_SIZE_RULE: Extract<SizeRule, { kind: 'aspect' }> = {
  kind: 'aspect',
  ratios: XAI_RATIOS,
  tiers: { '1k': 1024, '2k': 2048 },
  defaultRatio: '1:1',
  defaultTier: '1k',
  multipleOf: 16,
};

const MB = 1024 * 1024;

/** JSON edits with 1–3 images (jpg, png, webp) as data URIs; xAI's image inputs are at most 10 MiB. */
const XAI_EDIT: EditRules = { formats: ['png', 'jpeg', 'webp'], maxImages: 3, maxFileBytes: 10 * MB, square: false, json: true, inputFidelities: [] };

/**
 * A per-image price for every nominal size of a tier: xAI prices by resolution, and the catalog
 * prices by the size a request resolves to (the tier's size at the chosen ratio).
 */
function byTier(usdPerTier: Readonly<Record<'1k' | '2k', number>>): Record<string, number> {
  const table: Record<string, number> = {};
  for (const ratio of XAI_RATIOS) {
    for (const [tier, usd] of Object.entries(usdPerTier)) table[formatSize(aspectSize(XAI_SIZE_RULE, { ratio, tier }))] = usd;
  }
  return table;
}

function grokImagine(row: Pick<ModelSpec, 'id' | 'price' | 'priceSource'> & Partial<ModelSpec>): ModelSpec {
  return imageModel({
    ownedBy: 'xai',
    size: XAI_SIZE_RULE,
    maxN: 10,
    nativeFormat: 'jpeg',
    revisesPrompt: true,
    // The use case answers a stream with completed events; xAI itself does not stream images.
    streaming: true,
    edit: XAI_EDIT,
    extras: { negativePromptMaxChars: null, seed: false },
    openaiWire: ['response_format'],
    // xAI's answer is `data` (and its own `usage` in cost ticks): none of OpenAI's extra fields.
    // The gateway still names `size` whenever the picture differs from the size asked.
    responseFields: [],
    ...row,
  });
}

export const XAI_MODELS: readonly ModelSpec[] = [
  grokImagine({
    id: 'grok-imagine-image',
    // "$0.02 / image" at either resolution: xAI's price as Crazyrouter, Cloudflare Workers AI and
    // Runware quote it; LaoZhang API's launch notes (2026-08-13) say 1k and 2k cost the same.
    priceSource: 'xAI list price as quoted by docs.crazyrouter.com/en/images/grok and developers.cloudflare.com/ai/models/xai/grok-imagine-image (2026)',
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.02 } } },
  }),
  grokImagine({
    id: 'grok-imagine-image-quality',
    // $0.05 at 1k (Cloudflare Workers AI's page, linking docs.x.ai/developers/models/
    // grok-imagine-image-quality; Atlas Cloud's xAI guide), $0.07 at 2k (Replicate's 2K tier).
    priceSource:
      'xAI list price as quoted by developers.cloudflare.com/ai/models/xai/grok-imagine-image-quality (1k) and Replicate xai/grok-imagine-image-quality (2k), 2026',
    price: { kind: 'per_image', usdPerImage: { standard: byTier({ '1k': 0.05, '2k': 0.07 }) } },
  }),
  grokImagine({
    id: 'grok-imagine-image-2.0',
    // The one xAI model whose `quality` is a field: it picks the price tier, low or medium
    // (default medium), per the API schema Comfy Router mirrors and APIYI's official channel.
    qualities: ['low', 'medium', 'auto'],
    defaultQuality: 'medium',
    openaiWire: ['response_format', 'quality'],
    // $0.04/$0.06 (low) and $0.06/$0.08 (medium) at 1k/2k: APIYI's official-channel range
    // ($0.02–0.08, "xAI's official prices"), APIMart's observed 1K@low $0.032, 1K@medium and 2K@low
    // $0.048 at its 20% discount (grok-imagine-image $0.016 there), and BlockRun's medium at $0.06.
    priceSource:
      'xAI prices as relayed by docs.apiyi.com (grok-imagine-image-official) and APIMart observed prices (2026-10), medium 1k confirmed by BlockRun v0.55.5',
    price: {
      kind: 'per_image',
      usdPerImage: { low: byTier({ '1k': 0.04, '2k': 0.06 }), medium: byTier({ '1k': 0.06, '2k': 0.08 }) },
    },
  }),
];
