import { z } from 'zod';
import type { GenerationRequest } from '../../contract/generation-request.ts';
import { GatewayError } from '../../errors.ts';
import { type PollState, pollUntilDone } from '../shared/poll-until-done.ts';
import { malformedResponse, parseWire } from '../shared/upstream-errors.ts';
import type { ProviderCall, ProviderImage, ProviderResult } from '../types.ts';
import { taskFailedError } from './errors.ts';
import { callDashScope } from './http.ts';
import type { DashScopeOptions } from './options.ts';
import { upstreamSize, wireSize } from './sizes.ts';

const SUBMIT_PATH = '/api/v1/services/aigc/text2image/image-synthesis';
const TASK_PATH = '/api/v1/tasks/';

const SubmitOutputSchema = z.looseObject({ task_id: z.string().min(1), task_status: z.string().optional() });

/** A task's `output` while it runs and when it ends (provider notes §2a). */
const TaskOutputSchema = z.looseObject({
  task_status: z.string(),
  code: z.string().nullish(),
  message: z.string().nullish(),
  // Per image: `{url, actual_prompt}`, or `{code, message}` for an image that failed on its own,
  // such as one the output moderation refused (new-api's TaskResult).
  results: z
    .array(z.looseObject({ url: z.string().nullish(), actual_prompt: z.string().nullish(), code: z.string().nullish(), message: z.string().nullish() }))
    .optional(),
});
type TaskOutput = z.infer<typeof TaskOutputSchema>;
/** A finished task's output, with the id it was polled by (for messages). */
type FinishedTask = TaskOutput & { readonly taskId: string };

/**
 * qwen-image through DashScope's async task API (provider notes §2a): create a task, poll it
 * until it ends (shared/poll-until-done.ts: pacing, backoff, the request's deadline), download the
 * result URLs at once (they are signed OSS links that expire).
 */
export async function generateWithTask(request: GenerationRequest, call: ProviderCall<DashScopeOptions>): Promise<ProviderResult> {
  const { channel, options, upstreamModel } = call;
  const size = upstreamSize(request.size, upstreamModel);
  const parameters: Record<string, unknown> = {
    size: wireSize(size),
    // Always 1 for qwen-image (maxImagesPerCall), which refuses anything else; wan models take 1–4.
    n: request.n,
    prompt_extend: options.promptExtend,
    watermark: false,
  };
  if (request.seed !== null) parameters['seed'] = request.seed;
  const input: Record<string, unknown> = { prompt: request.prompt };
  if (request.negativePrompt !== null) input['negative_prompt'] = request.negativePrompt;

  const output = await pollUntilDone<string, FinishedTask>(
    {
      submit: async () => {
        const submitted = await callDashScope(call, { method: 'POST', path: SUBMIT_PATH, body: { model: upstreamModel, input, parameters }, asyncTask: true });
        const { task_id: taskId } = parseWire('dashscope', SubmitOutputSchema, submitted.output, 'the task answer');
        call.logger.debug({ requestId: call.requestId, channel: channel.id, taskId, upstreamRequestId: submitted.requestId }, 'dashscope task created');
        return taskId;
      },
      poll: async (taskId) => taskState(taskId, await callDashScope(call, { method: 'GET', path: `${TASK_PATH}${encodeURIComponent(taskId)}` })),
    },
    {
      timing: { initialMs: options.pollInitialMs, maxMs: options.pollMaxMs, minIntervalMs: options.pollMinIntervalMs },
      pacer: call.pacer,
      pacerKey: channel.id,
      signal: call.signal,
      onPollFailure: (err, failuresInARow) =>
        call.logger.warn({ requestId: call.requestId, channel: channel.id, code: err.code, failuresInARow }, 'dashscope task poll failed; polling on'),
    },
  );
  const images = await downloadResults(output, call);
  const resized = size.width !== request.size.width || size.height !== request.size.height;
  return { images, ...(resized ? { deliveredSize: size } : {}) };
}

/** What one poll answer says: still running, done, or (thrown) how the task ended otherwise. */
function taskState(taskId: string, answer: { output: unknown }): PollState<FinishedTask> {
  const output = parseWire('dashscope', TaskOutputSchema, answer.output, 'the task status');
  switch (output.task_status) {
    case 'PENDING':
    case 'RUNNING':
      return { done: false };
    case 'SUCCEEDED':
      return { done: true, value: { ...output, taskId } };
    case 'FAILED':
      throw taskFailedError(taskId, output.code ?? '', output.message ?? '');
    case 'CANCELED':
      // Only someone holding the account's key can cancel a task: a decision, not a fault, so
      // the router does not resubmit it behind their back.
      throw new GatewayError('upstream_error', `The upstream provider (dashscope) canceled task ${taskId}.`);
    case 'UNKNOWN':
      // DashScope's word for a task it no longer (or never) knew: expired after 24 h, or lost.
      // A fresh task may well succeed.
      throw new GatewayError('upstream_error', `The upstream provider (dashscope) lost track of task ${taskId}.`, { retryable: true });
    default:
      throw malformedResponse('dashscope', `unknown task_status ${JSON.stringify(output.task_status)}`);
  }
}

/**
 * A SUCCEEDED task's `results`, downloaded straight away: the URLs are signed and expire
 * (provider notes §10.3). A result that carries a code instead of a URL fails the task.
 */
async function downloadResults(output: FinishedTask, call: ProviderCall<DashScopeOptions>): Promise<ProviderImage[]> {
  const { taskId } = output;
  const results = output.results ?? [];
  if (results.length === 0) throw malformedResponse('dashscope', 'a succeeded task has no results');
  const wanted: Array<{ url: string; revisedPrompt: string | undefined }> = [];
  for (const result of results) {
    if (typeof result.code === 'string' && result.code !== '') throw taskFailedError(taskId, result.code, result.message ?? '');
    if (typeof result.url !== 'string' || result.url === '') throw malformedResponse('dashscope', 'a task result has neither url nor code');
    wanted.push({ url: result.url, revisedPrompt: typeof result.actual_prompt === 'string' && result.actual_prompt !== '' ? result.actual_prompt : undefined });
  }
  return Promise.all(
    wanted.map(async ({ url, revisedPrompt }) => ({
      bytes: await call.channel.http.download(url, call.signal),
      mime: 'image/png',
      ...(revisedPrompt === undefined ? {} : { revisedPrompt }),
    })),
  );
}
