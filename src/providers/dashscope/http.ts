import { callUpstream, parseJson } from '../shared/call-upstream.ts';
import { errorForStatus, malformedResponse } from '../shared/upstream-errors.ts';
import type { CallContext, Channel } from '../types.ts';
import { dashscopeError } from './errors.ts';

/** A successful DashScope answer: its `output` object and what else the caller may read. */
export interface DashScopeAnswer {
  readonly output: Readonly<Record<string, unknown>>;
  readonly usage: unknown;
  readonly requestId: string | undefined;
}

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
  channel: Channel,
  ctx: CallContext,
  call: { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown>; asyncTask?: boolean },
): Promise<DashScopeAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (channel.apiKey !== null) headers['authorization'] = `Bearer ${channel.apiKey}`;
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  // Required to create a task: without it the task API answers 403 AccessDenied "current user api
  // does not support synchronous calls" (provider notes §2a).
  if (call.asyncTask === true) headers['x-dashscope-async'] = 'enable';
  const response = await callUpstream(channel, {
    method: call.method,
    url: `${channel.baseUrl}${call.path}`,
    headers,
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
    signal: ctx.signal,
  });

  const log = { requestId: ctx.requestId, channel: channel.id, upstreamStatus: response.status, path: call.path };
  if (response.status !== 200) {
    const body = tryParse(response.text);
    const error = typeof body?.code === 'string' && body.code !== ''
      ? dashscopeError(response.status, response.headers, body.code, typeof body.message === 'string' ? body.message : '')
      : errorForStatus('dashscope', response.status, response.headers, `HTTP ${response.status}`);
    ctx.logger.warn({ ...log, upstreamRequestId: body?.request_id, code: error.code }, 'upstream refused');
    throw error;
  }
  const json = parseJson('dashscope', response.text);
  if (typeof json !== 'object' || json === null) throw malformedResponse('dashscope', 'the body is not an object');
  const body = json as ErrorBody & { output?: unknown; usage?: unknown };
  const requestId = typeof body.request_id === 'string' ? body.request_id : undefined;
  if (typeof body.output !== 'object' || body.output === null) {
    if (typeof body.code === 'string' && body.code !== '') {
      const error = dashscopeError(200, response.headers, body.code, typeof body.message === 'string' ? body.message : '');
      ctx.logger.warn({ ...log, upstreamRequestId: requestId, code: error.code }, 'upstream refused (error in an HTTP 200)');
      throw error;
    }
    throw malformedResponse('dashscope', "no 'output' object");
  }
  ctx.logger.debug({ ...log, upstreamRequestId: requestId }, 'upstream answered');
  return { output: body.output as Record<string, unknown>, usage: body.usage, requestId };
}

interface ErrorBody {
  request_id?: unknown;
  code?: unknown;
  message?: unknown;
}

/** Error bodies are read on a best-effort basis: a proxy's HTML page leaves the status to decide. */
function tryParse(text: string): ErrorBody | undefined {
  try {
    const json: unknown = JSON.parse(text);
    return typeof json === 'object' && json !== null ? (json as ErrorBody) : undefined;
  } catch {
    return undefined;
  }
}
