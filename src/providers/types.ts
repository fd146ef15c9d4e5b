import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ImageUsage, ModelSpec } from '../catalog/index.ts';
import type { EditRequest } from '../contract/edit.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { VariationRequest } from '../contract/variation.ts';

/** One image as a provider produced it, before the media step normalizes it. */
export interface ProviderImage {
  readonly bytes: Buffer;
  /** The provider's claim; the media step trusts magic bytes, not this. */
  readonly mime?: string;
  readonly revisedPrompt?: string;
  /**
   * The upstream's own base64 of `bytes`, when it sent one. A `b64_json` answer whose image needs
   * no transcoding reuses it instead of encoding megabytes again.
   */
  readonly base64?: string;
}

export interface ProviderResult {
  readonly images: readonly ProviderImage[];
  /** The upstream's own usage report, when it gives one; otherwise computed from the catalog. */
  readonly usage?: ImageUsage;
  /** The size the upstream really delivered, when it differs from the one asked (qwen-image). */
  readonly deliveredSize?: { width: number; height: number };
}

/** Outbound HTTP for one channel: its connection pool, and downloads under the address policy. */
export interface ChannelHttp {
  readonly dispatcher: Dispatcher;
  /** Downloads an image URL the upstream answered with (size cap, timeout, SSRF guard). */
  download(url: string, signal: AbortSignal): Promise<Buffer>;
}

/** An upstream endpoint the operator configured (or the built-in local renderer), ready to call. */
export interface Channel {
  readonly id: string;
  readonly provider: string;
  readonly baseUrl: string;
  /** Never logged, never put in an error message. */
  readonly apiKey: string | null;
  /** Catalog model id → upstream model (or deployment) name. */
  readonly models: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly options: Readonly<Record<string, string>>;
  readonly http: ChannelHttp;
}

/** A progressive partial image of a streamed generation. */
export interface PartialImage {
  /** Which image of the request it previews (0 … n-1). */
  readonly imageIndex: number;
  /** 0-based, as OpenAI's `partial_image_index`. */
  readonly partialIndex: number;
  /** Encoded in the requested output format, as base64 (what the event carries). */
  readonly base64: string;
}

/** What an adapter gets for one call besides the request. */
export interface CallContext {
  /** Aborts when the client leaves, the attempt times out, or the request deadline passes. */
  readonly signal: AbortSignal;
  readonly requestId: string;
  readonly logger: Logger;
  /** Set for streamed requests: adapters that can stream report partial images through it. */
  readonly onPartial?: (partial: PartialImage) => void;
}

/**
 * A provider: translates a validated request to its upstream's wire format and the answer back,
 * and the upstream's errors to `GatewayError`s (retryable or not). Adding a provider is one folder
 * under `src/providers/` exporting one of these, plus one line in `registry.ts`.
 */
export interface ProviderAdapter {
  readonly id: string;
  /** How many images one upstream call may produce for a model; the router fans out above it. */
  maxImagesPerCall(model: ModelSpec): number;
  /**
   * Produces exactly `request.n` images, or throws a `GatewayError`. Honours `ctx.signal`. When
   * `request.stream` is set and `ctx.onPartial` given, an adapter that can stream reports partial
   * images as they arrive (at most `request.partialImages` per image); one that cannot simply
   * answers with the final images.
   */
  generate(request: GenerationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult>;
  /**
   * `POST /v1/images/edits`: exactly `request.n` images made from `request.images` (the first is
   * edited where `request.mask` is transparent; the rest are references). Absent when the
   * provider cannot edit: the router then skips its channels for edits.
   */
  edit?(request: EditRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult>;
  /** `POST /v1/images/variations`: exactly `request.n` variations of `request.image`. */
  variation?(request: VariationRequest, channel: Channel, ctx: CallContext): Promise<ProviderResult>;
}
