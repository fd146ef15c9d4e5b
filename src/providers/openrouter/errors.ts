import { z } from 'zod';
import { GatewayError } from '../../errors.ts';
import { contentPolicyError, errorForStatus } from '../shared/upstream-errors.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/**
 * OpenRouter's error object, `{code, message, metadata?}` (openrouter.ai/docs, "Errors and
 * Debugging"); a moderation refusal's metadata holds `reasons`, `flagged_input`,
 * `provider_name` and `model_slug`, a provider's failure `provider_name` and `raw`.
 */
export const ErrorObjectSchema = z.looseObject({
  code: z.union([z.number(), z.string()]).nullish(),
  message: z.string().nullish(),
  metadata: z
    .looseObject({
      reasons: z.array(z.string()).nullish(),
      flagged_input: z.string().nullish(),
      provider_name: z.string().nullish(),
    })
    .nullish(),
});
export type ErrorObject = z.infer<typeof ErrorObjectSchema>;

const ErrorBodySchema = z.looseObject({ error: ErrorObjectSchema });

/** The error object of an error answer, or null when the body is not one (a proxy's page). */
export function readErrorBody(text: string): ErrorObject | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = ErrorBodySchema.safeParse(json);
  return parsed.success ? parsed.data.error : null;
}

/**
 * An OpenRouter error as a GatewayError, by OpenRouter's codes: 402 is the operator's account out
 * of credits (a configuration error, never the client's 4xx), 403 is "your chosen model requires
 * moderation and your input was flagged" (a refusal), 408/429/502/503 are worth another try; the
 * rest keep their usual meaning (a 403 that is no moderation refusal is a refused key). `status` is the HTTP status, or the error's `code` when the error
 * came inside an HTTP 200.
 */
export function openrouterError(status: number, headers: Headers, error: ErrorObject | null): GatewayError {
  const message = error?.message ?? `HTTP ${status}`;
  const reasons = error?.metadata?.reasons ?? [];
  if (status === 403 && (reasons.length > 0 || error?.metadata?.flagged_input != null || /flagged|moderation/i.test(message))) {
    return contentPolicyError('openrouter', reasons.length > 0 ? `${message} (${reasons.join(', ')})` : message);
  }
  if (status === 402) {
    return new GatewayError(
      'upstream_configuration_error',
      "The gateway's account with an upstream provider (openrouter) is out of credits; the operator has been alerted.",
      { cause: message },
    );
  }
  return errorForStatus('openrouter', status, headers, message);
}
