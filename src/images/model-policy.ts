import { GatewayError } from '../errors.ts';
import type { ApiKey } from '../keys/api-key.ts';

/** A key limited to some models may call only those (403, naming the ones it may use). */
export function assertModelAllowed(apiKey: ApiKey, modelId: string): void {
  const allowed = apiKey.allowedModelIds;
  if (allowed === null || allowed.has(modelId)) return;
  throw new GatewayError('model_not_allowed', `This API key may not use '${modelId}'; it may use ${[...allowed].join(', ')}.`, { param: 'model' });
}
