import type { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The common meaning of an upstream HTTP status, for providers whose errors need no special
 * reading. `detail` is the upstream's message: shown to the client for 4xx that are about the
 * request, logged only for the rest. Never contains our credentials (upstreams do not echo them).
 */
export function errorForStatus(provider: string, status: number, headers: Headers, detail: string): GatewayError {
  if (status === 401 || status === 403) {
    return new GatewayError(
      'upstream_configuration_error',
      `The gateway's credentials for an upstream provider (${provider}) were refused; the operator has been alerted.`,
    );
  }
  if (status === 429) {
    const waitMs = retryAfterMs(headers);
    return new GatewayError('rate_limit_exceeded', `The upstream provider (${provider}) is rate limiting requests; retry later.`, {
      retryable: true,
      ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
    });
  }
  if (status === 408 || status >= 500) {
    const waitMs = retryAfterMs(headers);
    return new GatewayError('upstream_error', `The upstream provider (${provider}) failed with HTTP ${status}.`, {
      retryable: true,
      ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
    });
  }
  if (status === 404) {
    return new GatewayError('upstream_configuration_error', `The upstream provider (${provider}) does not know the configured model or path.`);
  }
  return new GatewayError('invalid_value', `The upstream provider (${provider}) rejected the request: ${truncate(detail)}`);
}

export function contentPolicyError(provider: string, detail: string): GatewayError {
  return new GatewayError(
    'content_policy_violation',
    `Your request was rejected by the safety system of the upstream provider (${provider}): ${truncate(detail)}`,
  );
}

export function malformedResponse(provider: string, what: string, cause?: unknown): GatewayError {
  return new GatewayError('upstream_malformed', `The upstream provider (${provider}) sent a malformed response: ${what}.`, {
    retryable: true,
    cause,
  });
}

function truncate(text: string): string {
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

/**
 * Parses an upstream answer against a zod schema of its real wire shape: the typed value, or a
 * retryable `upstream_malformed` error whose cause (logged, never shown) says which fields were off.
 */
export function parseWire<T>(provider: string, schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const detail = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
  throw malformedResponse(provider, `${what} does not have the documented shape (${detail})`, parsed.error);
}
