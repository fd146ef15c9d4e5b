import type { Dimensions, ImageUsage } from '../catalog/index.ts';
import type { ImagesRepo } from '../db/images-repo.ts';
import type { NewImageRow } from '../db/schema.ts';
import type { ApiKey } from '../keys/api-key.ts';
import type { AnomalySink } from '../ledger/anomalies.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { PriceBook } from '../ledger/price-book.ts';
import type { ChannelCosts } from '../ledger/upstream-cost.ts';
import type { Limits } from '../limits/index.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { PartialImage, Retain } from '../providers/types.ts';
import type { Router } from '../routing/router.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import type { ImageData, ImagesResponse } from './images-response.ts';
import type { RateHeaders } from './key-limits.ts';
import type { InflightRequests } from './inflight.ts';

export type { ImagesRequest } from '../contract/images-request.ts';

/** What the images use case needs; built once in deps.ts, shared by the routes and the job runner. */
export interface ImagesDeps {
  readonly router: Router;
  /** The requests running now, which shutdown waits for before closing the backends. */
  readonly inflight: InflightRequests;
  readonly ledger: Ledger;
  readonly limits: Limits;
  /** How long a hold (and a concurrency slot) lives if its process dies before settling: longer than any request. */
  readonly holdTtlMs: number;
  readonly blobs: BlobStore;
  readonly images: ImagesRepo;
  readonly links: LinkSigner;
  readonly urlTtlSeconds: number;
  readonly retentionSeconds: number;
  /** Epoch milliseconds: the one clock of the process (tests move it). */
  readonly now: () => number;
  /** Where untrustworthy upstream usage is reported (counted and logged). */
  readonly anomalies: AnomalySink;
  /** Resolves the customer's price of a request (its organisation's price group) before the hold. */
  readonly prices: PriceBook;
  /** What each channel costs the operator upstream, recorded on charges for the margin report. */
  readonly channelCosts: ChannelCosts;
  /** Where images delivered, their cost and refusals are counted. */
  readonly metrics: Pick<Metrics, 'imagesDelivered' | 'requestRefused'>;
}

/** Who asks, for which request id, until when. */
export interface Caller {
  readonly apiKey: ApiKey;
  /** The request id (an async job's id): the ledger's and the image records' request id. */
  readonly requestId: string;
  /** Aborts when the client leaves (never, for async jobs). */
  readonly signal: AbortSignal;
  /**
   * Requests per minute were counted already (an async job, counted when it was accepted), so
   * only images per minute and concurrency apply now.
   */
  readonly requestCounted?: boolean;
  /** Told what the request is (model, n, prompt) and, once delivered, how it went: for its access log line. */
  readonly report?: (facts: RequestFacts) => void;
  /**
   * Keeps what an answer is made of until the answer has been sent (an API route, see
   * api/retain-until-answered.ts); absent, upstream bodies are let go as soon as they are read.
   */
  readonly retain?: Retain;
}

/** A request's facts for its access log; each report adds to the ones before. */
export interface RequestFacts {
  readonly model?: string;
  readonly n?: number;
  readonly prompt?: string;
  readonly provider?: string;
  readonly channel?: string;
  readonly attempts?: number;
  readonly imagesDelivered?: number;
  readonly costMicroUsd?: number;
}

/** A finished request: the response body and everything its answer's headers say. */
export interface ImagesOutcome {
  readonly body: ImagesResponse;
  readonly provider: string;
  readonly channel: string;
  readonly attempts: number;
  /** What the caller was charged (or, for a stream, would be if every image is delivered). */
  readonly costMicroUsd: number;
  /** The records of the images, in order; stored with the charge (or, streaming, before the events). */
  readonly records: readonly NewImageRow[];
  readonly usage: ImageUsage | null;
  /** What was delivered (the measured size of the first image). */
  readonly size: Dimensions;
  /** Fields dropped as unsupported (drop mode). */
  readonly droppedParams: readonly string[];
  /** Whether the delivered size differs from the `WxH` the client asked for. */
  readonly deliveredSizeDiffers: boolean;
  readonly rateHeaders: RateHeaders;
}

/** Where a streamed request's events go; `completed` says whether the client got it. */
export interface StreamSink {
  partial(partial: PartialImage): void;
  completed(index: number, image: ImageData, usage: ImageUsage | null, outcome: ImagesOutcome): Promise<boolean>;
}

/** Opens the event stream once the request passed its limits and hold (with their headers). */
export type OpenStream = (rateHeaders: RateHeaders) => StreamSink;
