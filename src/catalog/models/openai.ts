import type { EditRules, ModelSpec, TokenTable } from '../types.ts';
import { SEED_ONLY } from './defaults.ts';

/*
 * OpenAI's image models. Rules follow the OpenAI images contract (docs/reference notes §2 and §9,
 * OpenAI spec of 2026-08-21).
 *
 * Prices, USD, from openai.com/api/pricing as quoted by the reference notes and public price
 * sheets in 2026: dall-e-2 $0.016/0.018/0.020 per 256/512/1024 image; dall-e-3 $0.040 (standard
 * 1024), $0.080 (standard wide, hd 1024), $0.120 (hd wide); gpt-image-1 $5 text in / $10 image in /
 * $40 image out per million tokens; gpt-image-1-mini $2 / $2.5 / $8; gpt-image-1.5 $5 / $8 / $32;
 * gpt-image-2 $5 / $8 / $30. Operators override any of them in imagegate.yaml (`prices:`).
 */

const GPT_IMAGE_SIZES = ['1024x1024', '1536x1024', '1024x1536'] as const;

const MB = 1024 * 1024;
const OPENAI_PRICES = 'https://openai.com/api/pricing (2026)';

/** GPT image models: png/webp/jpg, each under 50 MB, up to 16, multipart or JSON (contract notes §3). */
function gptEdit(inputFidelities: EditRules['inputFidelities']): EditRules {
  return { formats: ['png', 'jpeg', 'webp'], maxImages: 16, maxFileBytes: 50 * MB, square: false, json: true, inputFidelities };
}

/**
 * Output image tokens for gpt-image-1 (and -mini, -1.5, which bill the same image grid), from
 * OpenAI's image generation guide: low 272/408/400, medium 1056/1584/1568, high 4160/6240/6208 for
 * 1024x1024, 1024x1536, 1536x1024.
 */
const GPT_IMAGE_1_TOKENS: TokenTable = {
  exact: {
    low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
    medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
    high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
  },
  perMegapixelBase: { low: 272, medium: 1056, high: 4160 },
};

/**
 * gpt-image-2 takes free sizes. 196 tokens is what the live API reported for low 1024x1024
 * (CometAPI example in the contract notes, §5); medium and high are OpenAI's published per-image
 * prices at 1024x1024 ($0.053, $0.211) divided by $30 per million output tokens. Other sizes
 * scale by pixel area: an estimate, replaced by the upstream's own `usage` when one reports it.
 */
const GPT_IMAGE_2_TOKENS: TokenTable = {
  exact: {},
  perMegapixelBase: { low: 196, medium: 1767, high: 7033 },
};

function gptImage(
  id: string,
  tokens: TokenTable,
  price: { text: number; imageIn: number; imageOut: number },
  options: { size?: ModelSpec['size']; inputFidelities?: EditRules['inputFidelities'] } = {},
): ModelSpec {
  const inputFidelities = options.inputFidelities ?? ['high', 'low'];
  return {
    id,
    ownedBy: 'openai',
    promptMaxChars: 32000,
    maxN: 10,
    size: options.size ?? { kind: 'list', sizes: GPT_IMAGE_SIZES, autoSize: '1024x1024', acceptsAuto: true },
    qualities: ['low', 'medium', 'high', 'auto'],
    // OpenAI picks the quality for `auto`; the gateway's own answer is medium, the middle of the
    // price range, and an upstream that reports what it chose overrides it.
    defaultQuality: 'medium',
    styles: [],
    defaultStyle: null,
    defaultResponseFormat: 'b64_json',
    outputFormats: ['png', 'jpeg', 'webp'],
    nativeFormat: 'png',
    backgrounds: ['transparent', 'opaque', 'auto'],
    takesModeration: true,
    revisesPrompt: false,
    streaming: true,
    edit: gptEdit(inputFidelities),
    variations: false,
    extras: SEED_ONLY,
    openaiWire: [
      'quality',
      'output_format',
      'output_compression',
      'background',
      'moderation',
      ...(inputFidelities.length > 0 ? (['input_fidelity'] as const) : []),
    ],
    responseFields: ['background', 'output_format', 'quality', 'size', 'usage'],
    providerLimits: {},
    tokens,
    priceSource: OPENAI_PRICES,
    price: {
      kind: 'per_token',
      usdPerMillionTextInput: price.text,
      usdPerMillionImageInput: price.imageIn,
      usdPerMillionImageOutput: price.imageOut,
    },
  };
}

export const OPENAI_MODELS: readonly ModelSpec[] = [
  {
    id: 'dall-e-2',
    ownedBy: 'openai',
    promptMaxChars: 1000,
    maxN: 10,
    size: { kind: 'list', sizes: ['256x256', '512x512', '1024x1024'], autoSize: '1024x1024', acceptsAuto: false },
    qualities: ['standard', 'auto'],
    defaultQuality: 'standard',
    styles: [],
    defaultStyle: null,
    defaultResponseFormat: 'url',
    outputFormats: [],
    nativeFormat: 'png',
    backgrounds: [],
    takesModeration: false,
    revisesPrompt: false,
    streaming: false,
    // One square PNG under 4 MB, multipart only (contract notes §3).
    edit: { formats: ['png'], maxImages: 1, maxFileBytes: 4 * MB, square: true, json: false, inputFidelities: [] },
    variations: true,
    extras: SEED_ONLY,
    openaiWire: ['response_format'],
    responseFields: [],
    providerLimits: {},
    tokens: null,
    priceSource: OPENAI_PRICES,
    price: { kind: 'per_image', usdPerImage: { standard: { '256x256': 0.016, '512x512': 0.018, '1024x1024': 0.02 } } },
  },
  {
    id: 'dall-e-3',
    ownedBy: 'openai',
    promptMaxChars: 4000,
    maxN: 1,
    size: { kind: 'list', sizes: ['1024x1024', '1792x1024', '1024x1792'], autoSize: '1024x1024', acceptsAuto: false },
    qualities: ['standard', 'hd', 'auto'],
    defaultQuality: 'standard',
    styles: ['vivid', 'natural'],
    defaultStyle: 'vivid',
    defaultResponseFormat: 'url',
    outputFormats: [],
    nativeFormat: 'png',
    backgrounds: [],
    takesModeration: false,
    revisesPrompt: true,
    streaming: false,
    edit: null,
    variations: false,
    extras: SEED_ONLY,
    openaiWire: ['quality', 'style', 'response_format'],
    responseFields: [],
    // Azure's dall-e-3 deployments take n=1 only, like OpenAI's (provider notes §10.2).
    providerLimits: { 'azure-openai': { maxImagesPerCall: 1 } },
    tokens: null,
    priceSource: OPENAI_PRICES,
    price: {
      kind: 'per_image',
      usdPerImage: {
        standard: { '1024x1024': 0.04, '1792x1024': 0.08, '1024x1792': 0.08 },
        hd: { '1024x1024': 0.08, '1792x1024': 0.12, '1024x1792': 0.12 },
      },
    },
  },
  gptImage('gpt-image-1', GPT_IMAGE_1_TOKENS, { text: 5, imageIn: 10, imageOut: 40 }),
  // gpt-image-1-mini takes only `low` input fidelity (NODE-7.57; the spec says it takes none, so
  // `low`, its default, is the safe answer).
  gptImage('gpt-image-1-mini', GPT_IMAGE_1_TOKENS, { text: 2, imageIn: 2.5, imageOut: 8 }, { inputFidelities: ['low'] }),
  gptImage('gpt-image-1.5', GPT_IMAGE_1_TOKENS, { text: 5, imageIn: 8, imageOut: 32 }),
  // openai-node 7.57: "For gpt-image-2, omit this parameter" (input_fidelity; contract notes §3).
  gptImage(
    'gpt-image-2',
    GPT_IMAGE_2_TOKENS,
    { text: 5, imageIn: 8, imageOut: 30 },
    {
      inputFidelities: [],
      size: {
        kind: 'free',
        multipleOf: 16,
        maxEdgePx: 3840,
        // 655,360 to 8,294,400 pixels (3840x2160): the limits resellers publish; OpenAI's spec says only
        // "the model's current pixel and edge limits" (contract notes §2).
        minPixels: 655_360,
        maxPixels: 8_294_400,
        maxAspectRatio: 3,
        commonSizes: ['1024x1024', '1536x1024', '1024x1536', '2048x2048', '2560x1440', '3840x2160'],
        autoSize: '1024x1024',
      },
    },
  ),
];
