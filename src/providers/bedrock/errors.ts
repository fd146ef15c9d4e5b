import type { BedrockRuntimeServiceException } from '@aws-sdk/client-bedrock-runtime';
import { GatewayError } from '../../errors.ts';
import { retryAfterMs } from '../../http/retry-after.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

const PROVIDER = 'bedrock';

/**
 * What Bedrock says when its (or the model's) content filters block a request or an image, in a
 * 400 ValidationException: Nova Canvas and Titan "This request has been blocked by our content
 * filters." / "The generated image has been blocked by our content filters." (Nova user guide,
 * "Error handling"; Titan "Our filters automatically flagged this prompt because it may conflict
 * our AUP or AWS Responsible AI Policy"), guardrail interventions "blocked by guardrail".
 */
const CONTENT_FILTER = /content filters?|blocked by (?:our|the|a) (?:content|guardrail)|responsible ai|\bAUP\b|guardrail/i;

/**
 * Turns an error out of `BedrockRuntimeClient.send` into a GatewayError (Bedrock API reference,
 * InvokeModel "Errors"):
 * - ValidationException (400): a refusal when its message is the content filter's, else the
 *   request's fault, with Bedrock's words;
 * - ThrottlingException (429) and ServiceQuotaExceededException: retryable rate limits, waiting
 *   as long as a Retry-After says (Bedrock documents none, so usually the router's backoff);
 * - AccessDeniedException (403) and the unmodelled signature and token errors
 *   (UnrecognizedClientException, InvalidSignatureException, ExpiredTokenException): the
 *   operator's credentials or model access, never the client's;
 * - ResourceNotFoundException (404): the channel maps to a model id this region does not have;
 * - ServiceUnavailableException (503), ModelNotReadyException (429, the model is being loaded),
 *   ModelTimeoutException (408), ModelErrorException (424), InternalServerException (500):
 *   retryable upstream errors;
 * - the SDK finding no credentials at all (CredentialsProviderError): a configuration error.
 * GatewayErrors raised by the HTTP handler (connection resets, cut bodies) pass through.
 * `ServiceException` is the SDK's base class for service errors (the SDK is loaded on first use).
 */
export function bedrockError(err: unknown, ServiceException: typeof BedrockRuntimeServiceException): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ServiceException) return serviceError(err);
  if (err instanceof Error && err.name === 'CredentialsProviderError') {
    return new GatewayError(
      'upstream_configuration_error',
      `The gateway has no AWS credentials for an upstream provider (${PROVIDER}); the operator has been alerted.`,
      {
        cause: err,
      },
    );
  }
  return new GatewayError('upstream_error', `The call to the upstream provider (${PROVIDER}) failed.`, { retryable: true, cause: err });
}

function serviceError(err: BedrockRuntimeServiceException): GatewayError {
  const status = err.$metadata.httpStatusCode ?? 500;
  const headers = err.$response?.headers ?? {};
  const detail = `${err.message} (${err.name})`;
  switch (err.name) {
    case 'ValidationException':
      if (CONTENT_FILTER.test(err.message)) return contentPolicyError(PROVIDER, err.message);
      return new GatewayError('invalid_value', `The upstream provider (${PROVIDER}) rejected the request: ${err.message}`, { cause: err });
    case 'ThrottlingException':
    case 'ServiceQuotaExceededException': {
      const waitMs = retryAfterMs(headers);
      return new GatewayError('rate_limit_exceeded', `The upstream provider (${PROVIDER}) is rate limiting requests; retry later.`, {
        retryable: true,
        cause: err,
        ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
      });
    }
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return errorForStatus(PROVIDER, 403, headers, detail);
    case 'ResourceNotFoundException':
      return errorForStatus(PROVIDER, 404, headers, detail);
    case 'ServiceUnavailableException':
    case 'ModelNotReadyException':
    case 'ModelTimeoutException':
    case 'ModelErrorException':
    case 'InternalServerException': {
      const waitMs = retryAfterMs(headers);
      return new GatewayError('upstream_error', `The upstream provider (${PROVIDER}) failed: ${err.name}.`, {
        retryable: true,
        cause: err,
        ...(waitMs === undefined ? {} : { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }),
      });
    }
    default:
      // Any other (unmodelled) error: its status says what it means.
      return errorForStatus(PROVIDER, status, headers, detail);
  }
}
