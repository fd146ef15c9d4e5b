import { GatewayError } from '../../errors.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';
import { type ExecutionError, type SubmitError, SubmitErrorSchema } from './wire.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Validation errors a request's own values cause (execution.py validate_inputs: a width past the
 * node's max); every other one is the operator's workflow or setup (a checkpoint ComfyUI does not
 * have, `value_not_in_list`; a node class it does not know, `invalid_prompt`; a bad link).
 */
const REQUEST_ERRORS = new Set(['value_bigger_than_max', 'value_smaller_than_min']);

/** ComfyUI ran out of GPU memory (torch.OutOfMemoryError): another try, later, may fit. */
const OUT_OF_MEMORY = /out ?of ?memory/i;

/** A refused `POST /prompt` (400 with `{error, node_errors}`), or any other non-200 answer. */
export function submitError(status: number, headers: Headers, text: string): GatewayError {
  if (status !== 400) return errorForStatus('comfyui', status, headers, `HTTP ${status}`);
  const parsed = SubmitErrorSchema.safeParse(tryJson(text));
  if (!parsed.success) return errorForStatus('comfyui', status, headers, 'HTTP 400');
  const { detail, requestCaused } = describeSubmitError(parsed.data);
  if (requestCaused) return new GatewayError('invalid_value', `The upstream ComfyUI refused a value of the request: ${detail}`);
  return new GatewayError('upstream_configuration_error', `The upstream ComfyUI refused the channel's workflow (${detail}); the operator has been alerted.`, {
    cause: detail,
  });
}

function describeSubmitError(body: SubmitError): { detail: string; requestCaused: boolean } {
  const nodeErrors = body.node_errors === undefined || Array.isArray(body.node_errors) ? [] : Object.entries(body.node_errors);
  const parts: string[] = [];
  const types: string[] = [];
  for (const [node, entry] of nodeErrors) {
    for (const error of entry.errors) {
      types.push(error.type ?? '');
      parts.push(`node ${node}${entry.class_type === undefined ? '' : ` (${entry.class_type})`}: ${error.details ?? error.message ?? error.type ?? 'invalid'}`);
    }
  }
  if (parts.length === 0) {
    const error = body.error;
    parts.push(typeof error === 'string' ? error : (error?.message ?? error?.type ?? 'the prompt was refused'));
  }
  // Only when every node error is about a value the request set is it the client's to fix.
  return { detail: parts.slice(0, 3).join('; '), requestCaused: types.length > 0 && types.every((type) => REQUEST_ERRORS.has(type)) };
}

/**
 * A prompt that failed while it ran (`execution_error` on the socket or in the history's status
 * messages). A safety checker in the graph that raises is a refusal (`refusal` matches its type,
 * class or message); running out of GPU memory is worth another try; any other node failure would
 * fail the same graph again, so it is not retried.
 */
export function executionError(error: ExecutionError, refusal: RegExp): GatewayError {
  const node = `node ${error.node_id ?? '?'}${error.node_type == null ? '' : ` (${error.node_type})`}`;
  const message = error.exception_message ?? 'failed';
  const type = error.exception_type ?? '';
  if (refusal.test(type) || refusal.test(message) || refusal.test(error.node_type ?? '')) return contentPolicyError('comfyui', `${node}: ${message}`);
  if (OUT_OF_MEMORY.test(type) || OUT_OF_MEMORY.test(message)) {
    return new GatewayError('upstream_error', `The upstream ComfyUI ran out of memory in ${node}.`, { retryable: true, cause: message });
  }
  return new GatewayError('upstream_error', `The upstream ComfyUI failed in ${node}: ${truncate(message)}`, { cause: type });
}

/** Someone (or ComfyUI's own queue) interrupted the prompt: not the request's fault, a fresh prompt may run. */
export function interruptedError(promptId: string): GatewayError {
  return new GatewayError('upstream_error', `The upstream ComfyUI interrupted prompt ${promptId}.`, { retryable: true });
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
