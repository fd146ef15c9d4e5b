import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Google's RPC error body (AIP-193): `{error: {code, message, status, details[]}}`, where `status`
 * is the canonical code name and `details` carries typed messages such as
 * `google.rpc.ErrorInfo {reason}` and `google.rpc.RetryInfo {retryDelay}` (provider notes §3, "Errors").
 */
const RpcErrorSchema = z.looseObject({
  error: z.looseObject({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    details: z.array(z.looseObject({ '@type': z.string().optional(), reason: z.string().optional(), retryDelay: z.string().optional() })).optional(),
  }),
});

/**
 * The HTTP status of each canonical code (google.rpc.Code's mapping). The name decides, not the
 * HTTP status, because proxies in front of Google rewrite statuses but pass bodies on.
 * ABORTED and CANCELLED ("retry at a higher level") are read as a passing server fault.
 */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  INVALID_ARGUMENT: 400,
  OUT_OF_RANGE: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
  ABORTED: 503,
  CANCELLED: 503,
  UNKNOWN: 500,
  INTERNAL: 500,
  DATA_LOSS: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
};

/** `retryDelay` is a protobuf Duration in JSON: seconds with an `s`, e.g. `"17s"` or `"0.250s"`. */
const DURATION = /^(\d+(?:\.\d+)?)s$/;

/**
 * Turns a Gemini API error answer into a GatewayError:
 * - RESOURCE_EXHAUSTED (429): retryable, waiting what `RetryInfo.retryDelay` says (Google sends
 *   no Retry-After header; one from a proxy is read when the body has no hint);
 * - UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED (5xx): retryable;
 * - UNAUTHENTICATED, PERMISSION_DENIED, and an INVALID_ARGUMENT whose ErrorInfo reason is
 *   `API_KEY_INVALID` (Google's answer to a wrong key is a 400, provider notes §10.5): the
 *   channel's key, a configuration error;
 * - FAILED_PRECONDITION (400): the project cannot use the API (region, billing: "Gemini API free
 *   tier is not available in your country"), also the operator's to fix;
 * - INVALID_ARGUMENT and the rest: the request, with Google's message.
 */
export function geminiError(httpStatus: number, headers: Headers, text: string): GatewayError {
  const parsed = RpcErrorSchema.safeParse(tryJson(text));
  if (!parsed.success) return errorForStatus('gemini', httpStatus, headers, `HTTP ${httpStatus}`);
  const { status = '', message = '', details = [] } = parsed.data.error;
  const reasons = details.map((detail) => detail.reason ?? '').filter((reason) => reason !== '');
  const detail = message === '' ? status || `HTTP ${httpStatus}` : `${status === '' ? '' : `${status}: `}${message}`;

  if (reasons.some((reason) => reason.startsWith('API_KEY_'))) return errorForStatus('gemini', 401, headers, detail);
  if (status === 'FAILED_PRECONDITION') {
    return new GatewayError(
      'upstream_configuration_error',
      "The upstream provider (gemini) cannot serve the gateway's project (FAILED_PRECONDITION); the operator has been alerted.",
      {
        cause: detail,
      },
    );
  }
  const effective = STATUS_OF_CODE[status] ?? httpStatus;
  if (effective === 429) {
    const hintMs = retryDelayMs(details) ?? retryAfterMs(headers);
    return new GatewayError('rate_limit_exceeded', 'The upstream provider (gemini) is rate limiting requests (RESOURCE_EXHAUSTED); retry later.', {
      retryable: true,
      cause: detail,
      ...(hintMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(hintMs / 1000)) }),
    });
  }
  return errorForStatus('gemini', effective, headers, detail);
}

/** The wait a `google.rpc.RetryInfo` detail asks for, in milliseconds. */
function retryDelayMs(details: ReadonlyArray<{ '@type'?: string | undefined; retryDelay?: string | undefined }>): number | undefined {
  for (const detail of details) {
    if (detail['@type']?.endsWith('google.rpc.RetryInfo') !== true || detail.retryDelay === undefined) continue;
    const match = DURATION.exec(detail.retryDelay.trim());
    if (match !== null) return Math.ceil(Number(match[1]) * 1000);
  }
  return undefined;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
