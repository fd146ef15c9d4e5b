import type { ApiKeyRow } from '../db/schema.ts';
import { GatewayError } from '../errors.ts';

/** A key limited to some models may call only those (403, naming the ones it may use). */
export function assertModelAllowed(apiKey: ApiKeyRow, modelId: string): void {
  if (apiKey.allowed_models === null) return;
  const allowed = JSON.parse(apiKey.allowed_models) as string[];
  if (!allowed.includes(modelId)) {
    throw new GatewayError('model_not_allowed', `This API key may not use '${modelId}'; it may use ${allowed.join(', ')}.`, { param: 'model' });
  }
}
