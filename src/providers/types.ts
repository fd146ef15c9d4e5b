import type { ImageUsage } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';

/** One image as a provider produced it, before the media step normalizes it. */
export interface ProviderImage {
  readonly bytes: Buffer;
  /** The provider's claim; the media step trusts magic bytes, not this. */
  readonly mime?: string;
  readonly revisedPrompt?: string;
}

export interface ProviderResult {
  readonly images: readonly ProviderImage[];
  /** The upstream's own usage report, when it gives one; otherwise computed from the catalog. */
  readonly usage?: ImageUsage;
}

/** An upstream endpoint the operator configured (or the built-in local renderer). */
export interface Channel {
  readonly id: string;
  readonly provider: string;
}

/**
 * A provider: translates a validated request to its upstream's wire format and the answer back.
 * Adding a provider is one folder under `src/providers/` exporting one of these, plus one line in
 * `registry.ts`.
 */
export interface ProviderAdapter {
  readonly id: string;
  /** Produces exactly `request.n` images, or throws a `GatewayError`. Honours `signal`. */
  generate(request: GenerationRequest, channel: Channel, signal: AbortSignal): Promise<ProviderResult>;
}
