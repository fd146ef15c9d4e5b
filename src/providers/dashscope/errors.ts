import { GatewayError } from '../../errors.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Codes of DashScope's moderation ("Green Net") refusing the prompt or the picture: 400
 * `DataInspectionFailed` (`data_inspection_failed` in its OpenAI-compatible mode) and
 * `IPInfringementSuspect` (Model Studio error-code page).
 */
const POLICY_CODES = new Set(['DataInspectionFailed', 'data_inspection_failed', 'IPInfringementSuspect']);

/**
 * Turns a DashScope error `{code, message}` into a GatewayError. The code decides before the
 * HTTP status does, because DashScope does not keep the two in step: errors come as HTTP 200
 * (litellm's dashscope transformation: "DashScope can return API-level errors in a 200 response
 * body"), a failed task reports its code inside a 200 poll answer, and `Arrearage` (account in
 * arrears) is documented as a 400 although it is the operator's problem, not the client's.
 * Status codes follow the Model Studio error-code page (provider notes §2, "Errors").
 */
export function dashscopeError(status: number, headers: Headers, code: string, message: string): GatewayError {
  if (POLICY_CODES.has(code)) return contentPolicyError('dashscope', message === '' ? code : message);
  return errorForStatus('dashscope', statusForCode(status, code), headers, message === '' ? code : `${code}: ${message}`);
}

/**
 * A task that ended FAILED (or a result of a SUCCEEDED task that carries a code instead of a URL).
 * Same reading as above, but a server-side failure names the task and its code rather than an
 * HTTP status the poll never had.
 */
export function taskFailedError(taskId: string, code: string, message: string): GatewayError {
  if (!POLICY_CODES.has(code) && statusForCode(200, code) === 500) {
    return new GatewayError('upstream_error', `The upstream provider (dashscope) failed task ${taskId} (${code === '' ? 'no code' : code}).`, {
      retryable: true,
      cause: message,
    });
  }
  return dashscopeError(200, {}, code, message);
}

function statusForCode(status: number, code: string): number {
  if (code === 'InvalidApiKey') return 401;
  if (code === 'Arrearage' || code.startsWith('AccessDenied')) return 403;
  if (code === 'ModelNotFound') return 404;
  if (code.startsWith('Throttling')) return 429;
  if (code.startsWith('InternalError')) return 500;
  if (status >= 400) return status;
  if (code.startsWith('InvalidParameter') || code.startsWith('BadRequest')) return 400;
  // An unknown code in a 200, or a task that failed for a reason DashScope does not name: their
  // fault as far as we can tell, so worth another try.
  return 500;
}
