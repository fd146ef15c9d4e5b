import { GatewayError } from '../../errors.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/*
 * Ark's error codes (Volcengine Ark error-code page, docs/82379/1299023) come as
 * `{"error": {"code", "message", "param", "type"}}`: with an HTTP error status, inside an HTTP 200
 * (the image API's answer documents a top-level `error`), and per image in `data[]` when one
 * picture of a set fails (image generation API reference, docs/82379/1541523).
 */

/**
 * Ark's moderation refusing the prompt, a reference image or the picture it drew: the
 * `*SensitiveContentDetected*` family (InputTextSensitiveContentDetected,
 * InputImageSensitiveContentDetected(.PrivacyInformation), OutputImageSensitiveContentDetected,
 * SensitiveContentDetected.SevereViolation …) and the ContentSecurityDetection refusals
 * (`InputTextRiskDetection`, `OutputImageRiskDetection` …). `ContentSecurityDetectionError` is the
 * checker failing, not a refusal, and is left to the status.
 */
export function isPolicyCode(code: string): boolean {
  return /SensitiveContentDetected|RiskDetection$/.test(code);
}

/**
 * Codes that Ark sends with 429 or 400 but that no retry cures: the free quota is used up
 * (QuotaExceeded), the account's own spending cap paused the model (SetLimitExceeded, "safe
 * experience mode"), or the endpoint was closed (InvalidEndpoint.ClosedEndpoint). The operator
 * has to act, so they are configuration errors and the router moves on to the next channel.
 */
const OPERATOR_CODES = /^(QuotaExceeded|SetLimitExceeded|InvalidEndpoint\.ClosedEndpoint|AccountOverdueError|ServiceNotOpen|ModelNotOpen|OperationDenied)/;

/** Turns an Ark error `{code, message}` into a GatewayError; the code decides before the status. */
export function arkError(status: number, headers: Headers, code: string, message: string): GatewayError {
  const detail = message === '' ? code : message;
  if (isPolicyCode(code)) return contentPolicyError('ark', detail);
  if (OPERATOR_CODES.test(code)) {
    return new GatewayError(
      'upstream_configuration_error',
      `The upstream provider (ark) refused the channel's account (${code}); the operator has been alerted.`,
      {
        cause: detail,
      },
    );
  }
  return errorForStatus('ark', statusForCode(status, code), headers, code === '' ? detail : `${code}: ${detail}`);
}

/** The HTTP status an Ark code stands for, for errors that arrive in an HTTP 200 or per image. */
function statusForCode(status: number, code: string): number {
  if (code === 'AuthenticationError') return 401;
  if (code.startsWith('AccessDenied') || code.startsWith('PermissionDenied')) return 403;
  if (code.startsWith('InvalidEndpointOrModel') || code.startsWith('InvalidEndpoint.NotFound')) return 404;
  if (/RateLimitExceeded|^ServerOverloaded|^InflightBatchsizeExceeded|^TooManyRequests/.test(code)) return 429;
  if (/^(InternalServiceError|ContentSecurityDetectionError|InternalError)/.test(code)) return 500;
  if (status >= 400) return status;
  if (/^(MissingParameter|InvalidParameter|InvalidArgumentError|InvalidImageURL|BadRequest)/.test(code)) return 400;
  // An unknown code in a 200, or a picture that failed for a reason Ark does not name: their
  // fault as far as we can tell, so worth another try.
  return 500;
}
