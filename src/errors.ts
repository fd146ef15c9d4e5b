/**
 * The one error type a client can cause or see. Every code maps to exactly one HTTP status and
 * one OpenAI `type`, so a route never decides a status on its own; `renderError` is the only
 * place that turns an error into the OpenAI envelope `{"error":{message,type,param,code}}`.
 */

interface CodeSpec {
  readonly status: number;
  readonly type: string;
  /**
   * `x-should-retry`, which the official SDKs obey over their own status rules (openai-node's
   * `shouldRetry`): false where a retry cannot change the answer (a budget, a revoked key, a bad
   * request), true where it can (rate limits, overload, upstream faults). Absent: no header.
   */
  readonly shouldRetry?: boolean;
}

/** The closed set of error codes. Adding one means adding it here, with its status. */
export const ERROR_CODES = {
  invalid_json: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  invalid_type: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  invalid_value: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  missing_required_parameter: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  unknown_parameter: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  unsupported_parameter: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  content_policy_violation: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  /** The HTTP parser refused the bytes (bad framing, bad chunking, no Host). */
  malformed_request: { status: 400, type: 'invalid_request_error', shouldRetry: false },
  /** Missing, wrong, revoked or expired key: the same key will fail again. */
  invalid_api_key: { status: 401, type: 'invalid_request_error', shouldRetry: false },
  invalid_signature: { status: 403, type: 'invalid_request_error', shouldRetry: false },
  model_not_allowed: { status: 403, type: 'invalid_request_error', shouldRetry: false },
  model_not_found: { status: 404, type: 'invalid_request_error', shouldRetry: false },
  not_found: { status: 404, type: 'invalid_request_error', shouldRetry: false },
  /** The first request with this Idempotency-Key is still running: retrying later replays it. */
  idempotency_conflict: { status: 409, type: 'invalid_request_error', shouldRetry: true },
  method_not_allowed: { status: 405, type: 'invalid_request_error', shouldRetry: false },
  /** The request (its headers or body) did not arrive within the server's time limit. */
  request_timeout: { status: 408, type: 'invalid_request_error', shouldRetry: true },
  url_expired: { status: 410, type: 'invalid_request_error', shouldRetry: false },
  payload_too_large: { status: 413, type: 'invalid_request_error', shouldRetry: false },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', shouldRetry: false },
  expectation_failed: { status: 417, type: 'invalid_request_error', shouldRetry: false },
  idempotency_key_reused: { status: 422, type: 'invalid_request_error', shouldRetry: false },
  request_header_fields_too_large: { status: 431, type: 'invalid_request_error', shouldRetry: false },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', shouldRetry: true },
  /** A budget that cannot cover the request: no retry can, until someone raises it. */
  insufficient_quota: { status: 429, type: 'insufficient_quota', shouldRetry: false },
  server_error: { status: 500, type: 'server_error' },
  upstream_error: { status: 502, type: 'server_error', shouldRetry: true },
  /** The upstream answered, but not in its documented shape (retryable; the log says what was wrong). */
  upstream_malformed: { status: 502, type: 'server_error', shouldRetry: true },
  /** The upstream refused our own credentials (401/403): an operator has to fix the channel. */
  upstream_configuration_error: { status: 502, type: 'server_error', shouldRetry: false },
  service_unavailable: { status: 503, type: 'service_unavailable_error', shouldRetry: true },
  upstream_timeout: { status: 504, type: 'server_error', shouldRetry: true },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface GatewayErrorOptions {
  /** The request field at fault, in OpenAI's naming (`size`, `image[0]`). */
  readonly param?: string | null;
  /** Seconds a client should wait before trying again; sent as `Retry-After`. */
  readonly retryAfterSeconds?: number;
  /** Whether the router may try this failure again (upstream faults only). */
  readonly retryable?: boolean;
  /** Not shown to the client; logged. */
  readonly cause?: unknown;
  /** Headers the refusal's answer carries (`x-ratelimit-*` on a 429). */
  readonly headers?: Readonly<Record<string, string>>;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly retryAfterSeconds: number | undefined;
  readonly retryable: boolean;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.param = options.param ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.retryable = options.retryable ?? false;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get type(): string {
    return ERROR_CODES[this.code].type;
  }

  /** Whether a client should retry this refusal as it is, from the code table; null: no advice. */
  get shouldRetry(): boolean | null {
    const spec: CodeSpec = ERROR_CODES[this.code];
    return spec.shouldRetry ?? null;
  }
}

/**
 * The headers every error answer carries beside its envelope: `Retry-After` when the error names
 * a wait, `x-should-retry` from the code table. Unknown errors (our bugs, rendered as a generic
 * 500) get no advice: the SDKs' own rule (retry 5xx a few times) is right for them.
 */
export function errorHeaders(err: unknown): Record<string, string> {
  if (!(err instanceof GatewayError)) return {};
  const headers: Record<string, string> = { ...err.headers };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfterSeconds)));
  if (err.shouldRetry !== null) headers['x-should-retry'] = String(err.shouldRetry);
  return headers;
}

export interface ErrorEnvelope {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/**
 * Renders any thrown value as the OpenAI envelope. Errors that are not `GatewayError` are our
 * bugs: the client gets a generic 500 naming the request id, the details go to the log only.
 */
export function renderError(err: unknown, requestId: string): { status: number; body: ErrorEnvelope } {
  if (err instanceof GatewayError) {
    return {
      status: err.status,
      body: { error: { message: err.message, type: err.type, param: err.param, code: err.code } },
    };
  }
  return {
    status: 500,
    body: {
      error: {
        message: `The server had an error while processing your request (request id ${requestId}). Please retry.`,
        type: 'server_error',
        param: null,
        code: 'server_error',
      },
    },
  };
}
