export interface BreakerSettings {
  /** Open after this many failures in a row; 0 turns the rule off (failure rate only). */
  readonly consecutiveFailures: number;
  /** Or open when the failure rate over the window reaches this (0–1)… */
  readonly failureRate: number;
  /** …once the window holds at least this many calls. */
  readonly minSamples: number;
  readonly windowMs: number;
  /** How long an open breaker refuses calls before letting one probe through. */
  readonly cooldownMs: number;
  /**
   * The cool-down when the channel is the only one for the request's model: a probe every this
   * often (a trickle), instead of refusing every request for the whole cool-down. Default: cooldownMs.
   */
  readonly soleChannelCooldownMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * A circuit breaker for one channel. Closed: calls pass and outcomes are counted. Open: calls are
 * refused until the cool-down ends. Half-open: exactly one probe passes; its success closes the
 * breaker, its failure opens it for another cool-down.
 */
export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #openedAtMs = 0;
  #probeInFlight = false;
  #consecutive = 0;
  /** Outcomes in the window, oldest first: [timeMs, failed]; `#head` is the first live one. */
  #outcomes: Array<[number, boolean]> = [];
  #head = 0;
  #failuresInWindow = 0;

  constructor(settings: BreakerSettings, now: () => number = Date.now) {
    this.#settings = settings;
    this.#now = now;
  }

  get state(): BreakerState {
    return this.stateFor(false);
  }

  /** The state for a call on the only channel of its model (`sole`), which cools down sooner. */
  stateFor(sole: boolean): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAtMs >= this.#cooldownMs(sole)) return 'half_open';
    return this.#state;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when it would now). */
  retryAfterMs(sole = false): number {
    if (this.#state !== 'open') return 0;
    return Math.max(0, this.#openedAtMs + this.#cooldownMs(sole) - this.#now());
  }

  /**
   * Asks to make a call; true means go ahead and report the outcome with `record`. `sole`: the
   * channel is the only one for the request's model, so a probe comes after the shorter
   * sole-channel cool-down: a trickle keeps testing the upstream instead of an outage.
   */
  tryAcquire(sole = false): boolean {
    const state = this.stateFor(sole);
    if (state === 'closed') return true;
    if (state === 'open' || this.#probeInFlight) return false;
    this.#state = 'half_open';
    this.#probeInFlight = true;
    return true;
  }

  record(success: boolean): void {
    const nowMs = this.#now();
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      if (success) this.#reset();
      else this.#open(nowMs);
      return;
    }
    if (this.#state === 'open') return;
    this.#consecutive = success ? 0 : this.#consecutive + 1;
    this.#outcomes.push([nowMs, !success]);
    if (!success) this.#failuresInWindow += 1;
    // Drop outcomes older than the window in O(1) per outcome (a busy channel records thousands).
    for (let first = this.#outcomes[this.#head]; first !== undefined && first[0] < nowMs - this.#settings.windowMs; first = this.#outcomes[this.#head]) {
      if (first[1]) this.#failuresInWindow -= 1;
      this.#head += 1;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#outcomes.length) {
      this.#outcomes = this.#outcomes.slice(this.#head);
      this.#head = 0;
    }
    const samples = this.#outcomes.length - this.#head;
    const rateTripped = samples >= this.#settings.minSamples && this.#failuresInWindow / samples >= this.#settings.failureRate;
    const runTripped = this.#settings.consecutiveFailures > 0 && this.#consecutive >= this.#settings.consecutiveFailures;
    if (runTripped || rateTripped) this.#open(nowMs);
  }

  /** A call that was acquired but never made (aborted before sending) frees the probe slot. */
  release(): void {
    if (this.#state === 'half_open') this.#probeInFlight = false;
  }

  #cooldownMs(sole: boolean): number {
    return sole ? (this.#settings.soleChannelCooldownMs ?? this.#settings.cooldownMs) : this.#settings.cooldownMs;
  }

  #open(nowMs: number): void {
    this.#state = 'open';
    this.#openedAtMs = nowMs;
    this.#probeInFlight = false;
    this.#clearWindow();
    this.#consecutive = 0;
  }

  #reset(): void {
    this.#state = 'closed';
    this.#consecutive = 0;
    this.#clearWindow();
  }

  #clearWindow(): void {
    this.#outcomes = [];
    this.#head = 0;
    this.#failuresInWindow = 0;
  }
}
