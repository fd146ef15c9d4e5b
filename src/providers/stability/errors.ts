import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const PROVIDER = 'stability';

/**
 * Stability's error body, JSON whatever `Accept` said: `{id, name, errors: [...]}`, e.g.
 * `{"id":"…","name":"bad_request","errors":["prompt: cannot be empty"]}` (API reference,
 * "Errors"; provider notes §5). Unknown keys pass.
 */
const ErrorBodySchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  errors: z.array(z.string()).optional(),
  message: z.string().optional(),
});

/**
 * Stability locks a key out for 60 seconds once it passes 150 requests in 10 seconds, and sends
 * no Retry-After with the 429 (API reference, "Rate limit"): that minute is its own retry hint.
 */
const RATE_LIMIT_LOCKOUT_SECONDS = 60;

/** What an error answer says, for the client (4xx about the request) and the log. */
export interface StabilityErrorBody {
  readonly id: string | undefined;
  readonly name: string | undefined;
  /** `errors` joined, or the status when the body is none of Stability's (a proxy's page). */
  readonly detail: string;
  /** Whether the body is Stability's own `{name, errors}`. */
  readonly fromStability: boolean;
}

export function readErrorBody(status: number, text: string): StabilityErrorBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: the status decides.
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (!parsed.success || (parsed.data.name === undefined && parsed.data.errors === undefined)) {
    return { id: undefined, name: undefined, detail: `HTTP ${status}`, fromStability: false };
  }
  const { id, name, errors, message } = parsed.data;
  const said = errors !== undefined && errors.length > 0 ? errors.join('; ') : (message ?? `HTTP ${status}`);
  return { id, name, detail: name === undefined ? said : `${said} (${name})`, fromStability: true };
}

/**
 * Turns a Stability error answer into a GatewayError (API reference, "Errors"):
 * - 403 is Stability's moderation ("Your request was flagged by our content moderation system",
 *   `name: content_moderation`): a refusal, not a credentials problem. A 403 whose body is not
 *   Stability's (a proxy or firewall in front of it) is read the usual way;
 * - 402 `payment_required` (the account ran out of credits) is the operator's to fix;
 * - 413 (over the 10 MiB request limit) is the client's payload;
 * - 429 waits as long as Stability locks a key out, unless it says otherwise;
 * - 400 and 422 (`bad_request`, a language it does not take) carry Stability's own words.
 */
export function stabilityError(status: number, headers: Headers, body: StabilityErrorBody): GatewayError {
  if (body.name === 'content_moderation' || (status === 403 && body.fromStability)) return contentPolicyError(PROVIDER, body.detail);
  if (status === 402) {
    return new GatewayError('upstream_configuration_error', `The upstream provider (${PROVIDER}) account has no credits left; the operator has been alerted.`);
  }
  if (status === 413) {
    return new GatewayError('payload_too_large', `The upstream provider (${PROVIDER}) takes requests of at most 10 MiB: ${body.detail}`);
  }
  if (status === 429) {
    const waitMs = retryAfterMs(headers);
    return new GatewayError('rate_limit_exceeded', `The upstream provider (${PROVIDER}) is rate limiting requests; retry later.`, {
      retryable: true,
      retryAfterSeconds: waitMs === undefined ? RATE_LIMIT_LOCKOUT_SECONDS : Math.max(1, Math.ceil(waitMs / 1000)),
    });
  }
  return errorForStatus(PROVIDER, status, headers, body.detail);
}
