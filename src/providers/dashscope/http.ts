import { z } from 'zod';
import { callUpstream, parseJson } from '../shared/call-upstream.ts';
import { errorForStatus, malformedResponse } from '../shared/upstream-errors.ts';
import type { ProviderCall } from '../types.ts';
import { dashscopeError } from './errors.ts';

/** A successful DashScope answer: its `output` object and what else the caller may read. */
export interface DashScopeAnswer {
  readonly output: Readonly<Record<string, unknown>>;
  readonly usage: unknown;
  readonly requestId: string | undefined;
}

/** Every DashScope body: `output` on success, `code`/`message` on failure (whatever the status). */
const AnswerSchema = z.looseObject({
  request_id: z.string().optional(),
  output: z.record(z.string(), z.unknown()).optional(),
  usage: z.unknown().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
});

/**
 * One call to DashScope's native API under `channel.baseUrl`, which is region-bound along with the
 * key (a key used in another region is refused with 401): Beijing `https://dashscope.aliyuncs.com`,
 * Singapore `https://dashscope-intl.aliyuncs.com`, US (Virginia) `https://dashscope-us.aliyuncs.com`
 * (provider notes §2).
 *
 * Returns the answer's `output`, or throws: an HTTP error, or an error body `{code, message}`
 * without `output` whatever its status (DashScope sends some errors as HTTP 200).
 */
export async function callDashScope(
  call: ProviderCall<unknown>,
  request: { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown>; asyncTask?: boolean },
): Promise<DashScopeAnswer> {
  const { channel } = call;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  if (request.body !== undefined) headers['content-type'] = 'application/json';
  // Required to create a task: without it the task API answers 403 AccessDenied "current user api
  // does not support synchronous calls" (provider notes §2a).
  if (request.asyncTask === true) headers['x-dashscope-async'] = 'enable';
  const response = await callUpstream(channel, {
    method: request.method,
    url: `${channel.baseUrl}${request.path}`,
    headers,
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    signal: call.signal,
  });

  const log = { requestId: call.requestId, channel: channel.id, upstreamStatus: response.status, path: request.path };
  if (response.status !== 200) {
    // Error bodies are read on a best-effort basis: a proxy's HTML page leaves the status to decide.
    const body = AnswerSchema.safeParse(tryJson(response.text));
    const code = body.success ? body.data.code : undefined;
    const error =
      code !== undefined && code !== ''
        ? dashscopeError(response.status, response.headers, code, body.success ? (body.data.message ?? '') : '')
        : errorForStatus('dashscope', response.status, response.headers, `HTTP ${response.status}`);
    call.logger.warn({ ...log, upstreamRequestId: body.success ? body.data.request_id : undefined, code: error.code }, 'upstream refused');
    throw error;
  }
  const parsed = AnswerSchema.safeParse(parseJson('dashscope', response.text));
  if (!parsed.success) throw malformedResponse('dashscope', 'the body is not a DashScope answer', parsed.error);
  const body = parsed.data;
  if (body.output === undefined) {
    if (body.code !== undefined && body.code !== '') {
      const error = dashscopeError(200, response.headers, body.code, body.message ?? '');
      call.logger.warn({ ...log, upstreamRequestId: body.request_id, code: error.code }, 'upstream refused (error in an HTTP 200)');
      throw error;
    }
    throw malformedResponse('dashscope', "no 'output' object");
  }
  call.logger.debug({ ...log, upstreamRequestId: body.request_id }, 'upstream answered');
  return { output: body.output, usage: body.usage, requestId: body.request_id };
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
