import type { Logger } from 'pino';

/**
 * Figures on the money path that could not be trusted and were replaced. Each one is counted and
 * logged: an upstream that reports nonsense, or a bug of ours that would have charged outside the
 * hold, must be visible to the operator instead of silently costing someone money.
 */
export type MoneyAnomalyKind =
  /** A token count of the upstream's usage is negative, fractional, not finite or missing. */
  | 'usage_not_a_count'
  /** Output tokens far above the catalog's token table for the quality, size and count. */
  | 'usage_output_tokens'
  /** More text tokens than the prompt can make. */
  | 'usage_text_tokens'
  /** Input image tokens absurd for the request's input images (any at all for a generation). */
  | 'usage_image_tokens'
  /** The ledger was asked to record a negative charge: it recorded 0. */
  | 'charge_negative'
  /** The ledger was asked to charge more than the hold: it charged the hold. */
  | 'charge_above_hold'
  /** The ledger was asked to charge something that is not a number: it charged the hold. */
  | 'charge_not_a_number';

export interface MoneyAnomaly {
  readonly kind: MoneyAnomalyKind;
  /** The catalog model of the request. */
  readonly model: string;
  /** The channel whose answer it was; null where the channel is not known (the ledger's checks). */
  readonly channel: string | null;
  readonly requestId: string;
  /** What was found and the bound it broke, for the log. Numbers and field names only, never upstream text. */
  readonly detail: Readonly<Record<string, number | string>>;
}

/** Where anomalies go; the ledger and the usage guard take one of these. */
export interface AnomalySink {
  report(anomaly: MoneyAnomaly): void;
}

/** One counter of `counts()`: how often an anomaly of a kind was seen for a model and channel. */
export interface AnomalyCount {
  readonly kind: MoneyAnomalyKind;
  readonly model: string;
  readonly channel: string | null;
  readonly count: number;
}

/**
 * Anomaly counters as a metrics endpoint reads them. Per process, like every Prometheus counter:
 * a scraper sums the replicas. The labels (kind × model × channel) are bounded by the catalog and
 * the configuration, never by client input.
 */
export interface AnomalyCounter {
  increment(kind: MoneyAnomalyKind, model: string, channel: string | null): void;
  counts(): readonly AnomalyCount[];
}

export class MemoryAnomalyCounter implements AnomalyCounter {
  readonly #counts = new Map<string, AnomalyCount>();

  increment(kind: MoneyAnomalyKind, model: string, channel: string | null): void {
    const key = JSON.stringify([kind, model, channel]);
    const previous = this.#counts.get(key);
    this.#counts.set(key, { kind, model, channel, count: (previous?.count ?? 0) + 1 });
  }

  counts(): readonly AnomalyCount[] {
    return [...this.#counts.values()];
  }
}

/** The sink the gateway runs with: every anomaly is counted and logged as a warning. */
export class MoneyAnomalies implements AnomalySink {
  readonly counter: AnomalyCounter;
  readonly #logger: Logger;

  constructor(logger: Logger, counter: AnomalyCounter = new MemoryAnomalyCounter()) {
    this.#logger = logger;
    this.counter = counter;
  }

  report(anomaly: MoneyAnomaly): void {
    this.counter.increment(anomaly.kind, anomaly.model, anomaly.channel);
    this.#logger.warn(
      { anomaly: anomaly.kind, model: anomaly.model, channel: anomaly.channel, requestId: anomaly.requestId, ...anomaly.detail },
      ANOMALY_MESSAGES[anomaly.kind],
    );
  }
}

const ANOMALY_MESSAGES: Readonly<Record<MoneyAnomalyKind, string>> = {
  usage_not_a_count: "upstream usage is not a valid token count; charged the catalog's estimate",
  usage_output_tokens: "upstream usage reports far more output tokens than the size and quality make; charged the catalog's estimate",
  usage_text_tokens: "upstream usage reports more text tokens than the prompt can make; charged the catalog's estimate",
  usage_image_tokens: "upstream usage reports input image tokens absurd for the inputs; charged the catalog's estimate",
  charge_negative: 'a negative charge was refused; charged 0',
  charge_above_hold: 'a charge above its budget hold was capped at the hold',
  charge_not_a_number: 'a charge that is not a number was replaced by the hold',
};
