import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { malformedResponse } from '../shared/upstream-errors.ts';
import type { CallContext, Channel, ProviderImage, ProviderResult } from '../types.ts';
import { taskFailedError } from './errors.ts';
import { callDashScope } from './http.ts';
import type { DashScopeOptions, PollTiming } from './options.ts';
import { awaitPollSlot } from './poll-pacer.ts';
import { sleepMs } from './sleep.ts';
import { upstreamSize, wireSize } from './sizes.ts';

const SUBMIT_PATH = '/api/v1/services/aigc/text2image/image-synthesis';
const TASK_PATH = '/api/v1/tasks/';
/** Each wait before a poll is this much longer than the one before, up to `PollTiming.maxMs`. */
const POLL_GROWTH = 1.5;
/** Failed polls in a row (5xx, throttling, garbled answers) that do not yet end the attempt. */
const POLL_FAILURES_TOLERATED = 2;

/**
 * qwen-image through DashScope's async task API (provider notes §2a): create a task, poll it
 * until it ends, download the result URLs at once (they are signed OSS links that expire).
 *
 * Nothing here bounds the wait: `ctx.signal` does (the router's attempt timeout and the request's
 * deadline), and it cuts a sleep, a queued poll slot and a poll in flight alike.
 */
export async function generateWithTask(
  request: GenerationRequest,
  channel: Channel,
  upstreamModel: string,
  options: DashScopeOptions,
  ctx: CallContext,
): Promise<ProviderResult> {
  const size = upstreamSize(request.size, upstreamModel);
  const parameters: Record<string, unknown> = {
    size: wireSize(size),
    // Always 1 for qwen-image (maxImagesPerCall), which refuses anything else; wan models take 1–4.
    n: request.n,
    prompt_extend: options.promptExtend,
    watermark: false,
  };
  if (request.seed !== null) parameters['seed'] = request.seed;
  const submitted = await callDashScope(channel, ctx, {
    method: 'POST',
    path: SUBMIT_PATH,
    body: { model: upstreamModel, input: { prompt: request.prompt }, parameters },
    asyncTask: true,
  });
  const taskId = submitted.output['task_id'];
  if (typeof taskId !== 'string' || taskId === '') throw malformedResponse('dashscope', 'the task answer has no task_id');
  ctx.logger.debug({ requestId: ctx.requestId, channel: channel.id, taskId, upstreamRequestId: submitted.requestId }, 'dashscope task created');

  const output = await waitForTask(channel, taskId, options.poll, ctx);
  const images = await downloadResults(taskId, output['results'], channel, ctx);
  const resized = size.width !== request.size.width || size.height !== request.size.height;
  return { images, ...(resized ? { deliveredSize: size } : {}) };
}

/** Polls until the task ends; returns the `output` of a SUCCEEDED task, throws for the others. */
async function waitForTask(channel: Channel, taskId: string, timing: PollTiming, ctx: CallContext): Promise<Readonly<Record<string, unknown>>> {
  let backoffMs = timing.initialMs;
  let waitMs = backoffMs;
  let failuresInARow = 0;
  for (;;) {
    await sleepMs(waitMs, ctx.signal);
    await awaitPollSlot(channel.id, timing.minIntervalMs, ctx.signal);
    backoffMs = Math.min(timing.maxMs, backoffMs * POLL_GROWTH);
    waitMs = backoffMs;
    let output: Readonly<Record<string, unknown>>;
    try {
      ({ output } = await callDashScope(channel, ctx, { method: 'GET', path: `${TASK_PATH}${encodeURIComponent(taskId)}` }));
      failuresInARow = 0;
    } catch (err) {
      // A failed poll does not fail the task, which runs on upstream regardless. Giving up here
      // would make the router create (and pay for) a second task, so a passing fault is ridden
      // out; a lasting one, or a refusal such as a bad key, ends the attempt.
      if (!(err instanceof GatewayError) || !err.retryable || failuresInARow >= POLL_FAILURES_TOLERATED) throw err;
      failuresInARow += 1;
      ctx.logger.warn({ requestId: ctx.requestId, channel: channel.id, taskId, code: err.code, failuresInARow }, 'dashscope task poll failed; polling on');
      if (err.retryAfterSeconds !== undefined) waitMs = Math.max(waitMs, err.retryAfterSeconds * 1000);
      continue;
    }
    const status = output['task_status'];
    switch (status) {
      case 'PENDING':
      case 'RUNNING':
        continue;
      case 'SUCCEEDED':
        return output;
      case 'FAILED':
        throw taskFailedError(taskId, stringOr(output['code'], ''), stringOr(output['message'], ''));
      case 'CANCELED':
        // Only someone holding the account's key can cancel a task: a decision, not a fault, so
        // the router does not resubmit it behind their back.
        throw new GatewayError('upstream_error', `The upstream provider (dashscope) canceled task ${taskId}.`);
      case 'UNKNOWN':
        // DashScope's word for a task it no longer (or never) knew: expired after 24 h, or lost.
        // A fresh task may well succeed.
        throw new GatewayError('upstream_error', `The upstream provider (dashscope) lost track of task ${taskId}.`, { retryable: true });
      default:
        throw malformedResponse('dashscope', `unknown task_status ${JSON.stringify(status)}`);
    }
  }
}

/**
 * A SUCCEEDED task's `results`: `{url, actual_prompt}` per image, or `{code, message}` for an
 * image that failed on its own, such as one the output moderation refused (new-api's TaskResult).
 * The URLs are downloaded straight away: they are signed and expire (provider notes §10.3).
 */
async function downloadResults(taskId: string, results: unknown, channel: Channel, ctx: CallContext): Promise<ProviderImage[]> {
  if (!Array.isArray(results) || results.length === 0) throw malformedResponse('dashscope', 'a succeeded task has no results');
  const urls: Array<{ url: string; revisedPrompt: string | undefined }> = [];
  for (const raw of results as unknown[]) {
    const result = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const code = result['code'];
    if (typeof code === 'string' && code !== '') throw taskFailedError(taskId, code, stringOr(result['message'], ''));
    const url = result['url'];
    if (typeof url !== 'string' || url === '') throw malformedResponse('dashscope', 'a task result has neither url nor code');
    const actual = result['actual_prompt'];
    urls.push({ url, revisedPrompt: typeof actual === 'string' && actual !== '' ? actual : undefined });
  }
  return Promise.all(
    urls.map(async ({ url, revisedPrompt }) => ({
      bytes: await channel.http.download(url, ctx.signal),
      mime: 'image/png',
      ...(revisedPrompt === undefined ? {} : { revisedPrompt }),
    })),
  );
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}
