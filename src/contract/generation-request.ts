import type { AspectChoice, Dimensions, ModelSpec, Moderation, OutputFormat, ResponseFormat, Style } from '../catalog/index.ts';

/**
 * What every images request carries after validation: every field resolved against the model's
 * rules, every default applied. Everything past the contract step works on this and never on raw
 * input. Generations, edits and variations extend it with their `operation` and inputs.
 */
export interface ImageParams {
  readonly model: ModelSpec;
  readonly prompt: string;
  readonly n: number;
  /** The size that will be asked for (after `auto`, alias and aspect-ratio mapping). */
  readonly size: Dimensions;
  /** The size the client wrote (`WxH`), before mapping; null for `auto` or none. */
  readonly askedSize: Dimensions | null;
  /** For models with an aspect-ratio size rule: the ratio and tier `size` stands for. */
  readonly aspect: AspectChoice | null;
  /** Resolved quality, never `auto`. */
  readonly quality: string;
  readonly style: Style | null;
  readonly responseFormat: ResponseFormat;
  readonly outputFormat: OutputFormat;
  /** 0–100; meaningful for jpeg and webp, 100 otherwise. */
  readonly outputCompression: number;
  /** Resolved background, never `auto`. */
  readonly background: 'transparent' | 'opaque';
  readonly moderation: Moderation | null;
  /** imagegate extension: a seed for models that take one (`extras.seed`). */
  readonly seed: number | null;
  /** imagegate extension: what to keep out of the picture, for models that take it. */
  readonly negativePrompt: string | null;
  readonly user: string | null;
  /** Answer as server-sent events (GPT image models). */
  readonly stream: boolean;
  /** Progressive partial images per image when streaming, 0–3. */
  readonly partialImages: number;
  /**
   * Fields the client sent that the model does not take, dropped instead of refused
   * (`server.unsupportedParams: drop`); reported in `x-imagegate-dropped-params`.
   */
  readonly droppedParams: readonly string[];
}

/** `POST /v1/images/generations`, validated. */
export interface GenerationRequest extends ImageParams {
  readonly operation: 'generate';
}
