import type { EditRequest } from './edit.ts';
import type { GenerationRequest } from './generation-request.ts';
import type { VariationRequest } from './variation.ts';

/** Any validated images request, told apart by `operation`: what the use case and the router take. */
export type ImagesRequest = GenerationRequest | EditRequest | VariationRequest;

export type ImagesOperation = ImagesRequest['operation'];
