import type { Dimensions, ModelSpec, Moderation, OutputFormat, ResponseFormat, Style } from '../catalog/index.ts';

/**
 * A generation request after validation: every field resolved against the model's rules, every
 * default applied. Everything past the contract step works on this and never on raw input.
 */
export interface GenerationRequest {
  readonly model: ModelSpec;
  readonly prompt: string;
  readonly n: number;
  /** The size that will be delivered (after `auto` and alias mapping). */
  readonly size: Dimensions;
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
  /** imagegate extension: a seed for providers that take one (the local renderer does). */
  readonly seed: number | null;
  readonly user: string | null;
  /** Answer as server-sent events (GPT image models). */
  readonly stream: boolean;
  /** Progressive partial images per image when streaming, 0–3. */
  readonly partialImages: number;
}
