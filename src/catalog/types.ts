/**
 * What a model accepts and how it is priced. The catalog is data: the contract validates against
 * it, the renderer and providers read the resolved values, the ledger prices from it. Nothing
 * outside the catalog branches on which model (or family of models) a request is for: every
 * difference between models is a field here. Adding a model is adding one `ModelSpec` entry in
 * `models.ts`, or one entry under `models:` in `imagegate.yaml` (see `build-catalog.ts`).
 */

export type OutputFormat = 'png' | 'jpeg' | 'webp';
export type ResponseFormat = 'url' | 'b64_json';
export type Background = 'transparent' | 'opaque' | 'auto';
export type Moderation = 'low' | 'auto';
export type Style = 'vivid' | 'natural';
export type InputFidelity = 'high' | 'low';

/** A pixel size. Sizes cross every boundary as this, never as a raw `WxH` string. */
export interface Dimensions {
  readonly width: number;
  readonly height: number;
}

export type SizeRule =
  | {
      readonly kind: 'list';
      /** The sizes the model produces, as `WxH`. */
      readonly sizes: readonly string[];
      /** Sizes a client may ask for that map to a listed size (e.g. OpenAI's 1024x1024 on qwen-image). */
      readonly aliases?: Readonly<Record<string, string>> | undefined;
      /** What `auto` (and an omitted size) resolves to. */
      readonly autoSize: string;
      readonly acceptsAuto: boolean;
    }
  | {
      readonly kind: 'free';
      readonly multipleOf: number;
      readonly maxEdgePx: number;
      readonly minPixels: number;
      readonly maxPixels: number;
      /** Long edge over short edge, at most. */
      readonly maxAspectRatio: number;
      /** Named sizes shown in `/v1/models`; any size within the rule is accepted. */
      readonly commonSizes: readonly string[];
      readonly autoSize: string;
    }
  | {
      /**
       * Models that take an aspect ratio and a resolution tier instead of pixels (Gemini's
       * `imageConfig.aspectRatio`/`imageSize`, FLUX's and Stability's `aspect_ratio`, xAI's
       * `resolution`). A `WxH` size is mapped to the nearest ratio and the tier whose pixel count
       * is closest (`aspect.ts`); the upstream decides the exact pixels, and the response reports
       * what was delivered.
       */
      readonly kind: 'aspect';
      /** `W:H` ratios the model takes, e.g. `1:1`, `16:9`. */
      readonly ratios: readonly string[];
      /**
       * Resolution tiers (`1K`, `2K`, `4K`) and the long edge each gives at 1:1, in pixels. At
       * least one; a model without tiers has one, used for every request.
       */
      readonly tiers: Readonly<Record<string, number>>;
      readonly defaultRatio: string;
      readonly defaultTier: string;
      /** Edges are rounded to this many pixels when the gateway names a nominal size. */
      readonly multipleOf: number;
    };

/** Output image tokens per quality at a reference size; other sizes scale by pixel area. */
export interface TokenTable {
  /** Exact figures for listed sizes, by quality then `WxH`. */
  readonly exact: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Tokens at 1024x1024 per quality, scaled by area for sizes not in `exact`. */
  readonly perMegapixelBase: Readonly<Record<string, number>>;
}

export type PriceRule =
  | {
      readonly kind: 'per_image';
      /** USD per image by quality then `WxH`; `*` matches any size. */
      readonly usdPerImage: Readonly<Record<string, Readonly<Record<string, number>>>>;
    }
  | {
      readonly kind: 'per_token';
      readonly usdPerMillionTextInput: number;
      readonly usdPerMillionImageInput: number;
      readonly usdPerMillionImageOutput: number;
    };

/** What a model takes as edit input (contract notes §3, §9). */
export interface EditRules {
  readonly formats: readonly OutputFormat[];
  readonly maxImages: number;
  /** Each file must be smaller than this. */
  readonly maxFileBytes: number;
  /** Only square images (dall-e-2). */
  readonly square: boolean;
  /** Whether the JSON form (`images: [{image_url}]`) is taken, or multipart only. */
  readonly json: boolean;
  /** `input_fidelity` values taken; empty when the field is not. */
  readonly inputFidelities: readonly InputFidelity[];
}

/**
 * Optional fields of OpenAI's images API that an OpenAI-shaped upstream takes for this model
 * (contract notes §2, §7): OpenAI answers 400 `unknown_parameter` to `response_format` on GPT
 * image models, and dall-e models refuse the GPT-only fields, so adapters send exactly these.
 */
export type OpenAIWireField = 'quality' | 'style' | 'response_format' | 'output_format' | 'output_compression' | 'background' | 'moderation' | 'input_fidelity';

/** Fields of an OpenAI images response beside `created` and `data` that the model answers with. */
export type ResponseField = 'background' | 'output_format' | 'quality' | 'size' | 'usage';

/** Request fields beyond OpenAI's that some models take (imagegate extensions, validated alike). */
export interface ExtraFields {
  /** `negative_prompt`, at most this many characters; null when not taken. */
  readonly negativePromptMaxChars: number | null;
  /** `seed`, 0–2147483647. */
  readonly seed: boolean;
}

/** Per-provider limits of one model, e.g. Azure's dall-e-3 deployments take n=1 per call. */
export interface ProviderLimits {
  readonly maxImagesPerCall?: number | undefined;
}

export interface ModelSpec {
  readonly id: string;
  readonly ownedBy: string;
  readonly promptMaxChars: number;
  readonly maxN: number;
  readonly size: SizeRule;
  /** Accepted `quality` values, `auto` included where the model takes it. */
  readonly qualities: readonly string[];
  /** What `auto` (and an omitted quality) resolves to. */
  readonly defaultQuality: string;
  readonly styles: readonly Style[];
  readonly defaultStyle: Style | null;
  readonly defaultResponseFormat: ResponseFormat;
  /** Formats a client may ask for with `output_format`; empty when the model does not take the field. */
  readonly outputFormats: readonly OutputFormat[];
  /** The encoding delivered when `output_format` is not a field of this model. */
  readonly nativeFormat: OutputFormat;
  /** Accepted `background` values; empty when the model does not take the field. */
  readonly backgrounds: readonly Background[];
  readonly takesModeration: boolean;
  readonly revisesPrompt: boolean;
  readonly streaming: boolean;
  /** Edit input rules; null when the model does not edit. */
  readonly edit: EditRules | null;
  readonly variations: boolean;
  readonly extras: ExtraFields;
  /** What an OpenAI-shaped upstream takes for this model beside prompt, n, size and user. */
  readonly openaiWire: readonly OpenAIWireField[];
  /** What the response carries beside `created`, `data` (and `revised_prompt` when `revisesPrompt`). */
  readonly responseFields: readonly ResponseField[];
  /** Limits that apply on some providers only, by provider id. */
  readonly providerLimits: Readonly<Record<string, ProviderLimits>>;
  /** Present for models that report token `usage` (GPT image models). */
  readonly tokens: TokenTable | null;
  readonly price: PriceRule;
  /** Where the price comes from (a URL or a document), shown in `/v1/models`. */
  readonly priceSource: string;
}
