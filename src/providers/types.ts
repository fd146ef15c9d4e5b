import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import type { ImageUsage, ModelSpec } from '../catalog/index.ts';
import type { EditRequest } from '../contract/edit.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { VariationRequest } from '../contract/variation.ts';
import type { PollPacer } from './shared/poll-pacer.ts';
import type { BodyReadTurn } from '../http/body-reads.ts';

/** One image as a provider produced it, before the media step normalizes it. */
export interface ProviderImage {
  readonly bytes: Buffer;
  /** The provider's claim; the media step trusts magic bytes, not this. */
  readonly mime?: string;
  readonly revisedPrompt?: string;
  /**
   * The upstream's own base64 of `bytes`, when it sent one (as text, or as its ASCII bytes: a view
   * into the upstream's answer, see media/base64.ts). A `b64_json` answer whose image needs no
   * transcoding reuses it instead of encoding megabytes again.
   */
  readonly base64?: string | Buffer;
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
  /**
   * Waits for a turn to read an upstream body into memory (process-wide, http/body-reads.ts);
   * end it when the body is read, or hand it to `ProviderCall.retain`.
   */
  acquireBodyRead(signal: AbortSignal): Promise<BodyReadTurn>;
}

/** An upstream endpoint the operator configured (or the built-in local renderer), ready to call. */
export interface Channel {
  readonly id: string;
  readonly provider: string;
  readonly baseUrl: string;
  /** Never logged, never put in an error message. */
  readonly apiKey: string | null;
  /** Every secret the channel holds (its key, credentials in its URL or options): scrubbed from upstream text. */
  readonly secrets: readonly string[];
  /** Catalog model id → upstream model (or deployment) name. */
  readonly models: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
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

/**
 * One upstream call, resolved by the router: the channel, the upstream's name for the model, the
 * channel's options as the adapter's schema parsed them at boot, and the attempt's signal.
 */
export interface ProviderCall<Options> {
  readonly channel: Channel;
  /** What the upstream calls the model (a model name, an Azure deployment, an Ark endpoint id). */
  readonly upstreamModel: string;
  readonly options: Options;
  /** Aborts when the client leaves, the attempt times out, or the request deadline passes. */
  readonly signal: AbortSignal;
  readonly requestId: string;
  readonly logger: Logger;
  /** Spaces the polls of asynchronous upstreams (see shared/poll-until-done.ts). */
  readonly pacer: PollPacer;
  /** Set for streamed requests: adapters that can stream report partial images through it. */
  readonly onPartial?: (partial: PartialImage) => void;
  /**
   * Set when the caller keeps what the answer is made of until it has been sent to the client
   * (the API routes do): the body-read turn of the answer carrying the images goes here (pass it
   * to `callUpstream` as `retain`) and ends then, so memory stays bounded in a burst and the body
   * can be read into a pooled buffer (http/body-reads.ts). A failed attempt's turns end at once.
   */
  readonly retain?: Retain;
}

/** Takes a body-read turn to end once the answer made from its body has been sent. */
export type Retain = (turn: BodyReadTurn) => void;

/**
 * A provider: translates a validated request to its upstream's wire format and the answer back,
 * and the upstream's errors to `GatewayError`s (retryable or not). Adding a provider is one folder
 * under `src/providers/` exporting one of these, plus one line in `registry.ts`
 * (CONTRIBUTING.md has the checklist).
 */
export interface ProviderAdapter<Options> {
  readonly id: string;
  /** The public API root channels use when they name no `baseUrl` (absent: every channel must name one). */
  readonly defaultBaseUrl?: string;
  /** The channel `options:` this provider reads; parsed once at boot, a bad one stops the start. */
  readonly optionsSchema: z.ZodType<Options>;
  /** Whether channels of this provider may list the model; a reason when not (checked at boot). */
  serves(model: ModelSpec): true | string;
  /** How many images one upstream call may produce for a model; the router fans out above it. */
  maxImagesPerCall(model: ModelSpec, options: Options): number;
  /**
   * Produces exactly `request.n` images, or throws a `GatewayError`. Honours `call.signal`. When
   * `request.stream` is set and `call.onPartial` given, an adapter that can stream reports partial
   * images as they arrive (at most `request.partialImages` per image); one that cannot simply
   * answers with the final images.
   */
  generate: (request: GenerationRequest, call: ProviderCall<Options>) => Promise<ProviderResult>;
  /**
   * `POST /v1/images/edits`: exactly `request.n` images made from `request.images` (the first is
   * edited where `request.mask` is transparent; the rest are references). Absent when the
   * provider cannot edit: the router then skips its channels for edits.
   */
  edit?: (request: EditRequest, call: ProviderCall<Options>) => Promise<ProviderResult>;
  /** `POST /v1/images/variations`: exactly `request.n` variations of `request.image`. */
  variation?: (request: VariationRequest, call: ProviderCall<Options>) => Promise<ProviderResult>;
}

/** What the router needs for one call, before the channel's options are bound in. */
export type UnboundCall = Omit<ProviderCall<unknown>, 'options'>;

/**
 * A provider bound to one channel's parsed options: what the router holds per channel. The
 * options' type stays inside the closure, so the registry can list providers of every option type.
 */
export interface BoundProvider {
  readonly id: string;
  maxImagesPerCall(model: ModelSpec): number;
  generate(request: GenerationRequest, call: UnboundCall): Promise<ProviderResult>;
  readonly edit: ((request: EditRequest, call: UnboundCall) => Promise<ProviderResult>) | null;
  readonly variation: ((request: VariationRequest, call: UnboundCall) => Promise<ProviderResult>) | null;
}

/** An adapter as the registry lists it: its id, what it serves, and how to bind channel options. */
export interface RegisteredProvider {
  readonly id: string;
  readonly defaultBaseUrl: string | null;
  serves(model: ModelSpec): true | string;
  /** Parses a channel's raw options with the adapter's schema: the bound provider, or the issues. */
  bind(rawOptions: unknown): { ok: true; provider: BoundProvider } | { ok: false; issues: readonly { path: string; message: string }[] };
}
