import type { ModelSpec } from '../types.ts';

/** Alibaba's image models, served by DashScope (Model Studio); rules from provider notes §2. */
export const ALIBABA_MODELS: readonly ModelSpec[] = [
  {
    id: 'qwen-image',
    ownedBy: 'alibaba',
    // DashScope limits qwen-image prompts to 800 characters (provider notes §2).
    promptMaxChars: 800,
    // "qwen-image does not support n > 1" (CometAPI; DashScope fixes n at 1 for the async API).
    maxN: 1,
    size: {
      kind: 'list',
      sizes: ['1664x928', '1472x1104', '1328x1328', '1104x1472', '928x1664'],
      // OpenAI-style sizes map to the qwen size of the nearest aspect ratio; the response reports
      // the size actually delivered.
      aliases: {
        '1024x1024': '1328x1328',
        '1536x1024': '1472x1104',
        '1024x1536': '1104x1472',
        '1792x1024': '1664x928',
        '1024x1792': '928x1664',
        '1472x1140': '1472x1104',
        '1140x1472': '1104x1472',
      },
      autoSize: '1328x1328',
      acceptsAuto: true,
    },
    qualities: ['standard', 'auto'],
    defaultQuality: 'standard',
    styles: [],
    defaultStyle: null,
    defaultResponseFormat: 'b64_json',
    outputFormats: [],
    nativeFormat: 'png',
    backgrounds: [],
    takesModeration: false,
    revisesPrompt: false,
    streaming: false,
    edit: null,
    variations: false,
    // DashScope takes `negative_prompt` up to 500 characters and a seed (provider notes §2).
    extras: { negativePromptMaxChars: 500, seed: true },
    openaiWire: [],
    responseFields: [],
    providerLimits: {},
    tokens: null,
    priceSource: 'Alibaba Model Studio international price list (2026), qwen-image',
    price: { kind: 'per_image', usdPerImage: { standard: { '*': 0.035 } } },
  },
];
