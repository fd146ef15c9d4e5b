import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Replicate's error bodies are problem details (HTTP API reference): `{title, detail, status}`,
 * 422 with `invalid_fields: [{type, field, description}]`; a 429 says
 * `{"detail": "Request was throttled. Your rate limit resets in ~30s."}` (topics/predictions/
 * rate-limits) with a Retry-After header; some carry a `retry_after` number. Read on a best-effort
 * basis: a proxy's HTML page leaves the status to decide.
 */
const ProblemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.string().optional(),
  invalid_fields: z.array(z.looseObject({ field: z.string().optional(), description: z.string().optional() })).optional(),
  retry_after: z.coerce.number().positive().optional(),
});

/** "resets in ~30s" in a throttling detail: the wait Replicate names when it sends no header. */
const RESETS_IN = /resets in ~?(\d+(?:\.\d+)?)\s*s/i;

/** Turns a non-2xx answer of Replicate into a GatewayError. */
export function replicateHttpError(status: number, headers: Headers, text: string): GatewayError {
  const parsed = ProblemSchema.safeParse(tryJson(text));
  const body = parsed.success ? parsed.data : {};
  const detail = describe(body) ?? `HTTP ${status}`;
  if (status === 422) {
    // Input validation ("input.aspect_ratio: must be one of …"): the request as mapped is not
    // one the model takes. A client error, shown with Replicate's words.
    const field = body.invalid_fields?.[0]?.field?.replace(/^input\./, '');
    return new GatewayError('invalid_value', `The upstream provider (replicate) rejected the request: ${detail}`, field === undefined ? {} : { param: field });
  }
  if (status === 402) {
    // "Insufficient credit" is the operator's account, not the request.
    return new GatewayError(
      'upstream_configuration_error',
      'The upstream provider (replicate) refused the prediction: the account is out of credit; the operator has been alerted.',
      {
        cause: detail,
      },
    );
  }
  if (status === 429) {
    const fromBody = body.retry_after ?? secondsIn(body.detail);
    const waitMs = retryAfterMs(headers) ?? (fromBody === undefined ? undefined : fromBody * 1000);
    return new GatewayError('rate_limit_exceeded', 'The upstream provider (replicate) is throttling requests; retry later.', {
      retryable: true,
      ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
      cause: detail,
    });
  }
  return errorForStatus('replicate', status, headers, detail);
}

/**
 * Safety checkers on Replicate fail the prediction with an error text, e.g. flux's "NSFW content
 * detected. Try running it again, or try a different prompt." (provider notes §6, §10.5), or
 * Kontext's "… flagged as sensitive (E005)". Those are refusals; anything else is a failure.
 */
const REFUSAL = /\bnsfw\b|flagged as sensitive|\(E005\)/i;

/** What a prediction that ended without images means. */
export function failedPredictionError(status: string, error: unknown): GatewayError {
  const text = errorText(error);
  if (status === 'failed' && text !== null && REFUSAL.test(text)) return contentPolicyError('replicate', text);
  if (status === 'canceled' || status === 'aborted') {
    // Nobody here cancelled it (an abandoned request never reads the answer): Cancel-After struck,
    // or someone cancelled it on Replicate's side. A fresh attempt may finish in time.
    return new GatewayError('upstream_error', `The upstream provider (replicate) ${status === 'aborted' ? 'aborted' : 'canceled'} the prediction.`, {
      retryable: true,
    });
  }
  // A model error (out of memory, a crash in the model's code): their side, worth another try.
  return new GatewayError('upstream_error', `The upstream provider (replicate) failed the prediction${text === null ? '' : `: ${text.slice(0, 300)}`}.`, {
    retryable: true,
  });
}

function errorText(error: unknown): string | null {
  if (typeof error === 'string') return error === '' ? null : error;
  if (error === null || error === undefined) return null;
  const parsed = z.looseObject({ detail: z.string().optional(), message: z.string().optional() }).safeParse(error);
  return parsed.success ? (parsed.data.detail ?? parsed.data.message ?? null) : null;
}

function describe(body: z.infer<typeof ProblemSchema>): string | undefined {
  const fields = (body.invalid_fields ?? [])
    .slice(0, 3)
    .map((item) => [item.field, item.description].filter((part) => part !== undefined && part !== '').join(': '))
    .filter((line) => line !== '');
  if (fields.length > 0) return fields.join('; ');
  return body.detail ?? body.title;
}

function secondsIn(detail: string | undefined): number | undefined {
  const match = detail === undefined ? null : RESETS_IN.exec(detail);
  return match === null ? undefined : Number(match[1]);
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
