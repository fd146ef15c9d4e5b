import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ModelSpec } from '../catalog/index.ts';
import type { GenerationRequest } from '../contract/generation-request.ts';
import { GatewayError } from '../errors.ts';
import type { BreakerBoard } from '../limits/index.ts';
import type { CallContext, Channel, PartialImage, ProviderAdapter, ProviderImage, ProviderResult } from '../providers/types.ts';
import { channelSecrets, scrubGatewayError } from '../providers/shared/scrub-secrets.ts';
import { backoffDelayMs } from './backoff.ts';
import { type BreakerSettings, CircuitBreaker } from './circuit-breaker.ts';
import { Semaphore } from '../http/semaphore.ts';

export interface RoutingSettings {
  readonly fallbackToLocal: boolean;
  readonly deadlineMs: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly maxRetryAfterMs: number;
  readonly breaker: BreakerSettings;
}

/** A configured channel with its adapter and its share of traffic. */
export interface RoutedChannel {
  readonly channel: Channel;
  readonly adapter: ProviderAdapter;
  readonly priority: number;
  readonly weight: number;
  readonly maxConcurrency: number;
}

export interface RouteContext {
  readonly signal: AbortSignal;
  readonly requestId: string;
  /** Streamed requests: where partial images go (to the client, as they arrive). */
  readonly onPartial?: (partial: PartialImage) => void;
}

export interface RouteOutcome {
  readonly result: ProviderResult;
  /** The channel that produced the first image (the one named in response headers). */
  readonly channel: Channel;
  /** Upstream calls made, retries and fan-out included. */
  readonly attempts: number;
}

/**
 * How one upstream call is made for a request: `generate`, or another adapter method (`edit`,
 * `variation`). Channels whose adapter does not `support` the operation are skipped.
 */
export interface AdapterOperation<R extends GenerationRequest> {
  /** For messages: "edit images". */
  readonly name: string;
  supports(adapter: ProviderAdapter): boolean;
  call(adapter: ProviderAdapter, request: R, channel: Channel, ctx: CallContext): Promise<ProviderResult>;
}

const GENERATE: AdapterOperation<GenerationRequest> = {
  name: 'generate images',
  supports: () => true,
  call: async (adapter, request, channel, ctx) => adapter.generate(request, channel, ctx),
};

interface ChannelState {
  readonly routed: RoutedChannel;
  readonly breaker: CircuitBreaker;
  readonly slots: Semaphore;
}

/**
 * Picks the upstreams for each request and survives their failures: channels by priority, then
 * weight; one deadline over everything; retries with backoff and jitter only for retryable
 * failures; `Retry-After` honoured within the deadline; fallback to the next channel; a breaker
 * and a concurrency cap per channel; `n` fanned out over several calls where a channel takes
 * fewer images per call.
 */
export class Router {
  readonly #byModel = new Map<string, ChannelState[]>();
  readonly #local: RoutedChannel | null;
  readonly #settings: RoutingSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #demoMode: boolean;
  readonly #board: BreakerBoard | null;

  constructor(options: {
    channels: readonly RoutedChannel[];
    local: RoutedChannel | null;
    settings: RoutingSettings;
    logger: Logger;
    now?: () => number;
    random?: () => number;
    /** Open breakers shared with other replicas (Redis), if any. */
    board?: BreakerBoard;
  }) {
    this.#board = options.board ?? null;
    this.#settings = options.settings;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#local = options.local;
    this.#demoMode = options.channels.length === 0;
    for (const routed of options.channels) {
      const state: ChannelState = {
        routed,
        breaker: new CircuitBreaker(options.settings.breaker, this.#now),
        slots: new Semaphore(routed.maxConcurrency),
      };
      for (const modelId of Object.keys(routed.channel.models)) {
        const list = this.#byModel.get(modelId) ?? [];
        list.push(state);
        this.#byModel.set(modelId, list);
      }
    }
  }

  /** The provider that serves a model first, for `/v1/models` and the startup log. */
  providerFor(model: ModelSpec): string {
    const states = this.#byModel.get(model.id);
    if (states !== undefined && states.length > 0) {
      const top = [...states].sort((a, b) => b.routed.priority - a.routed.priority)[0];
      if (top !== undefined) return top.routed.channel.provider;
    }
    return this.#localFor(model) === null ? 'none' : 'local';
  }

  async execute(request: GenerationRequest, ctx: RouteContext): Promise<RouteOutcome> {
    return this.executeOperation(request, ctx, GENERATE);
  }

  /** As `execute`, with another adapter method than `generate` (edits, variations). */
  async executeOperation<R extends GenerationRequest>(request: R, ctx: RouteContext, operation: AdapterOperation<R>): Promise<RouteOutcome> {
    const states = this.#statesFor(request.model).filter((state) => operation.supports(state.routed.adapter));
    if (states.length === 0) {
      throw new GatewayError('invalid_value', `No upstream channel configured for '${request.model.id}' can ${operation.name}.`, { param: 'model' });
    }
    const deadlineAtMs = this.#now() + this.#settings.deadlineMs;
    const deadline = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.#settings.deadlineMs)]);

    const perCall = Math.max(1, Math.min(...states.map((s) => s.routed.adapter.maxImagesPerCall(request.model))));
    const parts: number[] = [];
    for (let left = request.n; left > 0; left -= perCall) parts.push(Math.min(perCall, left));

    // Parts run in parallel; OpenAI never answers with fewer images than asked, so the first part
    // that finally fails cancels the others and fails the request (nothing is charged for it).
    const cancelParts = new AbortController();
    const partSignal = AbortSignal.any([deadline, cancelParts.signal]);
    const offsets = parts.map((_, i) => parts.slice(0, i).reduce((sum, count) => sum + count, 0));
    const outcomes = await Promise.all(
      parts.map((count, i) =>
        this.#runPart({ ...request, n: count }, states, deadlineAtMs, partSignal, { ...ctx, imageOffset: offsets[i] ?? 0 }, operation).catch((err: unknown) => {
          cancelParts.abort(err);
          throw err;
        }),
      ),
    ).catch((err: unknown) => {
      throw this.#finalError(err, ctx.signal, deadline);
    });

    const images: ProviderImage[] = outcomes.flatMap((o) => [...o.result.images]);
    const usages = outcomes.map((o) => o.result.usage);
    const first = outcomes[0];
    if (first === undefined) throw new GatewayError('server_error', 'No request part ran.');
    const usage = usages.every((u) => u !== undefined)
      ? usages.reduce((sum, u) => ({
          input_tokens: sum.input_tokens + u.input_tokens,
          input_tokens_details: {
            text_tokens: sum.input_tokens_details.text_tokens + u.input_tokens_details.text_tokens,
            image_tokens: sum.input_tokens_details.image_tokens + u.input_tokens_details.image_tokens,
          },
          output_tokens: sum.output_tokens + u.output_tokens,
          total_tokens: sum.total_tokens + u.total_tokens,
        }))
      : undefined;
    const deliveredSize = first.result.deliveredSize;
    return {
      result: { images, ...(usage === undefined ? {} : { usage }), ...(deliveredSize === undefined ? {} : { deliveredSize }) },
      channel: first.channel,
      attempts: outcomes.reduce((sum, o) => sum + o.attempts, 0),
    };
  }

  /** One part of a request through retries and fallback. */
  async #runPart<R extends GenerationRequest>(
    request: R,
    states: readonly ChannelState[],
    deadlineAtMs: number,
    signal: AbortSignal,
    ctx: RouteContext & { imageOffset: number },
    operation: AdapterOperation<R>,
  ): Promise<RouteOutcome> {
    let attempts = 0;
    let lastError: unknown;
    let shortestOpenMs = Number.POSITIVE_INFINITY;
    for (const state of this.#order(states)) {
      const { channel, adapter } = state.routed;
      for (let tryOnChannel = 0; attempts < this.#settings.maxAttempts; tryOnChannel += 1) {
        signal.throwIfAborted();
        const sharedOpenMs = this.#board?.openForMs(channel.id) ?? 0;
        if (sharedOpenMs > 0 && state.breaker.state === 'closed') {
          // Another replica found this channel failing: skip it here too until its cool-down ends.
          shortestOpenMs = Math.min(shortestOpenMs, sharedOpenMs);
          break;
        }
        if (!state.breaker.tryAcquire()) {
          shortestOpenMs = Math.min(shortestOpenMs, state.breaker.retryAfterMs());
          break;
        }
        let release: (() => void) | undefined;
        try {
          release = await state.slots.acquire(signal);
        } catch (err) {
          state.breaker.release();
          throw err;
        }
        attempts += 1;
        const attemptSignal = AbortSignal.any([signal, AbortSignal.timeout(Math.min(channel.timeoutMs, Math.max(1, deadlineAtMs - this.#now())))]);
        // Once a partial image has gone to the client the attempt cannot be taken back: no retry,
        // no fallback after that (the client would see two different pictures).
        let sentPartial = false;
        const forward = ctx.onPartial;
        const onPartial =
          forward === undefined
            ? undefined
            : (partial: PartialImage): void => {
                sentPartial = true;
                forward({ ...partial, imageIndex: partial.imageIndex + ctx.imageOffset });
              };
        try {
          const result = await operation.call(adapter, request, channel, {
            signal: attemptSignal,
            requestId: ctx.requestId,
            logger: this.#logger,
            ...(onPartial === undefined ? {} : { onPartial }),
          });
          state.breaker.record(true);
          if (result.images.length !== request.n) {
            throw new GatewayError('upstream_error', `The upstream returned ${result.images.length} images where ${request.n} were asked.`, {
              retryable: true,
            });
          }
          return { result, channel, attempts };
        } catch (raw) {
          const err = this.#classify(raw, signal, attemptSignal, channel);
          lastError = err;
          if (signal.aborted || sentPartial) throw err;
          if (!(err instanceof GatewayError)) {
            state.breaker.record(false);
            throw err;
          }
          const countsAgainstChannel = err.code !== 'content_policy_violation' && err.code !== 'rate_limit_exceeded' && err.status >= 500;
          if (countsAgainstChannel) {
            state.breaker.record(false);
            if (state.breaker.state === 'open') this.#board?.post(channel.id, state.breaker.retryAfterMs());
          } else state.breaker.release();
          if (err.code === 'upstream_configuration_error') {
            this.#logger.error({ channel: channel.id, provider: channel.provider, requestId: ctx.requestId }, `channel ${channel.id} rejected our credentials: check its apiKey`);
            break;
          }
          if (!err.retryable) throw err;
          this.#logger.warn({ channel: channel.id, code: err.code, attempt: attempts, requestId: ctx.requestId }, 'upstream attempt failed');
          if (attempts >= this.#settings.maxAttempts) break;
          const asked = err.retryAfterSeconds === undefined ? undefined : err.retryAfterSeconds * 1000;
          if (asked !== undefined && asked > this.#settings.maxRetryAfterMs) break; // too long: try the next channel
          const delayMs = asked ?? backoffDelayMs(tryOnChannel, this.#settings.backoffBaseMs, this.#settings.backoffMaxMs, this.#random);
          if (this.#now() + delayMs >= deadlineAtMs) break;
          await sleep(delayMs, undefined, { signal });
        } finally {
          release();
        }
      }
      if (attempts >= this.#settings.maxAttempts) break;
    }
    if (lastError !== undefined) throw lastError;
    throw new GatewayError('service_unavailable', `Every upstream channel for '${request.model.id}' is failing; retry shortly.`, {
      retryAfterSeconds: Number.isFinite(shortestOpenMs) ? Math.max(1, Math.ceil(shortestOpenMs / 1000)) : 1,
    });
  }

  /**
   * Upstream errors stay as the adapter typed them, scrubbed of the channel's secrets and of
   * credential-shaped text (upstreams echo what they were sent); an attempt's own timeout becomes
   * retryable.
   */
  #classify(err: unknown, requestSignal: AbortSignal, attemptSignal: AbortSignal, channel: Channel): unknown {
    if (err instanceof GatewayError) return scrubGatewayError(err, channelSecrets(channel));
    if (!requestSignal.aborted && attemptSignal.aborted) {
      return new GatewayError('upstream_timeout', `The upstream (${channel.id}) did not answer in time.`, { retryable: true, cause: err });
    }
    return err;
  }

  #finalError(err: unknown, clientSignal: AbortSignal, deadline: AbortSignal): unknown {
    if (clientSignal.aborted) return clientSignal.reason;
    if (deadline.aborted && !(err instanceof GatewayError && !err.retryable)) {
      return new GatewayError('upstream_timeout', `The request did not finish within ${this.#settings.deadlineMs} ms.`, { cause: err });
    }
    return err;
  }

  /** Highest priority first; within a priority, a weighted random order (Efraimidis–Spirakis). */
  #order(states: readonly ChannelState[]): ChannelState[] {
    const keyed = states.map((state) => ({ state, key: this.#random() ** (1 / state.routed.weight) }));
    keyed.sort((a, b) => b.state.routed.priority - a.state.routed.priority || b.key - a.key);
    return keyed.map((k) => k.state);
  }

  #statesFor(model: ModelSpec): ChannelState[] {
    const states = this.#byModel.get(model.id);
    if (states !== undefined && states.length > 0) return states;
    const local = this.#localFor(model);
    if (local !== null) {
      const state: ChannelState = {
        routed: local,
        breaker: new CircuitBreaker(this.#settings.breaker, this.#now),
        slots: new Semaphore(local.maxConcurrency),
      };
      this.#byModel.set(model.id, [state]);
      return [state];
    }
    throw new GatewayError(
      'service_unavailable',
      `No upstream channel is configured for the model '${model.id}'. Configure one, or set routing.fallbackToLocal.`,
      { param: 'model' },
    );
  }

  #localFor(_model: ModelSpec): RoutedChannel | null {
    return this.#demoMode || this.#settings.fallbackToLocal ? this.#local : null;
  }
}
