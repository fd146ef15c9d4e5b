import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/*
 * What the gateway counts, as the boundaries that own each fact report it: the HTTP app (requests,
 * their durations, requests in flight), the images use case (images delivered, their bytes and
 * cost, refusals) and the router (upstream attempts, their durations, breakers). Every label value
 * comes from a closed set or from the configuration (route patterns, catalog model ids, channel
 * ids, provider ids, error codes), never from client input: no key, prompt or URL reaches a label,
 * so the number of series stays bounded whatever clients send.
 */

/** Why the use case refused a request before or instead of delivering it. */
export type RefusalReason = 'content_policy' | 'budget' | 'rate_limit' | 'model_not_allowed';

export interface HttpRequestFacts {
  readonly method: string;
  /** The route's pattern (`/v1/images/:id`), or `unmatched` for a URL no route serves. */
  readonly route: string;
  /** The status sent; 499 when the client left before the answer was finished. */
  readonly status: number;
  /** The catalog model, once the request was validated far enough to know it. */
  readonly model: string | null;
  readonly durationSeconds: number;
}

export interface ImagesDelivery {
  readonly model: string;
  readonly provider: string;
  readonly channel: string;
  readonly images: number;
  readonly bytes: number;
  readonly costUsd: number;
}

export interface UpstreamAttempt {
  readonly channel: string;
  /** `ok`, or the error code the attempt ended with (`upstream_timeout`, `aborted` …). */
  readonly outcome: string;
  readonly durationSeconds: number;
}

/** An anomaly counter as `ledger/anomalies.ts` keeps it (read at scrape time). */
export interface CountedAnomaly {
  readonly kind: string;
  readonly model: string;
  readonly channel: string | null;
  readonly count: number;
}

export interface Metrics {
  httpRequestStarted(): void;
  httpRequestFinished(facts: HttpRequestFacts): void;
  imagesDelivered(delivery: ImagesDelivery): void;
  requestRefused(refusal: { readonly model: string; readonly reason: RefusalReason }): void;
  upstreamAttempt(attempt: UpstreamAttempt): void;
  /** A channel's breaker after an outcome: open (or probing) is 1, closed is 0. */
  breakerChanged(channel: string, open: boolean): void;
  /** The Prometheus text exposition of everything above. */
  scrape(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/**
 * Image requests take seconds to minutes (a slow upstream, retries, an async poll loop), other
 * routes milliseconds: the buckets span both, up to the default request deadline of 180 s.
 */
const DURATION_BUCKETS_SECONDS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120, 180, 300];

export interface PromMetricsOptions {
  /** The money anomalies counted so far (untrustworthy usage, clamped charges). */
  readonly anomalies?: () => readonly CountedAnomaly[];
  /** Process metrics (CPU, memory, event loop lag, GC) beside the gateway's own; on by default. */
  readonly processMetrics?: boolean;
  /** Upstream bodies in memory now, and the bytes of free buffers kept for them (http/body-reads.ts). */
  readonly bodyReads?: () => { readonly inUse: number; readonly pooledBytes: number };
}

/** `Metrics` on a prom-client registry of its own: one per gateway process, nothing module-global. */
export class PromMetrics implements Metrics {
  readonly #registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #requestDuration: Histogram<'route' | 'model'>;
  readonly #inflight: Gauge;
  readonly #images: Counter<'model' | 'provider' | 'channel'>;
  readonly #imageBytes: Counter<'model' | 'provider' | 'channel'>;
  readonly #cost: Counter<'model'>;
  readonly #refusals: Counter<'model' | 'reason'>;
  readonly #attempts: Counter<'channel' | 'outcome'>;
  readonly #upstreamDuration: Histogram<'channel'>;
  readonly #breakers: Gauge<'channel'>;

  constructor(options: PromMetricsOptions = {}) {
    const registers = [this.#registry];
    this.#requests = new Counter({
      name: 'imagegate_requests_total',
      help: 'HTTP requests answered, by route pattern and status (499: the client left first).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#requestDuration = new Histogram({
      name: 'imagegate_request_duration_seconds',
      help: 'Time from a request arriving to its answer being finished, by route pattern and model.',
      labelNames: ['route', 'model'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#inflight = new Gauge({ name: 'imagegate_inflight_requests', help: 'HTTP requests being answered now.', registers });
    this.#images = new Counter({
      name: 'imagegate_images_total',
      help: 'Images delivered to clients (and charged), by model, provider and channel.',
      labelNames: ['model', 'provider', 'channel'],
      registers,
    });
    this.#imageBytes = new Counter({
      name: 'imagegate_image_bytes_total',
      help: 'Bytes of the images delivered, as stored and sent.',
      labelNames: ['model', 'provider', 'channel'],
      registers,
    });
    this.#cost = new Counter({ name: 'imagegate_cost_usd_total', help: 'US dollars charged to keys, by model.', labelNames: ['model'], registers });
    this.#refusals = new Counter({
      name: 'imagegate_refusals_total',
      help: 'Image requests refused by the use case: content policy, budget, rate or concurrency limits, model policy.',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.#attempts = new Counter({
      name: 'imagegate_upstream_attempts_total',
      help: "Upstream calls, by channel and outcome ('ok' or the error code).",
      labelNames: ['channel', 'outcome'],
      registers,
    });
    this.#upstreamDuration = new Histogram({
      name: 'imagegate_upstream_duration_seconds',
      help: 'Duration of each upstream call, whatever its outcome, by channel.',
      labelNames: ['channel'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#breakers = new Gauge({
      name: 'imagegate_breaker_open',
      help: "1 while a channel's circuit breaker is open or probing, 0 while it is closed (this process's view).",
      labelNames: ['channel'],
      registers,
    });
    const anomalies = options.anomalies;
    if (anomalies !== undefined) {
      new Counter({
        name: 'imagegate_money_anomalies_total',
        help: 'Figures on the money path that could not be trusted and were replaced (ledger/anomalies.ts), by kind, model and channel.',
        labelNames: ['kind', 'model', 'channel'],
        registers,
        // Read from the anomaly counter at scrape time, so there is one count and no copy to keep in step.
        collect() {
          this.reset();
          for (const anomaly of anomalies()) {
            this.inc({ kind: anomaly.kind, model: anomaly.model, channel: anomaly.channel ?? 'none' }, anomaly.count);
          }
        },
      });
    }
    const bodyReads = options.bodyReads;
    if (bodyReads !== undefined) {
      new Gauge({
        name: 'imagegate_upstream_bodies_in_memory',
        help: 'Upstream answers held in memory now, from their first byte until the answer made of them has been sent.',
        registers,
        collect() {
          this.set(bodyReads().inUse);
        },
      });
      new Gauge({
        name: 'imagegate_upstream_body_pool_bytes',
        help: 'Bytes of free buffers kept to read upstream answers and decode their images into.',
        registers,
        collect() {
          this.set(bodyReads().pooledBytes);
        },
      });
    }
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.#registry });
  }

  httpRequestStarted(): void {
    this.#inflight.inc();
  }

  httpRequestFinished(facts: HttpRequestFacts): void {
    this.#inflight.dec();
    this.#requests.inc({ method: facts.method, route: facts.route, status: String(facts.status) });
    this.#requestDuration.observe({ route: facts.route, model: facts.model ?? 'none' }, facts.durationSeconds);
  }

  imagesDelivered(delivery: ImagesDelivery): void {
    const labels = { model: delivery.model, provider: delivery.provider, channel: delivery.channel };
    this.#images.inc(labels, delivery.images);
    this.#imageBytes.inc(labels, delivery.bytes);
    this.#cost.inc({ model: delivery.model }, delivery.costUsd);
  }

  requestRefused(refusal: { readonly model: string; readonly reason: RefusalReason }): void {
    this.#refusals.inc({ model: refusal.model, reason: refusal.reason });
  }

  upstreamAttempt(attempt: UpstreamAttempt): void {
    this.#attempts.inc({ channel: attempt.channel, outcome: attempt.outcome });
    this.#upstreamDuration.observe({ channel: attempt.channel }, attempt.durationSeconds);
  }

  breakerChanged(channel: string, open: boolean): void {
    this.#breakers.set({ channel }, open ? 1 : 0);
  }

  async scrape(): Promise<{ readonly contentType: string; readonly body: string }> {
    return { contentType: this.#registry.contentType, body: await this.#registry.metrics() };
  }
}
