import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { ModelSpec } from '../catalog/index.ts';
import type { ImagesOperation, ImagesRequest } from '../contract/images-request.ts';
import { GatewayError } from '../errors.ts';
import type { BreakerBoard } from '../limits/index.ts';
import { PollPacer } from '../providers/shared/poll-pacer.ts';
import type { BoundProvider, Channel, PartialImage, ProviderImage, ProviderResult, Retain, UnboundCall } from '../providers/types.ts';
import { scrubGatewayError } from '../providers/shared/scrub-secrets.ts';
import { backoffDelayMs } from './backoff.ts';
import { type BreakerSettings, type BreakerState, CircuitBreaker } from './circuit-breaker.ts';
import { type Outcome, RecentOutcomes } from './recent-outcomes.ts';
import type { BodyReadTurn } from '../http/body-reads.ts';
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

/** A configured channel with its provider (options bound) and its share of traffic. */
export interface RoutedChannel {
  readonly channel: Channel;
  readonly provider: BoundProvider;
  readonly priority: number;
  readonly weight: number;
  readonly maxConcurrency: number;
}

export interface RouteContext {
  readonly signal: AbortSignal;
  readonly requestId: string;
  /** Streamed requests: where partial images go (to the client, as they arrive). */
  readonly onPartial?: (partial: PartialImage) => void;
  /** Keeps the body-read turns of the answer until it has been sent (see `ProviderCall.retain`). */
  readonly retain?: Retain;
}

export interface RouteOutcome {
  readonly result: ProviderResult;
  /** The channel that produced the first image (the one named in response headers). */
  readonly channel: Channel;
  /** Upstream calls made, retries and fan-out included. */
  readonly attempts: number;
}

/**
 * What the router reports as it works (for metrics): every upstream call with its outcome (`ok` or
 * the error code) and duration, and a channel's breaker after each outcome (open or probing: true).
 */
export interface RouterObserver {
  attempt(attempt: { readonly channel: string; readonly outcome: string; readonly durationSeconds: number }): void;
  breaker(channel: string, open: boolean): void;
}

/** What each operation is called in messages ("No channel … can edit images"). */
const OPERATION_NAMES: Readonly<Record<ImagesOperation, string>> = {
  generate: 'generate images',
  edit: 'edit images',
  variation: 'create image variations',
};

/** Whether a provider implements the request's operation (every provider generates). */
function supports(provider: BoundProvider, operation: ImagesOperation): boolean {
  switch (operation) {
    case 'generate':
      return true;
    case 'edit':
      return provider.edit !== null;
    case 'variation':
      return provider.variation !== null;
  }
}

/** The one upstream call of a request part, by operation. */
async function callProvider(provider: BoundProvider, request: ImagesRequest, call: UnboundCall): Promise<ProviderResult> {
  switch (request.operation) {
    case 'generate':
      return provider.generate(request, call);
    case 'edit':
      if (provider.edit === null) throw new GatewayError('server_error', `The ${provider.id} provider cannot edit images.`);
      return provider.edit(request, call);
    case 'variation':
      if (provider.variation === null) throw new GatewayError('server_error', `The ${provider.id} provider cannot create variations.`);
      return provider.variation(request, call);
  }
}

interface ChannelState {
  readonly routed: RoutedChannel;
  readonly breaker: CircuitBreaker;
  readonly slots: Semaphore;
  readonly recent: RecentOutcomes;
}

/** A channel as the operator's console shows it (read-only; `Router.channelStatus`). */
export interface ChannelStatus {
  readonly id: string;
  readonly provider: string;
  /** Catalog model ids the channel serves. */
  readonly models: readonly string[];
  readonly priority: number;
  readonly weight: number;
  readonly maxConcurrency: number;
  readonly breaker: BreakerState;
  /** How long an open breaker (here or, with Redis, on another replica) still refuses calls. */
  readonly openForMs: number;
  /** The last upstream attempts, oldest first. */
  readonly recent: readonly Outcome[];
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
  readonly #pacer: PollPacer;
  readonly #observer: RouterObserver | null;

  constructor(options: {
    channels: readonly RoutedChannel[];
    local: RoutedChannel | null;
    settings: RoutingSettings;
    logger: Logger;
    now?: () => number;
    random?: () => number;
    /** Open breakers shared with other replicas (Redis), if any. */
    board?: BreakerBoard;
    /** Spaces the polls of asynchronous upstreams; one per process (a fresh one by default). */
    pacer?: PollPacer;
    observer?: RouterObserver;
  }) {
    this.#observer = options.observer ?? null;
    this.#board = options.board ?? null;
    this.#pacer = options.pacer ?? new PollPacer();
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
        recent: new RecentOutcomes(),
      };
      this.#observer?.breaker(routed.channel.id, false);
      for (const modelId of Object.keys(routed.channel.models)) {
        const list = this.#byModel.get(modelId) ?? [];
        list.push(state);
        this.#byModel.set(modelId, list);
      }
    }
  }

  /**
   * The providers that serve a model, in the order the router tries them (highest priority
   * first), for `/v1/models` and the startup log; `local` when the renderer serves it, none when
   * nothing does.
   */
  providersFor(model: ModelSpec): string[] {
    const states = this.#byModel.get(model.id);
    if (states !== undefined && states.length > 0 && states[0]?.routed !== this.#local) {
      const ordered = [...states].sort((a, b) => b.routed.priority - a.routed.priority).map((state) => state.routed.channel.provider);
      return [...new Set(ordered)];
    }
    return this.#localFor(model) === null ? [] : ['local'];
  }

  /** Every channel's breaker and recent attempts, for `GET /admin/v1/channels`. */
  channelStatus(): ChannelStatus[] {
    const states = [...new Set([...this.#byModel.values()].flat())];
    return states.map(({ routed, breaker, recent }) => ({
      id: routed.channel.id,
      provider: routed.channel.provider,
      models: [...this.#byModel].filter(([, list]) => list.some((s) => s.routed === routed)).map(([id]) => id),
      priority: routed.priority,
      weight: routed.weight,
      maxConcurrency: routed.maxConcurrency,
      breaker: breaker.state,
      openForMs: Math.max(breaker.retryAfterMs(), this.#board?.openForMs(routed.channel.id) ?? 0),
      recent: recent.list(),
    }));
  }

  /**
   * Runs a request's upstream calls: `generate`, `edit` or `variation` by its `operation`, on the
   * channels whose provider implements it.
   */
  async execute(request: ImagesRequest, ctx: RouteContext): Promise<RouteOutcome> {
    const states = this.#statesFor(request.model).filter((state) => supports(state.routed.provider, request.operation));
    if (states.length === 0) {
      throw new GatewayError('invalid_value', `No upstream channel configured for '${request.model.id}' can ${OPERATION_NAMES[request.operation]}.`, {
        param: 'model',
      });
    }
    const deadlineAtMs = this.#now() + this.#settings.deadlineMs;
    const deadline = AbortSignal.any([ctx.signal, AbortSignal.timeout(this.#settings.deadlineMs)]);

    const perCall = Math.max(1, Math.min(...states.map((s) => maxImagesPerCall(s.routed.provider, request.model))));
    const parts: number[] = [];
    for (let left = request.n; left > 0; left -= perCall) parts.push(Math.min(perCall, left));

    // Parts run in parallel; OpenAI never answers with fewer images than asked, so the first part
    // that finally fails cancels the others and fails the request (nothing is charged for it).
    const cancelParts = new AbortController();
    const partSignal = AbortSignal.any([deadline, cancelParts.signal]);
    const offsets = parts.map((_, i) => parts.slice(0, i).reduce((sum, count) => sum + count, 0));
    // A part that kept its body-read turn until the whole answer is sent would hold it while a
    // sibling part waits for one: in a burst, every turn could be held that way. Fanned-out
    // requests let each body go once read (ProviderCall.retain absent).
    const { retain: _retain, ...unretained } = ctx;
    const partCtx = parts.length > 1 ? unretained : ctx;
    const outcomes = await Promise.all(
      parts.map((count, i) =>
        this.#runPart(partOf(request, count, offsets[i] ?? 0), states, deadlineAtMs, partSignal, { ...partCtx, imageOffset: offsets[i] ?? 0 }).catch(
          (err: unknown) => {
            cancelParts.abort(err);
            throw err;
          },
        ),
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
  async #runPart(
    request: ImagesRequest,
    states: readonly ChannelState[],
    deadlineAtMs: number,
    signal: AbortSignal,
    ctx: RouteContext & { imageOffset: number },
  ): Promise<RouteOutcome> {
    let attempts = 0;
    let lastError: unknown;
    let shortestOpenMs = Number.POSITIVE_INFINITY;
    for (const state of this.#order(states)) {
      const { channel, provider } = state.routed;
      // Resolved once here: adapters get the upstream's name for the model with the call. The
      // local renderer serves every model under its own id.
      const upstreamModel = state.routed === this.#local ? request.model.id : channel.models[request.model.id];
      if (upstreamModel === undefined) continue;
      for (let tryOnChannel = 0; attempts < this.#settings.maxAttempts; tryOnChannel += 1) {
        signal.throwIfAborted();
        // The only channel for the model is never shut off for a whole cool-down: its own breaker
        // lets a probe through every soleChannelCooldownMs (harm reduction, as Envoy caps
        // ejection and Portkey bypasses breakers when every target is open).
        const sole = states.length === 1;
        const sharedOpenMs = sole ? 0 : (this.#board?.openForMs(channel.id) ?? 0);
        if (sharedOpenMs > 0 && state.breaker.state === 'closed') {
          // Another replica found this channel failing: skip it here too until its cool-down ends.
          shortestOpenMs = Math.min(shortestOpenMs, sharedOpenMs);
          break;
        }
        if (!state.breaker.tryAcquire(sole)) {
          shortestOpenMs = Math.min(shortestOpenMs, state.breaker.retryAfterMs(sole));
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
        const startedMs = this.#now();
        const startedAtMs = performance.now();
        // This attempt's body-read turns: handed to the request when it succeeds, ended when it fails.
        const turns: BodyReadTurn[] = [];
        const retain = ctx.retain;
        try {
          const result = await callProvider(provider, request, {
            channel,
            upstreamModel,
            signal: attemptSignal,
            requestId: ctx.requestId,
            logger: this.#logger,
            pacer: this.#pacer,
            ...(onPartial === undefined ? {} : { onPartial }),
            ...(retain === undefined ? {} : { retain: (turn: BodyReadTurn) => void turns.push(turn) }),
          });
          state.breaker.record(true);
          state.recent.record({ atMs: startedMs, ok: true, latencyMs: this.#now() - startedMs, code: null });
          if (result.images.length !== request.n) {
            throw new GatewayError('upstream_error', `The upstream returned ${result.images.length} images where ${request.n} were asked.`, {
              retryable: true,
            });
          }
          this.#observer?.attempt({ channel: channel.id, outcome: 'ok', durationSeconds: (performance.now() - startedAtMs) / 1000 });
          if (retain !== undefined) for (const turn of turns.splice(0)) retain(turn);
          return { result, channel, attempts };
        } catch (raw) {
          for (const turn of turns.splice(0)) turn.release();
          const err = this.#classify(raw, signal, attemptSignal, channel);
          lastError = err;
          if (!signal.aborted)
            state.recent.record({ atMs: startedMs, ok: false, latencyMs: this.#now() - startedMs, code: err instanceof GatewayError ? err.code : 'error' });
          const outcome = err instanceof GatewayError ? err.code : signal.aborted ? 'aborted' : 'error';
          this.#observer?.attempt({ channel: channel.id, outcome, durationSeconds: (performance.now() - startedAtMs) / 1000 });
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
            this.#logger.error(
              { channel: channel.id, provider: channel.provider, requestId: ctx.requestId },
              `channel ${channel.id} rejected our credentials: check its apiKey`,
            );
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
          this.#observer?.breaker(channel.id, state.breaker.state !== 'closed');
        }
      }
      if (attempts >= this.#settings.maxAttempts) break;
    }
    // The last attempt's own error (a GatewayError, or an abort's reason), rethrown as it is.
    // eslint-disable-next-line @typescript-eslint/only-throw-error
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
    if (err instanceof GatewayError) return scrubGatewayError(err, channel.secrets);
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
        recent: new RecentOutcomes(),
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

/** Images one call may make for a model on a provider: the adapter's limit and the catalog's. */
function maxImagesPerCall(provider: BoundProvider, model: ModelSpec): number {
  return Math.min(provider.maxImagesPerCall(model), model.providerLimits[provider.id]?.maxImagesPerCall ?? model.maxN);
}

/** Seeds are 0 … 2^31 − 1 (the contract's range). */
const SEED_RANGE = 2_147_483_648;

/**
 * One part of a fanned-out request: `count` images, starting at image `offset`. With a seed, each
 * part gets the seed plus its offset, so n images asked with one seed are n different pictures
 * (and the same request gives the same n again), as one call making n images would.
 */
function partOf(request: ImagesRequest, count: number, offset: number): ImagesRequest {
  const seed = request.seed === null ? null : (request.seed + offset) % SEED_RANGE;
  return { ...request, n: count, seed };
}
