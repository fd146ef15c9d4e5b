import type { Dimensions, ImageUsage } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import type { ImagesRepo } from '../db/images-repo.ts';
import type { NewImageRow } from '../db/schema.ts';
import type { AnomalySink } from '../ledger/anomalies.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { maxCostMicroUsd } from '../ledger/pricing.ts';
import type { PartialImage } from '../providers/types.ts';
import type { Router } from '../routing/router.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LinkSigner } from '../storage/link-signer.ts';
import { deliverImages } from './deliver-images.ts';
import type { ImageData, ImagesResponse } from './images-response.ts';

export interface GenerateDeps {
  readonly router: Router;
  readonly ledger: Ledger;
  /** How long a hold lives if its process dies before settling: longer than any request. */
  readonly holdTtlMs: number;
  readonly blobs: BlobStore;
  readonly images: ImagesRepo;
  readonly links: LinkSigner;
  readonly urlTtlSeconds: number;
  readonly retentionSeconds: number;
  readonly now: () => number;
  /** Where untrustworthy upstream usage is reported (counted and logged). */
  readonly anomalies: AnomalySink;
}

export interface GenerateContext {
  readonly apiKeyId: string;
  readonly requestId: string;
  readonly signal: AbortSignal;
  /** Streamed requests: partial images go here as the provider reports them. */
  readonly onPartial?: (partial: PartialImage) => void;
}

export interface GenerateOutcome {
  readonly body: ImagesResponse;
  readonly provider: string;
  readonly channel: string;
  readonly attempts: number;
  /** What the caller was charged (or, for a stream, would be if every image is delivered). */
  readonly costMicroUsd: number;
  /** The records of the images, in order; stored with the charge (or, streaming, before the events). */
  readonly records: readonly NewImageRow[];
  readonly usage: ImageUsage | null;
  readonly size: Dimensions;
}

/**
 * One generation, from a validated request to the response body: hold the most it can cost,
 * route, call the provider, normalize each image to what was asked, store it with its record,
 * charge what was delivered, then answer. An image is answered only after its bytes and its record
 * are stored; any failure before that releases the hold, so nothing undelivered is charged.
 */
export async function generateImages(deps: GenerateDeps, request: GenerationRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
  return runCharged(deps, request, ctx, { holdMicroUsd: maxCostMicroUsd(request), produce: (req, runCtx) => produce(deps, req, runCtx) });
}

/** How a request is produced and the most it may cost: what `runCharged` and `streamImages` run. */
export interface ChargedOperation<R extends GenerationRequest> {
  readonly holdMicroUsd: number;
  produce(request: R, ctx: GenerateContext): Promise<GenerateOutcome>;
}

/**
 * The money around one request: hold the most it may cost, produce it, then charge what was
 * delivered and store its records in the same transaction; any failure before that releases the
 * hold, so nothing undelivered is charged. Generations, edits and variations all go through here.
 */
export async function runCharged<R extends GenerationRequest>(
  deps: Pick<GenerateDeps, 'ledger' | 'holdTtlMs'>,
  request: R,
  ctx: GenerateContext,
  operation: ChargedOperation<R>,
): Promise<GenerateOutcome> {
  const hold = await deps.ledger.reserve(ctx.apiKeyId, ctx.requestId, request.model.id, operation.holdMicroUsd, deps.holdTtlMs);
  let settled = false;
  try {
    const outcome = await operation.produce(request, ctx);
    await deps.ledger.settle(hold, outcome.costMicroUsd, request.n, outcome.records);
    settled = true;
    return outcome;
  } finally {
    if (!settled) await deps.ledger.release(hold);
  }
}

/** Route, call the provider, and deliver (normalize, store, record, price): no money moves here. */
export async function produce(deps: GenerateDeps, request: GenerationRequest, ctx: GenerateContext): Promise<GenerateOutcome> {
  return deliverImages(deps, request, await deps.router.execute(request, ctx), ctx);
}

/** Where a streamed generation's events go; `completed` says whether the client got it. */
export interface StreamSink {
  partial(partial: PartialImage): void;
  completed(index: number, image: ImageData, usage: ImageUsage | null, outcome: GenerateOutcome): Promise<boolean>;
}

/**
 * A streamed generation (`stream: true`): the hold is taken first (a budget refusal is still a
 * plain 429), then `open()` starts the event stream, partial images flow as the provider reports
 * them, and each finished image is sent as its own completed event. Only images whose completed
 * event reached the client are charged (and kept); a client that leaves mid-stream pays for what
 * it received, and the upstream call is aborted.
 */
export async function streamImages<R extends GenerationRequest>(
  deps: Pick<GenerateDeps, 'ledger' | 'images' | 'holdTtlMs'>,
  request: R,
  ctx: Omit<GenerateContext, 'onPartial'>,
  open: () => StreamSink,
  operation: ChargedOperation<R>,
): Promise<void> {
  const run = operation.produce;
  const hold = await deps.ledger.reserve(ctx.apiKeyId, ctx.requestId, request.model.id, operation.holdMicroUsd, deps.holdTtlMs);
  let settled = false;
  try {
    const sink = open();
    // Events always carry base64, whatever response_format said.
    const outcome = await run({ ...request, responseFormat: 'b64_json' }, { ...ctx, onPartial: (partial) => sink.partial(partial) });
    // Recorded before any completed event goes out: no image reaches a client without a record.
    await deps.images.insertMany(outcome.records);
    let delivered = 0;
    for (const [index, image] of outcome.body.data.entries()) {
      if (ctx.signal.aborted) break;
      if (await sink.completed(index, image, shareOfUsage(outcome.usage, index, request.n), outcome)) delivered += 1;
      else break;
    }
    const undelivered = outcome.records.slice(delivered).map((record) => record.id);
    if (undelivered.length > 0) await deps.images.deleteByIds(undelivered);
    // What the delivered images cost: the whole request's cost scaled to them (input once).
    const cost = delivered === 0 ? 0 : Math.ceil((outcome.costMicroUsd * delivered) / request.n);
    await deps.ledger.settle(hold, cost, delivered);
    settled = true;
  } finally {
    if (!settled) await deps.ledger.release(hold);
  }
}

/** Image `index`'s part of a request's usage: its output tokens, and the input on the first. */
function shareOfUsage(usage: ImageUsage | null, index: number, n: number): ImageUsage | null {
  if (usage === null) return null;
  const output = Math.round(usage.output_tokens / n);
  const input = index === 0 ? usage.input_tokens : 0;
  const details = index === 0 ? usage.input_tokens_details : { text_tokens: 0, image_tokens: 0 };
  return { input_tokens: input, input_tokens_details: details, output_tokens: output, total_tokens: input + output };
}
