import type { ExtraFields, ModelSpec } from '../types.ts';

/** `seed` is an imagegate extension every built-in model takes (the local renderer uses it). */
export const SEED_ONLY: ExtraFields = { negativePromptMaxChars: null, seed: true };

/** What a model a provider adds states itself; every other field has the common default below. */
export type ModelRow = Pick<ModelSpec, 'id' | 'ownedBy' | 'size' | 'price' | 'priceSource'> & Partial<ModelSpec>;

/**
 * A catalog row from the fields that make a model what it is: a text-to-image model that takes
 * one prompt of up to 4,000 characters, `n` 1–4, no quality choice beyond `standard`, no styles,
 * PNG delivered (any `output_format` is transcoded by the gateway, so it is offered), opaque or
 * transparent background, no streaming, no edits, a seed, and neither OpenAI-only fields nor
 * extra response fields. Providers' catalog files override what differs, with the source cited.
 */
export function imageModel(row: ModelRow): ModelSpec {
  return {
    promptMaxChars: 4000,
    maxN: 4,
    qualities: ['standard', 'auto'],
    defaultQuality: 'standard',
    styles: [],
    defaultStyle: null,
    defaultResponseFormat: 'b64_json',
    outputFormats: ['png', 'jpeg', 'webp'],
    nativeFormat: 'png',
    backgrounds: [],
    takesModeration: false,
    revisesPrompt: false,
    streaming: false,
    edit: null,
    variations: false,
    extras: SEED_ONLY,
    openaiWire: [],
    responseFields: ['output_format', 'size'],
    providerLimits: {},
    tokens: null,
    ...row,
  };
}
