import { Catalog, MODELS } from '../../src/catalog/index.ts';
import { validateGeneration } from '../../src/contract/generation.ts';
import type { GenerationRequest } from '../../src/contract/generation-request.ts';

export const catalog = new Catalog(MODELS);

/** A validated request, as the contract step hands it on. */
export function requestFor(body: Record<string, unknown>): GenerationRequest {
  return validateGeneration(body, { catalog, defaultModel: 'gpt-image-1', unsupportedParams: 'error' });
}
