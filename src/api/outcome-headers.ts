import type { GenerateOutcome } from '../images/generate-images.ts';

/** The headers every images answer carries: who served it, after how many calls, at what cost. */
export function outcomeHeaders(outcome: GenerateOutcome): Record<string, string> {
  return {
    'x-imagegate-provider': outcome.provider,
    'x-imagegate-channel': outcome.channel,
    'x-imagegate-attempts': String(outcome.attempts),
    'x-imagegate-cost-usd': (outcome.costMicroUsd / 1_000_000).toFixed(6),
  };
}
