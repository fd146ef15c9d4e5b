import type { EditRules, ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * Stability AI's image models, as its v2beta Stable Image API serves them (platform.stability.ai
 * API reference, "Generate": /v2beta/stable-image/generate/{ultra,core,sd3}; provider notes §5).
 * Stability on Amazon Bedrock serves the same models, so these rows belong to the maker, not to
 * one provider.
 *
 * Prices: Stability bills in credits, 1 credit = $0.01, a flat number per successful image
 * whatever its size, nothing for failed or filtered ones (platform.stability.ai/pricing, 2026):
 * Stable Image Ultra 8, Stable Image Core 3, SD 3.5 Large 6.5, SD 3.5 Large Turbo 4, SD 3.5
 * Medium 3.5. Operators override them in imagegate.yaml (`prices:`).
 */

const PRICE_SOURCE = 'https://platform.stability.ai/pricing (2026): 1 credit = $0.01';

/**
 * The nine `aspect_ratio` values every generate endpoint takes (API reference, default 1:1).
 * There are no pixel sizes on the wire: an OpenAI `size` maps to the nearest ratio and the
 * upstream picks the pixels, which the response reports.
 */
const RATIOS = ['16:9', '1:1', '21:9', '2:3', '3:2', '4:5', '5:4', '9:16', '9:21'] as const;

/**
 * One resolution per model: Ultra and SD 3.5 draw about 1 megapixel ("The resolution of the
 * generated image will be 1 megapixel", 1024x1024 at 1:1), Core about 1.5 megapixels (API
 * reference, "Output"). Their pixel sizes are multiples of 64 (1344x768 at 16:9).
 */
function aspectRule(tier: string, edgePx: number): SizeRule {
  return { kind: 'aspect', ratios: RATIOS, tiers: { [tier]: edgePx }, defaultRatio: '1:1', defaultTier: tier, multipleOf: 64 };
}
const ONE_MEGAPIXEL = aspectRule('1MP', 1024);
// 1.5 × 1024² pixels is 1254² (the edge the gateway names the nominal size by).
const ONE_AND_A_HALF_MEGAPIXELS = aspectRule('1.5MP', 1254);

const MB = 1024 * 1024;

/**
 * Edits go to Stability's Inpaint service (`/v2beta/stable-image/edit/inpaint`): one jpeg, png or
 * webp image, every side at least 64 px, 4,096 to 9,437,184 pixels, and a mask (API reference,
 * "Inpaint"). A request may be at most 10 MiB (API reference, "Note: maximum request size is
 * 10MiB"); 9 MB for the image leaves room for the mask the gateway sends with it (a small
 * grayscale PNG) and the form's other fields.
 */
const INPAINT: EditRules = { formats: ['png', 'jpeg', 'webp'], maxImages: 1, maxFileBytes: 9 * MB, square: false, json: true, inputFidelities: [] };

/**
 * Common to every row: prompts up to 10,000 characters (API reference, `prompt`), a seed, no `n`
 * on the wire (one image per call; the gateway fans `n` out, 4 at a time at most, well inside
 * Stability's 150 requests per 10 s), png/jpeg/webp (the gateway transcodes what the upstream
 * does not write), opaque only, and the gateway's completed events when streaming.
 */
function stabilityModel(row: Pick<ModelSpec, 'id' | 'size' | 'price'> & Partial<ModelSpec>): ModelSpec {
  return imageModel({
    ownedBy: 'stability',
    priceSource: PRICE_SOURCE,
    promptMaxChars: 10_000,
    streaming: true,
    // `negative_prompt`, at most 10,000 characters (API reference).
    extras: { negativePromptMaxChars: 10_000, seed: true },
    ...row,
  });
}

const perImage = (usd: number): ModelSpec['price'] => ({ kind: 'per_image', usdPerImage: { standard: { '*': usd } } });

export const STABILITY_MODELS: readonly ModelSpec[] = [
  // Inpaint belongs to the Stable Image services (Ultra, Core and the Edit tools); the SD 3.5
  // models take text-to-image and image-to-image only on this API, so they do not edit here.
  stabilityModel({ id: 'stable-image-ultra', size: ONE_MEGAPIXEL, edit: INPAINT, price: perImage(0.08) }),
  stabilityModel({ id: 'stable-image-core', size: ONE_AND_A_HALF_MEGAPIXELS, edit: INPAINT, price: perImage(0.03) }),
  stabilityModel({ id: 'sd3.5-large', size: ONE_MEGAPIXEL, price: perImage(0.065) }),
  // The turbo model ignores `negative_prompt` (API reference, SD3: "This parameter does not work
  // with sd3-large-turbo"), so it is not offered.
  stabilityModel({ id: 'sd3.5-large-turbo', size: ONE_MEGAPIXEL, extras: { negativePromptMaxChars: null, seed: true }, price: perImage(0.04) }),
  stabilityModel({ id: 'sd3.5-medium', size: ONE_MEGAPIXEL, price: perImage(0.035) }),
];
