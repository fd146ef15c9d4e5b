/**
 * What a model accepts and how it is priced. The catalog is data: the contract validates against
 * it, the renderer and providers read the resolved values, the ledger prices from it. Adding a
 * model is adding one `ModelSpec` entry in `models.ts`.
 */

export type OutputFormat = 'png' | 'jpeg' | 'webp';
export type ResponseFormat = 'url' | 'b64_json';
export type Background = 'transparent' | 'opaque' | 'auto';
export type Moderation = 'low' | 'auto';
export type Style = 'vivid' | 'natural';

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
      readonly aliases?: Readonly<Record<string, string>>;
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

export type ModelFamily = 'dall-e' | 'gpt-image' | 'qwen-image';

export interface ModelSpec {
  readonly id: string;
  readonly family: ModelFamily;
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
  readonly edits: boolean;
  readonly variations: boolean;
  /** Present for models that report token `usage` (GPT image models). */
  readonly tokens: TokenTable | null;
  readonly price: PriceRule;
}
