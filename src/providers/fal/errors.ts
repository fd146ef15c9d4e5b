import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * fal's error bodies come in two shapes (docs.fal.ai/documentation/model-apis/errors and
 * …/request-errors): model errors are `{"detail": [{loc, msg, type, url, input, categories?}]}`
 * (FastAPI style, 422 for validation and content policy), infrastructure errors
 * `{"detail": "Request timed out", "error_type": "request_timeout"}`; 401/403 say
 * `{"detail": "…"}`. Read on a best-effort basis: a proxy's HTML page leaves the status to decide.
 */
const ErrorBodySchema = z.looseObject({
  detail: z
    .union([
      z.string(),
      z.array(
        z.looseObject({
          loc: z.array(z.union([z.string(), z.number()])).nullish(),
          msg: z.string().nullish(),
          type: z.string().nullish(),
          categories: z.array(z.string()).nullish(),
        }),
      ),
    ])
    .nullish(),
  error_type: z.string().nullish(),
});
type ErrorBody = z.infer<typeof ErrorBodySchema>;

/**
 * Turns a non-2xx answer of fal's queue into a GatewayError. `stage` says whether a request was
 * being queued (`submit`) or looked after (`poll`: its status or its result).
 */
export function falHttpError(status: number, headers: Headers, text: string, stage: 'submit' | 'poll'): GatewayError {
  const parsed = ErrorBodySchema.safeParse(tryJson(text));
  const body: ErrorBody = parsed.success ? parsed.data : {};
  const detail = describe(body) ?? `HTTP ${status}`;
  const items = Array.isArray(body.detail) ? body.detail : [];
  const refused = items.find((item) => item.type === 'content_policy_violation');
  if (refused !== undefined) {
    // "The content was flagged by a content checker" (fal's model errors, 422, not retryable).
    const categories = refused.categories ?? [];
    return contentPolicyError('fal', categories.length === 0 ? detail : `${detail} (${categories.slice(0, 3).join(', ')})`);
  }
  if (status === 429) {
    // fal throttles by concurrent requests per account; it names no wait in the body, so a
    // Retry-After header (when fal or a proxy sends one) is the hint.
    const waitMs = retryAfterMs(headers);
    return new GatewayError('rate_limit_exceeded', 'The upstream provider (fal) is rate limiting requests; retry later.', {
      retryable: true,
      ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
      cause: detail,
    });
  }
  if (status === 422 || status === 400) {
    // Validation of the model input: the client's request, with fal's message (422 → 400).
    return new GatewayError('invalid_value', `The upstream provider (fal) rejected the request: ${detail}`);
  }
  if (status === 404 && stage === 'poll') {
    // "Request not found" for a request fal just queued: lost on its side; a fresh one may well
    // succeed. (On submit, a 404 is an endpoint id fal does not have: the channel's mapping.)
    return new GatewayError('upstream_error', 'The upstream provider (fal) does not know the request being polled.', { retryable: true, cause: detail });
  }
  return errorForStatus('fal', status, headers, detail);
}

/** The status of a request that ended COMPLETED with an `error` (a failed run, after fal's own retries). */
export function falRunError(error: string, errorType: string | null | undefined): GatewayError {
  if (errorType === 'content_policy_violation') return contentPolicyError('fal', error);
  return new GatewayError('upstream_error', `The upstream provider (fal) failed the request${errorType ? ` (${errorType})` : ''}.`, {
    retryable: true,
    cause: error,
  });
}

/** `prompt: The content was flagged…` from the list, or the plain detail. */
function describe(body: ErrorBody): string | undefined {
  if (typeof body.detail === 'string') return body.detail;
  if (Array.isArray(body.detail) && body.detail.length > 0) {
    return body.detail
      .slice(0, 3)
      .map((item) => {
        const field = (item.loc ?? []).filter((part) => part !== 'body').join('.');
        const msg = item.msg ?? item.type ?? 'invalid';
        return field === '' ? msg : `${field}: ${msg}`;
      })
      .join('; ');
  }
  return body.error_type ?? undefined;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
