import type { ImageUsage } from '../catalog/index.ts';
import type { ImagesRequest } from '../contract/images-request.ts';
import type { Hold } from '../ledger/ledger.ts';
import type { Lease } from '../limits/index.ts';
import type { PartialImage } from '../providers/types.ts';
import { deliverImages } from './deliver-images.ts';
import { countImages, countRequest, type RateHeaders, takeConcurrencySlot } from './key-limits.ts';
import { assertModelAllowed } from './model-policy.ts';
import { holdMicroUsd, imageInputTokens, upstreamCost, withPrice } from './request-cost.ts';
import type { Caller, ImagesDeps, ImagesOutcome, OpenStream } from './types.ts';
import { watchImages } from './watch-images.ts';

/*
 * The images use case: the one place that runs a request from its validated form to its answer,
 * for generations, edits and variations, from an API route or the async job runner alike:
 *
 *   model policy → per-key limits → budget hold → route → deliver → settle
 *
 * An image is answered only after its bytes and its record are stored, and its record is written
 * with its charge in one transaction; any failure before that releases the hold, so nothing
 * undelivered is charged and nothing delivered goes unrecorded.
 */

/** A request answered as one JSON body. */
export function runImages(deps: ImagesDeps, asked: ImagesRequest, caller: Caller): Promise<ImagesOutcome> {
  return deps.inflight.track(run(deps, asked, caller));
}

async function run(deps: ImagesDeps, asked: ImagesRequest, caller: Caller): Promise<ImagesOutcome> {
  const watch = watchImages(deps, asked, caller);
  const admitted = await watch.admit(admit(deps, asked, caller));
  // Priced as held: the customer's price for this model, kept to the charge whatever changes meanwhile.
  const request = admitted.request;
  try {
    const { hold, rateHeaders } = admitted;
    let settled = false;
    try {
      const outcome = await watch.produce(produce(deps, request, caller));
      await deps.ledger.settle(hold, outcome.costMicroUsd, request.n, outcome.records, upstreamCost(deps, asked, outcome, request.n));
      settled = true;
      watch.delivered(outcome, outcome.records.length, outcome.costMicroUsd);
      return { ...outcome, rateHeaders };
    } finally {
      if (!settled) await deps.ledger.release(hold);
    }
  } finally {
    await admitted.lease?.release();
  }
}

/**
 * A streamed request (`stream: true`): limits and the hold come first (their refusals are plain
 * JSON errors with a status, which a client handles before reading a stream), then `open` starts
 * the event stream, partial images flow as the provider reports them, and each finished image is
 * sent as its own completed event. Only images whose completed event reached the client are
 * charged (and kept); a client that leaves mid-stream pays for what it received, and the upstream
 * call is aborted.
 */
export function streamImages(deps: ImagesDeps, asked: ImagesRequest, caller: Caller, open: OpenStream): Promise<void> {
  return deps.inflight.track(stream(deps, asked, caller, open));
}

async function stream(deps: ImagesDeps, asked: ImagesRequest, caller: Caller, open: OpenStream): Promise<void> {
  const watch = watchImages(deps, asked, caller);
  const admitted = await watch.admit(admit(deps, asked, caller));
  const request = admitted.request;
  try {
    const { hold } = admitted;
    let settled = false;
    try {
      const sink = open(admitted.rateHeaders);
      // Events always carry base64, whatever response_format said.
      const outcome = await watch.produce(produce(deps, { ...request, responseFormat: 'b64_json' }, caller, (partial) => sink.partial(partial)));
      // Recorded before any completed event goes out: no image reaches a client without a record.
      await deps.images.insertMany(outcome.records);
      const withHeaders = { ...outcome, rateHeaders: admitted.rateHeaders };
      let delivered = 0;
      for (const [index, image] of outcome.body.data.entries()) {
        if (caller.signal.aborted) break;
        if (await sink.completed(index, image, shareOfUsage(outcome.usage, index, request.n), withHeaders)) delivered += 1;
        else break;
      }
      const undelivered = outcome.records.slice(delivered).map((record) => record.id);
      if (undelivered.length > 0) await deps.images.deleteByIds(undelivered);
      // What the delivered images cost: the whole request's cost scaled to them (input once).
      const cost = delivered === 0 ? 0 : Math.ceil((outcome.costMicroUsd * delivered) / request.n);
      await deps.ledger.settle(hold, cost, delivered, [], upstreamCost(deps, asked, outcome, delivered));
      settled = true;
      watch.delivered(outcome, delivered, cost);
    } finally {
      if (!settled) await deps.ledger.release(hold);
    }
  } finally {
    await admitted.lease?.release();
  }
}

/**
 * The model policy, the key's limits and the budget hold. Images per minute are counted after
 * the hold, so a request refused for its budget does not use up the key's image allowance; a
 * refusal there gives the hold back.
 */
async function admit(
  deps: ImagesDeps,
  asked: ImagesRequest,
  caller: Caller,
): Promise<{ hold: Hold; lease: Lease | null; rateHeaders: RateHeaders; request: ImagesRequest }> {
  const { apiKey } = caller;
  assertModelAllowed(apiKey, asked.model.id);
  const requestHeaders = caller.requestCounted === true ? {} : await countRequest(deps.limits, apiKey);
  const lease = await takeConcurrencySlot(deps.limits, apiKey, deps.holdTtlMs);
  try {
    const price = await deps.prices.resolve(apiKey.organization_id, asked.model);
    const request = withPrice(asked, price.price);
    const hold = await deps.ledger.reserve(apiKey.id, caller.requestId, request.model.id, holdMicroUsd(request), deps.holdTtlMs, price.held);
    try {
      const imageHeaders = await countImages(deps.limits, apiKey, request.n);
      return { hold, lease, rateHeaders: { ...requestHeaders, ...imageHeaders }, request };
    } catch (err) {
      await deps.ledger.release(hold);
      throw err;
    }
  } catch (err) {
    await lease?.release();
    throw err;
  }
}

/** Route, call the provider, and deliver (normalize, store, price): no money moves here. */
async function produce(
  deps: ImagesDeps,
  request: ImagesRequest,
  caller: Caller,
  onPartial?: (partial: PartialImage) => void,
): Promise<Omit<ImagesOutcome, 'rateHeaders'>> {
  const routed = await deps.router.execute(request, {
    signal: caller.signal,
    requestId: caller.requestId,
    ...(onPartial === undefined ? {} : { onPartial }),
    ...(caller.retain === undefined ? {} : { retain: caller.retain }),
  });
  return deliverImages(deps, request, routed, { apiKeyId: caller.apiKey.id, requestId: caller.requestId, signal: caller.signal }, imageInputTokens(request));
}

/** Image `index`'s part of a request's usage: its output tokens, and the input on the first. */
function shareOfUsage(usage: ImageUsage | null, index: number, n: number): ImageUsage | null {
  if (usage === null) return null;
  const output = Math.round(usage.output_tokens / n);
  const input = index === 0 ? usage.input_tokens : 0;
  const details = index === 0 ? usage.input_tokens_details : { text_tokens: 0, image_tokens: 0 };
  return { input_tokens: input, input_tokens_details: details, output_tokens: output, total_tokens: input + output };
}
