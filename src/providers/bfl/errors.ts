import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * BFL's error bodies: FastAPI's `{"detail": "Not authenticated"}` or, for validation (422),
 * `{"detail": [{"loc": ["body", "width"], "msg": "…", "type": "…"}]}` (HTTPValidationError in the
 * OpenAPI); a 429 says `{"error": "rate_limit_exceeded", "message": "…", "retry_after": 5}` (BFL
 * API guide, rate-limiting.md). Read on a best-effort basis: a proxy's HTML page leaves the status
 * to decide.
 */
const ErrorBodySchema = z.looseObject({
  detail: z.union([z.string(), z.array(z.looseObject({ loc: z.array(z.union([z.string(), z.number()])).optional(), msg: z.string().optional() }))]).optional(),
  error: z.string().optional(),
  message: z.string().optional(),
  retry_after: z.coerce.number().positive().optional(),
});

/** Turns a non-200 answer of BFL into a GatewayError. `stage` says whether a task was being created or polled. */
export function bflHttpError(status: number, headers: Headers, text: string, stage: 'submit' | 'poll'): GatewayError {
  const parsed = ErrorBodySchema.safeParse(tryJson(text));
  const body = parsed.success ? parsed.data : {};
  const detail = describe(body) ?? `HTTP ${status}`;
  if (status === 402) {
    // "Payment Required: add credits" (BFL API guide, endpoints.md): the operator's account, not the request.
    return new GatewayError(
      'upstream_configuration_error',
      'The upstream provider (bfl) refused the task: the account has no credits left; the operator has been alerted.',
      {
        cause: detail,
      },
    );
  }
  if (status === 429) {
    // BFL limits tasks in flight (24 per key, 6 for Kontext [max]) and says how long to wait in
    // the body; a Retry-After header, when a proxy adds one, wins.
    const waitMs = retryAfterMs(headers) ?? (body.retry_after === undefined ? undefined : body.retry_after * 1000);
    return new GatewayError('rate_limit_exceeded', 'The upstream provider (bfl) has too many tasks in flight; retry later.', {
      retryable: true,
      ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
      cause: detail,
    });
  }
  if (status === 404 && stage === 'poll') {
    // A poll of a task BFL does not know (yet, or any more): a fresh task may well succeed.
    return new GatewayError('upstream_error', 'The upstream provider (bfl) does not know the task being polled.', { retryable: true, cause: detail });
  }
  return errorForStatus('bfl', status, headers, detail);
}

/** `width: Input should be a multiple of 32` from FastAPI's list, or the plain detail. */
function describe(body: z.infer<typeof ErrorBodySchema>): string | undefined {
  if (typeof body.detail === 'string') return body.detail;
  if (Array.isArray(body.detail) && body.detail.length > 0) {
    return body.detail
      .slice(0, 3)
      .map((item) => {
        const field = (item.loc ?? []).filter((part) => part !== 'body').join('.');
        return field === '' ? (item.msg ?? 'invalid') : `${field}: ${item.msg ?? 'invalid'}`;
      })
      .join('; ');
  }
  return body.message ?? body.error;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
