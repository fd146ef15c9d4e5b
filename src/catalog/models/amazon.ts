import type { ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * Amazon's own image models on Amazon Bedrock, served by the `bedrock` provider (InvokeModel with
 * `taskType: "TEXT_IMAGE"`). Rules from the Bedrock user guide: "Amazon Nova Canvas" request and
 * response (docs.aws.amazon.com/nova/latest/userguide/image-gen-req-resp-structure.html) and
 * "Amazon Titan Image Generator G1" (docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-image.html).
 *
 * Both take `numberOfImages` 1–5 in one call, `quality` standard|premium, a negative prompt and a
 * seed, and write PNG (the gateway transcodes to jpeg/webp). Both are opaque only.
 *
 * Lifecycle: Titan Image Generator G1 v2 is "Legacy" with an EOL date of June 30, 2026 on its
 * model card (model-card-amazon-titan-image-generator-g1-v2); one third-party page gives Nova
 * Canvas a retirement date of 2026-09-30 (unverified). The rows stay for accounts that still
 * have access; an operator whose region has retired them gets Bedrock's own 4xx.
 *
 * Prices: Bedrock on-demand pricing, per image by quality and resolution tier
 * (aws.amazon.com/bedrock/pricing, "Amazon" image models, 2026).
 */

const PRICE_SOURCE = 'https://aws.amazon.com/bedrock/pricing/ (Amazon image models, on-demand, 2026)';

/**
 * Nova Canvas: `width` and `height` 320–4096 px, each divisible by 16, aspect ratio between 1:4
 * and 4:1, at most 4,194,304 pixels (Nova user guide, imageGenerationConfig). The free rule cannot
 * say "at least 320 on the short edge": a smaller edge is scaled up by the bedrock adapter, which
 * reports the delivered size.
 */
const NOVA_COMMON_SIZES = ['1024x1024', '1280x720', '720x1280', '1152x896', '896x1152', '1536x1024', '1024x1536', '1792x1024', '1024x1792', '2048x2048'];
const NOVA_CANVAS_PIXELS: SizeRule = {
  kind: 'free',
  multipleOf: 16,
  maxEdgePx: 4096,
  minPixels: 320 * 320,
  maxPixels: 4_194_304,
  maxAspectRatio: 4,
  commonSizes: NOVA_COMMON_SIZES,
  autoSize: '1024x1024',
};

/**
 * Titan Image Generator G1 (v1 and v2) takes only the sizes of its documented table ("Supported
 * image sizes"), each at a ratio of its own. OpenAI's sizes map to the listed size of the nearest
 * ratio; the response reports the listed size delivered.
 */
const TITAN_SIZES: SizeRule = {
  kind: 'list',
  sizes: [
    '1024x1024',
    '768x768',
    '512x512',
    '768x1152',
    '384x576',
    '1152x768',
    '576x384',
    '768x1280',
    '384x640',
    '1280x768',
    '640x384',
    '896x1152',
    '448x576',
    '1152x896',
    '576x448',
    '768x1408',
    '384x704',
    '1408x768',
    '704x384',
    '640x1408',
    '320x704',
    '1408x640',
    '704x320',
    '1152x640',
    '1173x640',
  ],
  aliases: { '256x256': '512x512', '1536x1024': '1152x768', '1024x1536': '768x1152', '1792x1024': '1408x768', '1024x1792': '768x1408' },
  autoSize: '1024x1024',
  acceptsAuto: true,
};

/**
 * Titan's price tiers are "512 x 512" and "1024 x 1024": the half-resolution sizes of its table
 * (at most about 512² pixels) bill at the first, the rest at the second.
 */
const TITAN_SMALL = new Set(['512x512', '384x576', '576x384', '384x640', '640x384', '448x576', '576x448', '384x704', '704x384', '320x704', '704x320']);
function titanPrices(smallUsd: number, largeUsd: number): Readonly<Record<string, number>> {
  const prices: Record<string, number> = { '*': largeUsd };
  for (const size of TITAN_SMALL) prices[size] = smallUsd;
  return prices;
}

/**
 * Nova Canvas bills "up to 1024 x 1024" and "up to 2048 x 2048" (4,194,304 pixels, its maximum).
 * A per-image price names exact sizes, so the named sizes up to one megapixel get the lower tier
 * and every other size the higher one: an unnamed small size is charged the upper tier (the
 * operator loses nothing; `prices:` in imagegate.yaml refines it).
 */
function novaPrices(upTo1MpUsd: number, upTo4MpUsd: number): Readonly<Record<string, number>> {
  const prices: Record<string, number> = { '*': upTo4MpUsd };
  for (const size of [...NOVA_COMMON_SIZES, '512x512', '768x768', '1024x768', '768x1024']) {
    const [width = 0, height = 0] = size.split('x').map(Number);
    if (width * height <= 1024 * 1024) prices[size] = upTo1MpUsd;
  }
  return prices;
}

/** Common to both: n up to 5 per call, standard/premium quality, a seed and a negative prompt. */
function amazonModel(row: Pick<ModelSpec, 'id' | 'size' | 'price' | 'promptMaxChars' | 'extras'> & Partial<ModelSpec>): ModelSpec {
  return imageModel({
    ownedBy: 'amazon',
    priceSource: PRICE_SOURCE,
    maxN: 5,
    qualities: ['standard', 'premium', 'auto'],
    defaultQuality: 'standard',
    streaming: true,
    ...row,
  });
}

export const AMAZON_MODELS: readonly ModelSpec[] = [
  // `text` and `negativeText` 1–1024 characters each (Nova user guide, textToImageParams).
  amazonModel({
    id: 'nova-canvas',
    size: NOVA_CANVAS_PIXELS,
    promptMaxChars: 1024,
    extras: { negativePromptMaxChars: 1024, seed: true },
    price: { kind: 'per_image', usdPerImage: { standard: novaPrices(0.04, 0.06), premium: novaPrices(0.06, 0.08) } },
  }),
  // `text` and `negativeText` up to 512 characters (Titan Image Generator G1 parameters).
  amazonModel({
    id: 'titan-image-generator-v2',
    size: TITAN_SIZES,
    promptMaxChars: 512,
    extras: { negativePromptMaxChars: 512, seed: true },
    price: { kind: 'per_image', usdPerImage: { standard: titanPrices(0.008, 0.01), premium: titanPrices(0.01, 0.012) } },
  }),
];
