import type { ImagesOutcome } from '../images/types.ts';
import { imagesResponseBody } from '../images/images-response-body.ts';
import { storedBody } from '../images/stored-body.ts';
import type { ProducedResponse } from './idempotency.ts';

/** The headers every images answer carries: who served it, after how many calls, at what cost. */
export function outcomeHeaders(outcome: ImagesOutcome): Record<string, string> {
  return {
    ...outcome.rateHeaders,
    'x-imagegate-provider': outcome.provider,
    'x-imagegate-channel': outcome.channel,
    'x-imagegate-attempts': String(outcome.attempts),
    'x-imagegate-cost-usd': (outcome.costMicroUsd / 1_000_000).toFixed(6),
    ...(outcome.deliveredSizeDiffers ? { 'x-imagegate-delivered-size': `${outcome.size.width}x${outcome.size.height}` } : {}),
    ...(outcome.droppedParams.length > 0 ? { 'x-imagegate-dropped-params': outcome.droppedParams.join(', ') } : {}),
  };
}

/** A finished request as the route answers it, with the form an idempotent replay keeps. */
export function imagesAnswer(outcome: ImagesOutcome): ProducedResponse {
  return { status: 200, headers: outcomeHeaders(outcome), body: imagesResponseBody(outcome.body), kept: storedBody(outcome.body, outcome.records) };
}
