import { GatewayError } from '../../errors.ts';
import { callUpstream, parseJson } from '../shared/call-upstream.ts';
import { decodeDataUrl, isDataUrl } from '../shared/data-url.ts';
import { pollUntilDone } from '../shared/poll-until-done.ts';
import { isOnUpstreamSite } from '../shared/upstream-site.ts';
import { malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage } from '../types.ts';
import { failedPredictionError, replicateHttpError } from './errors.ts';
import type { ReplicateOptions } from './options.ts';
import { OutputSchema, type Prediction, PredictionSchema, TERMINAL } from './wire.ts';

/** Where a created prediction is polled and cancelled. */
interface Handle {
  readonly id: string;
  readonly getUrl: string;
  readonly cancelUrl: string;
}

/** `owner/name` (an official model) or `owner/name:version` (a pinned version). */
const MODEL_NAME = /^([^/\s:]+)\/([^/\s:]+)(?::([^/\s:]+))?$/;

/**
 * One prediction (HTTP API reference, "Create a prediction"), making `count` images:
 * - `POST {baseUrl}/models/{owner}/{name}/predictions` with `{input}`, or, for a pinned version,
 *   `POST {baseUrl}/predictions` with `{version, input}`; `Authorization: Bearer`.
 * - `Prefer: wait=<s>` keeps the create call open until the prediction ends (sync mode, at most
 *   60 s), so a fast model answers in one round trip; a prediction still running then is polled at
 *   `urls.get` (paced, within the attempt's signal: shared/poll-until-done.ts).
 * - `Cancel-After: <s>s` is Replicate's own deadline for the prediction ("Set deadlines for
 *   predictions", changelog 2025-10-16): the seam gives the adapter the attempt's signal but not
 *   the request's remaining deadline, so it is the channel's `timeoutMs`, which bounds every
 *   attempt. It also stops a prediction whose id the gateway never learnt (the client left during
 *   the create call's wait).
 * - A client that leaves (or a deadline) while polling cancels the prediction (`urls.cancel`).
 * - `output` (a URI, a list of them, or data URIs) is fetched at once: API outputs are deleted
 *   after an hour (topics/predictions/data-retention).
 */
export async function runPrediction(
  call: ProviderCall<ReplicateOptions>,
  input: Record<string, unknown>,
  count: number,
  /** Fires when a sibling prediction of the same request failed: this one is cancelled too. */
  stop?: AbortSignal,
): Promise<ProviderImage[]> {
  const { channel, options } = call;
  // The create call runs on the attempt's signal alone, so that a stopped sibling still learns its
  // id and can cancel it; everything after it also stops with `stop`.
  const signal = stop === undefined ? call.signal : AbortSignal.any([call.signal, stop]);
  const name = MODEL_NAME.exec(call.upstreamModel);
  if (name === null) {
    throw new GatewayError(
      'upstream_configuration_error',
      'The upstream provider (replicate) was configured with a model name that is not owner/name or owner/name:version; the operator has been alerted.',
      {
        cause: `upstream model ${JSON.stringify(call.upstreamModel)}`,
      },
    );
  }
  const [, owner = '', model = '', version] = name;
  const headers = (): Record<string, string> => {
    const all: Record<string, string> = { accept: 'application/json' };
    if (channel.apiKey !== null) all['authorization'] = `Bearer ${channel.apiKey}`;
    return all;
  };
  const timeoutSeconds = Math.max(1, Math.ceil(channel.timeoutMs / 1000));
  const waitSeconds = Math.min(options.preferWaitSeconds, Math.max(1, Math.floor(channel.timeoutMs / 1000)));
  const url =
    version === undefined
      ? `${channel.baseUrl}/models/${encodeURIComponent(owner)}/${encodeURIComponent(model)}/predictions`
      : `${channel.baseUrl}/predictions`;
  const body = version === undefined ? { input } : { version, input };

  const response = await callUpstream(channel, {
    method: 'POST',
    url,
    headers: { ...headers(), 'content-type': 'application/json', prefer: `wait=${waitSeconds}`, 'cancel-after': `${timeoutSeconds}s` },
    body: JSON.stringify(body),
    signal: call.signal,
  });
  if (response.status !== 201 && response.status !== 200 && response.status !== 202) {
    const error = replicateHttpError(response.status, response.headers, response.text);
    call.logger.warn({ requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, code: error.code }, 'replicate refused the prediction');
    throw error;
  }
  const created = parseWire('replicate', PredictionSchema, parseJson('replicate', response.text), 'the prediction');
  call.logger.debug({ requestId: call.requestId, channel: channel.id, predictionId: created.id, status: created.status }, 'replicate prediction created');

  let finished: Prediction = created;
  if (!TERMINAL.has(created.status)) {
    const handle = handleOf(created, channel.baseUrl);
    finished = await pollUntilDone<Handle, Prediction>(
      {
        submit: () => Promise.resolve(handle),
        poll: async (task) => {
          const answer = await callUpstream(channel, { method: 'GET', url: task.getUrl, headers: headers(), signal });
          if (answer.status !== 200) throw replicateHttpError(answer.status, answer.headers, answer.text);
          const prediction = parseWire('replicate', PredictionSchema, parseJson('replicate', answer.text), 'the prediction');
          return TERMINAL.has(prediction.status) ? { done: true, value: prediction } : { done: false };
        },
        cancel: async (task) => {
          // The attempt's signal has fired: the cancel gets a few seconds of its own.
          const answer = await callUpstream(channel, { method: 'POST', url: task.cancelUrl, headers: headers(), signal: AbortSignal.timeout(5000) });
          call.logger.debug(
            { requestId: call.requestId, channel: channel.id, predictionId: task.id, upstreamStatus: answer.status },
            'replicate prediction cancelled',
          );
        },
      },
      {
        timing: { initialMs: options.pollInitialMs, maxMs: options.pollMaxMs, minIntervalMs: options.pollMinIntervalMs },
        pacer: call.pacer,
        pacerKey: channel.id,
        signal,
        onPollFailure: (err, failuresInARow) =>
          call.logger.warn({ requestId: call.requestId, channel: channel.id, code: err.code, failuresInARow }, 'replicate prediction poll failed; polling on'),
      },
    );
  }
  if (finished.status !== 'succeeded') throw failedPredictionError(finished.status, finished.error);

  const outputs = parseWire('replicate', OutputSchema, finished.output, 'the output of a succeeded prediction');
  if (outputs.length < count) throw malformedResponse('replicate', `the prediction made ${outputs.length} images where ${count} were asked`);
  return Promise.all(
    outputs.slice(0, count).map(async (output): Promise<ProviderImage> => {
      if (isDataUrl(output)) {
        const { bytes, base64, mime } = decodeDataUrl('replicate', output);
        return { bytes, base64, ...(mime === undefined ? {} : { mime }) };
      }
      return { bytes: await channel.http.download(output, signal) };
    }),
  );
}

/**
 * Where to poll and cancel: the prediction's own `urls`, which must stay on the base URL's site
 * since the key goes with every call (shared/upstream-site.ts); without them, the documented
 * `GET /predictions/{id}` and `POST /predictions/{id}/cancel`.
 */
function handleOf(prediction: Prediction, baseUrl: string): Handle {
  const fallback = `${baseUrl}/predictions/${encodeURIComponent(prediction.id)}`;
  const getUrl = prediction.urls?.get ?? fallback;
  const cancelUrl = prediction.urls?.cancel ?? `${fallback}/cancel`;
  for (const link of [getUrl, cancelUrl]) {
    if (!isOnUpstreamSite(link, baseUrl)) {
      // Not retried: another prediction would cost again and most likely say the same.
      throw new GatewayError(
        'upstream_error',
        'The upstream provider (replicate) named a prediction URL outside its own site; the gateway refused to follow it.',
        {
          cause: `${link.slice(0, 200)} is not on the site of ${baseUrl}`,
        },
      );
    }
  }
  return { id: prediction.id, getUrl, cancelUrl };
}
