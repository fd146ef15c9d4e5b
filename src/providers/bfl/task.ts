import type { Dimensions } from '../../catalog/index.ts';
import { GatewayError } from '../../errors.ts';
import { callUpstream, parseJson } from '../shared/call-upstream.ts';
import { type PollState, pollUntilDone } from '../shared/poll-until-done.ts';
import { isOnUpstreamSite } from '../shared/upstream-site.ts';
import { contentPolicyError, malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderResult } from '../types.ts';
import { bflHttpError } from './errors.ts';
import type { BflOptions } from './options.ts';
import type { WireSize } from './sizes.ts';
import { ReadyResultSchema, ResultAnswerSchema, SubmitAnswerSchema } from './wire.ts';

/** What a submit hands the polls. */
interface TaskHandle {
  readonly id: string;
  readonly pollingUrl: string;
}

/** How a task ended when it ended without a picture to fetch (reported after polling stops). */
type Finished = { readonly kind: 'ready'; readonly sampleUrl: string } | { readonly kind: 'failed'; readonly status: string };

/** Statuses of a task still on its way; "Pending" is StatusResponse's, the others BFL's docs name. */
const RUNNING = new Set(['Pending', 'Queued', 'Processing']);
/** Input ("Request") and output ("Content") moderation. */
const MODERATED = new Set(['Request Moderated', 'Content Moderated']);
const FAILED = new Set(['Error', 'Failed']);

const MIME: Readonly<Record<string, string>> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/**
 * One BFL task (provider notes §4): `POST {baseUrl}/{model}` with `x-key` → `{id, polling_url}`;
 * poll `polling_url` (paced, backed off, within the request's deadline: shared/poll-until-done.ts)
 * until it is Ready; download `result.sample` at once, since the signed link lives about ten
 * minutes. BFL has no way to cancel a task, so an abandoned request only stops polling.
 *
 * `requested` is the size the request resolved to; when the endpoint was sent another (snapped to
 * its grid), that one is what BFL draws and is reported as delivered.
 */
export async function runTask(
  call: ProviderCall<BflOptions>,
  body: Record<string, unknown>,
  size: WireSize,
  requested: Dimensions,
  outputFormat: string,
): Promise<ProviderResult> {
  const { channel, options } = call;
  const headers = (): Record<string, string> => {
    const all: Record<string, string> = { accept: 'application/json' };
    if (channel.apiKey !== null) all['x-key'] = channel.apiKey;
    return all;
  };

  const finished = await pollUntilDone<TaskHandle, Finished>(
    {
      submit: async () => {
        const url = `${channel.baseUrl}/${encodeURIComponent(call.upstreamModel)}`;
        const response = await callUpstream(channel, {
          method: 'POST',
          url,
          headers: { ...headers(), 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: call.signal,
        });
        if (response.status !== 200) {
          const error = bflHttpError(response.status, response.headers, response.text, 'submit');
          call.logger.warn({ requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, code: error.code }, 'bfl refused the task');
          throw error;
        }
        const answer = parseWire('bfl', SubmitAnswerSchema, parseJson('bfl', response.text), 'the task answer');
        if (!isOnUpstreamSite(answer.polling_url, channel.baseUrl)) {
          // The key goes with every poll: a host outside BFL's site is never called, whatever the
          // answer says. Not retried: another task would cost again and most likely say the same.
          throw new GatewayError('upstream_error', 'The upstream provider (bfl) named a polling URL outside its own site; the gateway refused to follow it.', {
            cause: `polling_url host ${hostOf(answer.polling_url)} is not on the site of ${hostOf(channel.baseUrl)}`,
          });
        }
        call.logger.debug({ requestId: call.requestId, channel: channel.id, taskId: answer.id, costCredits: answer.cost }, 'bfl task created');
        return { id: answer.id, pollingUrl: answer.polling_url };
      },
      poll: async (task) => {
        const response = await callUpstream(channel, { method: 'GET', url: task.pollingUrl, headers: headers(), signal: call.signal });
        if (response.status !== 200) throw bflHttpError(response.status, response.headers, response.text, 'poll');
        return taskState(task, parseWire('bfl', ResultAnswerSchema, parseJson('bfl', response.text), 'the task status'));
      },
    },
    {
      timing: { initialMs: options.pollInitialMs, maxMs: options.pollMaxMs, minIntervalMs: options.pollMinIntervalMs },
      pacer: call.pacer,
      pacerKey: channel.id,
      signal: call.signal,
      onPollFailure: (err, failuresInARow) =>
        call.logger.warn({ requestId: call.requestId, channel: channel.id, code: err.code, failuresInARow }, 'bfl task poll failed; polling on'),
    },
  );

  if (finished.kind === 'failed') {
    // Ended by BFL without a picture and without a moderation verdict: their fault as far as we
    // can tell, and a fresh task is worth a try.
    throw new GatewayError('upstream_error', `The upstream provider (bfl) failed the task (status ${JSON.stringify(finished.status)}).`, { retryable: true });
  }
  const bytes = await channel.http.download(finished.sampleUrl, call.signal);
  const delivered = size.kind === 'pixels' && (size.width !== requested.width || size.height !== requested.height);
  return {
    images: [{ bytes, ...(MIME[outputFormat] === undefined ? {} : { mime: MIME[outputFormat] }) }],
    ...(delivered ? { deliveredSize: { width: size.width, height: size.height } } : {}),
  };
}

/**
 * What one poll answer says. A finished task ends the polls at once, picture or not: a failed
 * one is reported after polling stops, so the shared poller does not take it for a passing fault
 * and ask again.
 */
function taskState(task: TaskHandle, answer: { status: string; result?: unknown; details?: Record<string, unknown> | null | undefined }): PollState<Finished> {
  const { status } = answer;
  if (RUNNING.has(status)) return { done: false };
  if (status === 'Ready') {
    const result = parseWire('bfl', ReadyResultSchema, answer.result, 'the result of a Ready task');
    return { done: true, value: { kind: 'ready', sampleUrl: result.sample } };
  }
  // Moderation comes as a status inside an HTTP 200 (provider notes §10.5): a refusal, not a fault.
  if (MODERATED.has(status)) throw contentPolicyError('bfl', moderationDetail(status, answer.details));
  if (FAILED.has(status)) return { done: true, value: { kind: 'failed', status } };
  if (status === 'Task not found') {
    // Seen for a moment right after a submit (provider notes §4): ridden out as a failed poll a
    // couple of times, then a fresh task.
    throw new GatewayError('upstream_error', `The upstream provider (bfl) does not know task ${task.id}.`, { retryable: true });
  }
  throw malformedResponse('bfl', `unknown task status ${JSON.stringify(status)}`);
}

/** "Content Moderated", with BFL's reasons when `details` lists them (`{"Moderation Reasons": [...]}`). */
function moderationDetail(status: string, details: Record<string, unknown> | null | undefined): string {
  const reasons = Object.values(details ?? {})
    .flatMap((value): unknown[] => (Array.isArray(value) ? (value as unknown[]) : [value]))
    .filter((value): value is string => typeof value === 'string' && value !== '');
  const what = status === 'Request Moderated' ? 'the request was flagged by moderation' : 'the generated image was flagged by moderation';
  return reasons.length === 0 ? what : `${what} (${reasons.slice(0, 3).join(', ')})`;
}

function hostOf(url: string): string {
  return URL.canParse(url) ? new URL(url).host : '(not a URL)';
}
