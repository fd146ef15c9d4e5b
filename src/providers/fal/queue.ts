import { request as undiciRequest } from 'undici';
import type { Dimensions } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { callUpstream, parseJson, type UpstreamResponse } from '../shared/call-upstream.ts';
import { decodeDataUrl, isDataUrl } from '../shared/data-url.ts';
import { type PollState, pollUntilDone } from '../shared/poll-until-done.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import { isOnUpstreamSite } from '../shared/upstream-site.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { falHttpError, falRunError } from './errors.ts';
import type { FalOptions } from './options.ts';
import { type ResultAnswer, ResultAnswerSchema, StatusAnswerSchema, SubmitAnswerSchema } from './wire.ts';

/** What a submit hands the polls: the URLs fal named for this request, each checked against the site. */
interface QueueHandle {
  readonly requestId: string;
  readonly statusUrl: string;
  readonly responseUrl: string;
  readonly cancelUrl: string | null;
}

/** How the request ended, reported after polling stops (a failed run is not a passing poll fault). */
type Finished =
  { readonly kind: 'completed'; readonly responseUrl: string } | { readonly kind: 'failed'; readonly error: string; readonly errorType: string | null };

const RUNNING = new Set(['IN_QUEUE', 'IN_PROGRESS']);

/** A cancel is a courtesy to fal after the client left: it gets a few seconds, never the caller's. */
const CANCEL_TIMEOUT_MS = 5000;

/**
 * One request through fal's queue (docs.fal.ai/documentation/model-apis/inference/queue, provider
 * notes §7): `POST {baseUrl}/{endpoint_id}` with `Authorization: Key …` → `{request_id,
 * status_url, response_url, cancel_url}`; poll `status_url` (paced, backed off, within the
 * request's deadline: shared/poll-until-done.ts) until COMPLETED; `GET response_url` for the
 * images, downloaded at once (fal's CDN links are temporary). The URLs are used as fal gives them
 * (they drop the endpoint's sub-path: `fal-ai/flux/dev` → `fal-ai/flux/requests/<id>`), but only
 * on fal's own site, since the key goes with them. A request the client abandons is cancelled
 * (`PUT cancel_url`), so fal stops the work the gateway would pay for and throw away.
 *
 * fal's safety checker does not fail a request: it replaces a flagged image with a black square
 * and sets `has_nsfw_concepts[i]` (provider notes §11). Those are never delivered (nor charged);
 * see `cleanImages` for what happens when some are left.
 */
export async function runQueueRequest(
  call: ProviderCall<FalOptions>,
  input: Record<string, unknown>,
  expected: { readonly size: Dimensions; readonly n: number; readonly mime: string },
): Promise<ProviderResult> {
  const { size: requested, n, mime: fallbackMime } = expected;
  const { channel, options } = call;
  const headers = (): Record<string, string> => {
    const all: Record<string, string> = { accept: 'application/json' };
    // fal's scheme is "Key", not "Bearer" (fal-js request.ts). Public models also answer without one.
    if (channel.apiKey !== null) all['authorization'] = `Key ${channel.apiKey}`;
    return all;
  };
  const onSite = (url: string, field: string): string => {
    if (isOnUpstreamSite(url, channel.baseUrl)) return url;
    // Not retried: another request would cost again and most likely say the same.
    throw new GatewayError('upstream_error', `The upstream provider (fal) named a ${field} outside its own site; the gateway refused to follow it.`, {
      cause: `${field} host ${hostOf(url)} is not on the site of ${hostOf(channel.baseUrl)}`,
    });
  };

  const finished = await pollUntilDone<QueueHandle, Finished>(
    {
      submit: async () => {
        const submitHeaders: Record<string, string> = { ...headers(), 'content-type': 'application/json' };
        if (!options.storeIo) submitHeaders['x-fal-store-io'] = '0';
        const response = await callUpstream(channel, {
          method: 'POST',
          url: endpointUrl(channel.baseUrl, call.upstreamModel),
          headers: submitHeaders,
          body: JSON.stringify(input),
          signal: call.signal,
        });
        if (!isSuccess(response)) {
          const error = falHttpError(response.status, response.headers, response.text, 'submit');
          call.logger.warn({ requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, code: error.code }, 'fal refused the request');
          throw error;
        }
        const answer = parseWire('fal', SubmitAnswerSchema, parseJson('fal', response.text), 'the queue answer');
        const handle: QueueHandle = {
          requestId: answer.request_id,
          statusUrl: onSite(answer.status_url, 'status_url'),
          responseUrl: onSite(answer.response_url, 'response_url'),
          cancelUrl: answer.cancel_url == null ? null : onSite(answer.cancel_url, 'cancel_url'),
        };
        call.logger.debug({ requestId: call.requestId, channel: channel.id, falRequestId: handle.requestId }, 'fal request queued');
        return handle;
      },
      poll: async (handle) => {
        const response = await callUpstream(channel, { method: 'GET', url: handle.statusUrl, headers: headers(), signal: call.signal });
        if (!isSuccess(response)) throw falHttpError(response.status, response.headers, response.text, 'poll');
        return queueState(handle, parseWire('fal', StatusAnswerSchema, parseJson('fal', response.text), 'the queue status'));
      },
      cancel: async (handle) => {
        if (handle.cancelUrl === null) return;
        const response = await undiciRequest(handle.cancelUrl, {
          method: 'PUT',
          headers: headers(),
          dispatcher: channel.http.dispatcher,
          signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
        });
        await response.body.dump();
        call.logger.debug(
          { requestId: call.requestId, channel: channel.id, falRequestId: handle.requestId, upstreamStatus: response.statusCode },
          'fal request cancelled',
        );
      },
    },
    {
      timing: { initialMs: options.pollInitialMs, maxMs: options.pollMaxMs, minIntervalMs: options.pollMinIntervalMs },
      pacer: call.pacer,
      pacerKey: channel.id,
      signal: call.signal,
      onPollFailure: (err, failuresInARow) =>
        call.logger.warn({ requestId: call.requestId, channel: channel.id, code: err.code, failuresInARow }, 'fal status poll failed; polling on'),
    },
  );
  if (finished.kind === 'failed') throw falRunError(finished.error, finished.errorType);

  const response = await callUpstream(channel, { method: 'GET', url: finished.responseUrl, headers: headers(), signal: call.signal });
  // A model's own errors (validation, content policy) surface here, with fal's error bodies.
  if (!isSuccess(response)) throw falHttpError(response.status, response.headers, response.text, 'poll');
  const result = parseWire('fal', ResultAnswerSchema, parseJson('fal', response.text), 'the result');
  const wanted = cleanImages(result, n);
  const images = await Promise.all(wanted.map(async (image): Promise<ProviderImage> => fetchImage(call, image, fallbackMime)));
  const first = wanted[0];
  const delivered = first?.width != null && first.height != null && (first.width !== requested.width || first.height !== requested.height);
  return { images, ...(delivered ? { deliveredSize: { width: first.width ?? requested.width, height: first.height ?? requested.height } } : {}) };
}

type ResultImage = ResultAnswer['images'][number];

/**
 * The images to deliver: those fal did not flag, exactly `n` of them. A flagged image is a black
 * square (provider notes §11) and is never delivered or charged. When nothing clean is left, or
 * fewer than `n`, the request is refused as a whole (400 content_policy_violation, nothing
 * charged): OpenAI never answers with fewer images than asked, and asking fal again for the
 * missing ones would pay for more pictures of a prompt its checker flags (README, "fal").
 */
function cleanImages(result: ResultAnswer, n: number): ResultImage[] {
  const flags = result.has_nsfw_concepts ?? [];
  const clean = result.images.filter((_, index) => flags[index] !== true);
  const flagged = result.images.length - clean.length;
  if (flagged > 0 && clean.length < n) {
    throw contentPolicyError(
      'fal',
      clean.length === 0
        ? 'the generated image was flagged as not safe for work'
        : `${flagged} of the ${result.images.length} generated images were flagged as not safe for work, and the gateway does not answer with fewer images than asked`,
    );
  }
  if (clean.length < n) throw malformedResponse('fal', `the result has ${clean.length} images where ${n} were asked`);
  return clean.slice(0, n);
}

/** One image of the result: a data URI decoded, a CDN link downloaded at once under the address policy. */
async function fetchImage(call: ProviderCall<FalOptions>, image: ResultImage, fallbackMime: string): Promise<ProviderImage> {
  if (isDataUrl(image.url)) return decodeDataUrl('fal', image.url);
  const bytes = await call.channel.http.download(image.url, call.signal);
  return { bytes, mime: image.content_type ?? fallbackMime };
}

/** `{baseUrl}/{endpoint_id}`: the id's slashes are path separators (`fal-ai/flux/dev`), each segment encoded. */
export function endpointUrl(baseUrl: string, endpointId: string): string {
  const segments = endpointId.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new GatewayError(
      'upstream_configuration_error',
      'The channel names a fal endpoint id that is not a path (owner/app[/sub-path]); the operator has been alerted.',
      {
        cause: `endpoint id ${JSON.stringify(endpointId)}`,
      },
    );
  }
  return `${baseUrl}/${segments.map(encodeURIComponent).join('/')}`;
}

/** What one status answer says; a COMPLETED request with an `error` ended without images. */
function queueState(
  handle: QueueHandle,
  answer: { status: string; error?: string | null | undefined; error_type?: string | null | undefined },
): PollState<Finished> {
  if (RUNNING.has(answer.status)) return { done: false };
  if (answer.status === 'COMPLETED') {
    if (typeof answer.error === 'string' && answer.error !== '')
      return { done: true, value: { kind: 'failed', error: answer.error, errorType: answer.error_type ?? null } };
    return { done: true, value: { kind: 'completed', responseUrl: handle.responseUrl } };
  }
  throw malformedResponse('fal', `unknown queue status ${JSON.stringify(answer.status)}`);
}

function isSuccess(response: UpstreamResponse): boolean {
  // The status answers 202 while the request waits and 200 once it is done (fal queue docs).
  return response.status >= 200 && response.status < 300;
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : '(not a URL)';
}
