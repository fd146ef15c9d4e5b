import { type ErrorCode, GatewayError } from '../errors.ts';
import type { RefusalReason } from '../observe/metrics.ts';
import type { Caller, ImagesDeps, ImagesOutcome, ImagesRequest } from './types.ts';

/**
 * Refusals at admission, by error code: the key's model policy, rate and concurrency limits, and
 * budget. A 429 from an upstream is not one of them (it is an upstream attempt's outcome, counted
 * by the router); only content policy is a refusal when it comes back from the upstream.
 */
const ADMISSION_REFUSALS: Partial<Readonly<Record<ErrorCode, RefusalReason>>> = {
  model_not_allowed: 'model_not_allowed',
  rate_limit_exceeded: 'rate_limit',
  insufficient_quota: 'budget',
  content_policy_violation: 'content_policy',
};

export interface ImagesWatch {
  /** The admission step (policy, limits, hold), its refusals counted. */
  admit<T>(step: Promise<T>): Promise<T>;
  /** The upstream and delivery step, its content-policy refusals counted. */
  produce<T>(step: Promise<T>): Promise<T>;
  /** What was delivered and charged, once the charge is written. */
  delivered(outcome: Pick<ImagesOutcome, 'provider' | 'channel' | 'attempts' | 'records'>, images: number, costMicroUsd: number): void;
}

/**
 * The use case's reports, for metrics and the request's access log line, kept beside it so that
 * `run-images.ts` says only where each step starts and ends.
 */
export function watchImages(deps: Pick<ImagesDeps, 'metrics'>, request: ImagesRequest, caller: Caller): ImagesWatch {
  const model = request.model.id;
  caller.report?.({ model, n: request.n, prompt: request.prompt });
  const refused = (err: unknown, admission: boolean): void => {
    if (!(err instanceof GatewayError)) return;
    const reason = admission ? ADMISSION_REFUSALS[err.code] : err.code === 'content_policy_violation' ? 'content_policy' : undefined;
    if (reason !== undefined) deps.metrics.requestRefused({ model, reason });
  };
  const step =
    (admission: boolean) =>
    async <T>(work: Promise<T>): Promise<T> => {
      try {
        return await work;
      } catch (err) {
        refused(err, admission);
        throw err;
      }
    };
  return {
    admit: step(true),
    produce: step(false),
    delivered: (outcome, images, costMicroUsd) => {
      const { provider, channel, attempts } = outcome;
      if (images > 0) {
        const bytes = outcome.records.slice(0, images).reduce((sum, record) => sum + record.size_bytes, 0);
        deps.metrics.imagesDelivered({ model, provider, channel, images, bytes, costUsd: costMicroUsd / 1_000_000 });
      }
      caller.report?.({ provider, channel, attempts, imagesDelivered: images, costMicroUsd });
    },
  };
}
