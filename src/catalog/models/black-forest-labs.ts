import type { EditRules, ModelSpec, SizeRule } from '../types.ts';
import { imageModel } from './defaults.ts';

/*
 * Black Forest Labs' FLUX models. Rules from BFL's OpenAPI (https://api.bfl.ai/openapi.json,
 * schemas FluxPro11Inputs, FluxDevInputs, FluxUltraInput, FluxKontextProInputs, Flux2Inputs) and
 * its API guide (black-forest-labs/skills, skills/bfl-api). Served by the `bfl` provider; flux-dev
 * and flux-schnell also by aggregators that carry the open weights (Replicate, fal).
 *
 * What every row shares, and why:
 * - `n` up to 4: no BFL endpoint takes a count ("no n/num_images on any BFL native endpoint",
 *   provider notes §4), so the router fans out one task per image; four keeps a request well under
 *   BFL's 24 tasks in flight per key (6 for Kontext [max]).
 * - Prompt: BFL states no character limit for FLUX.1 endpoints; the gateway's common 4,000 stands.
 *   FLUX.2 takes "up to 32K tokens", held here at 32,000 characters (a token is at least one).
 * - `output_format` png/jpeg/webp are all BFL's own formats (OutputFormat), sent as asked.
 * - `seed` is a field of every endpoint; `negative_prompt` of none.
 * - No transparency: BFL renders opaque images only.
 * - `streaming`: BFL cannot stream partial images; the use case answers a stream with the
 *   completed events.
 */

const MB = 1024 * 1024;

/** One credit is $0.01 (docs.bfl.ai/quick_start/pricing). */
const BFL_PRICES = 'https://docs.bfl.ai/quick_start/pricing and https://bfl.ai/pricing (2026), 1 credit = $0.01';

/**
 * FLUX1.1 [pro] and FLUX.1 [dev] take `width`/`height` "multiple of 32", 256–1440 each (BFL
 * OpenAPI). The free rule cannot say "at least 256 on the short edge": a size such as 800x160
 * passes here and the bfl adapter scales it up to BFL's minimum, reporting the delivered size.
 */
const FLUX_1_PIXELS: SizeRule = {
  kind: 'free',
  multipleOf: 32,
  maxEdgePx: 1440,
  minPixels: 256 * 256,
  maxPixels: 1440 * 1440,
  maxAspectRatio: 1440 / 256,
  commonSizes: ['1024x1024', '1024x768', '768x1024', '1344x768', '768x1344', '1440x960', '960x1440', '1440x1440'],
  // BFL's own default is 1024x768; an omitted size means square everywhere else in the gateway.
  autoSize: '1024x1024',
};

/**
 * FLUX.2: `width`/`height` of at least 64, "multiple of 16, max 4MP total" (BFL API guide,
 * endpoints.md "Resolution Constraints"); 2048x2048 is the native maximum (BFL's ComfyUI node
 * takes edges up to 2048).
 */
const FLUX_2_PIXELS: SizeRule = {
  kind: 'free',
  multipleOf: 16,
  maxEdgePx: 2048,
  minPixels: 64 * 64,
  maxPixels: 2048 * 2048,
  maxAspectRatio: 2048 / 64,
  commonSizes: ['1024x1024', '1536x1024', '1024x1536', '1536x1152', '1152x1536', '1792x1024', '1024x1792', '2048x1024', '1024x2048', '2048x2048'],
  autoSize: '1024x1024',
};

/** `aspect_ratio` "between 21:9 and 9:21" (FluxUltraInput, FluxKontextProInputs): the usual steps. */
const BFL_RATIOS = ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21'];

/**
 * Kontext edits (FluxKontextProInputs): `input_image` plus `input_image_2`…`_4` ("experimental
 * multiref"), base64 or URL. BFL states no file size limit; 20 MB per image bounds the JSON body.
 * No mask: Kontext edits by instruction (the adapter refuses a mask rather than ignore it).
 */
const KONTEXT_EDIT: EditRules = { formats: ['png', 'jpeg', 'webp'], maxImages: 4, maxFileBytes: 20 * MB, square: false, json: true, inputFidelities: [] };

function kontext(id: string, name: string, credits: number): ModelSpec {
  return imageModel({
    id,
    ownedBy: 'black-forest-labs',
    streaming: true,
    // Kontext draws about one megapixel at the ratio asked (1:1 is 1024x1024); it picks the pixels.
    size: { kind: 'aspect', ratios: BFL_RATIOS, tiers: { '1MP': 1024 }, defaultRatio: '1:1', defaultTier: '1MP', multipleOf: 16 },
    edit: KONTEXT_EDIT,
    price: { kind: 'per_image', usdPerImage: { standard: { '*': credits / 100 } } },
    priceSource: `${BFL_PRICES}: ${name} ${credits} credits per image`,
  });
}

/**
 * FLUX.2 [pro] is priced by output megapixel: 3 credits for the first, 1.5 for each one more
 * (`firstMP + (outputMP - 1) * mpPrice`, BFL API guide, SKILL.md "Model Endpoints & Pricing").
 * Catalog prices are per size, so the common sizes carry their own price and any other size the
 * price of the largest (2048x2048): never less than BFL charges.
 */
function flux2ProPrices(): Record<string, number> {
  const usd = (width: number, height: number): number => {
    const megapixels = Math.max(1, (width * height) / 1_000_000);
    // Credits to one decimal, rounded up (BFL reports `cost` in such steps, e.g. 4.5).
    return Math.ceil((3 + (megapixels - 1) * 1.5) * 10 - 1e-9) / 1000;
  };
  const prices: Record<string, number> = { '*': usd(2048, 2048) };
  if (FLUX_2_PIXELS.kind === 'free') {
    for (const size of FLUX_2_PIXELS.commonSizes) {
      const [width = 2048, height = 2048] = size.split('x').map(Number);
      prices[size] = usd(width, height);
    }
  }
  return prices;
}

export const BLACK_FOREST_LABS_MODELS: readonly ModelSpec[] = [
  imageModel({
    id: 'flux-pro-1.1',
    ownedBy: 'black-forest-labs',
    streaming: true,
    size: FLUX_1_PIXELS,
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.04 } } },
    priceSource: `${BFL_PRICES}: FLUX1.1 [pro] 4 credits per image`,
  }),
  imageModel({
    id: 'flux-pro-1.1-ultra',
    ownedBy: 'black-forest-labs',
    streaming: true,
    // Ultra takes no pixels, only `aspect_ratio` (FluxUltraInput), and draws about 4 MP (2048x2048
    // at 1:1). BFL's default ratio is 16:9; an omitted size means square in the gateway.
    size: { kind: 'aspect', ratios: BFL_RATIOS, tiers: { '4MP': 2048 }, defaultRatio: '1:1', defaultTier: '4MP', multipleOf: 32 },
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.06 } } },
    priceSource: `${BFL_PRICES}: FLUX1.1 [pro] Ultra 6 credits per image`,
  }),
  imageModel({
    id: 'flux-dev',
    ownedBy: 'black-forest-labs',
    streaming: true,
    size: FLUX_1_PIXELS,
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.025 } } },
    priceSource: `${BFL_PRICES}: FLUX.1 [dev] $0.025 per image (also Replicate's price, replicate.com/pricing)`,
  }),
  imageModel({
    id: 'flux-schnell',
    ownedBy: 'black-forest-labs',
    streaming: true,
    // Open weights (Apache-2.0) that BFL's own API does not host: the FLUX.1 pixel rule, as
    // aggregators serve it.
    size: FLUX_1_PIXELS,
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.003 } } },
    priceSource: 'https://replicate.com/pricing and https://fal.ai/pricing (2026): FLUX.1 [schnell] $0.003 per image (BFL does not sell it)',
  }),
  kontext('flux-kontext-pro', 'FLUX.1 Kontext [pro]', 4),
  kontext('flux-kontext-max', 'FLUX.1 Kontext [max]', 8),
  imageModel({
    id: 'flux-2-pro',
    ownedBy: 'black-forest-labs',
    streaming: true,
    promptMaxChars: 32_000,
    size: FLUX_2_PIXELS,
    price: { kind: 'per_image', usdPerImage: { standard: flux2ProPrices() } },
    priceSource: `${BFL_PRICES}: FLUX.2 [pro] 3 credits for the first output megapixel, 1.5 per further one; sizes not listed are charged as 2048x2048`,
  }),
];
