import type { Clock } from "../clock/index.ts";

/** Options of {@link WorkQueue}. */
export interface WorkQueueOptions {
  readonly clock: Clock;
  /**
   * First retry delay after a resource's reconcile fails; it doubles per consecutive
   * failure. client-go's DefaultControllerRateLimiter uses 5 ms
   * (workqueue.NewItemExponentialFailureRateLimiter(5*time.Millisecond, 1000*time.Second)).
   * @default 5
   */
  readonly baseDelayMs?: number;
  /**
   * Longest retry delay, in ms.
   * @default 1_000_000 (1000 s, client-go's cap)
   */
  readonly maxDelayMs?: number;
  /**
   * Overall reconciles per second across all resources (client-go's BucketRateLimiter:
   * `rate.NewLimiter(rate.Limit(10), 100)`).
   * @default 10
   */
  readonly qps?: number;
  /**
   * Reconciles that may start at once before the overall rate applies.
   * @default 100
   */
  readonly burst?: number;
}

/** Admission says which resources may be reconciled now and when the others may. */
export interface Admission {
  /** Keys that may start now; each took a token from the overall bucket and is marked in flight. */
  readonly admitted: readonly string[];
  /** Keys that must wait, with the clock time they may start and why. */
  readonly deferred: ReadonlyMap<string, { readonly at: number; readonly why: "backoff" | "rate" | "busy" }>;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Expected \`${name}\` to be a finite number > 0, got \`${value}\``);
  }
  return value;
}

/**
 * WorkQueue decides when each resource may be reconciled, the way client-go's default
 * controller rate limiter does (the max of both rules):
 * - per resource, exponential backoff after consecutive failures (ItemExponentialFailureRateLimiter:
 *   `base × 2^failures`, capped), reset by `forget` on success, so one broken resource
 *   waits longer and longer while the others go on;
 * - overall, a token bucket (BucketRateLimiter), so a storm of retries cannot burn the
 *   project's API quota.
 * It also keeps a resource from being reconciled twice at once: `admit` marks a key in
 * flight until `done`.
 */
export class WorkQueue {
  readonly #clock: Clock;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #qps: number;
  readonly #burst: number;
  readonly #failures = new Map<string, number>();
  readonly #notBefore = new Map<string, number>();
  readonly #inFlight = new Set<string>();
  #tokens: number;
  #refilledAt: number;

  constructor(options: WorkQueueOptions) {
    this.#clock = options.clock;
    this.#baseDelayMs = positive("baseDelayMs", options.baseDelayMs ?? 5);
    this.#maxDelayMs = positive("maxDelayMs", options.maxDelayMs ?? 1_000_000);
    this.#qps = positive("qps", options.qps ?? 10);
    this.#burst = options.burst ?? 100;
    if (!Number.isInteger(this.#burst) || this.#burst < 1) {
      throw new TypeError(`Expected \`burst\` to be an integer >= 1, got \`${options.burst}\``);
    }
    this.#tokens = this.#burst;
    this.#refilledAt = this.#clock.now();
  }

  /** failures is how many reconciles of `key` failed in a row. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** retryAt is the clock time before which `key` must not be retried, if it is backing off. */
  retryAt(key: string): number | undefined {
    const at = this.#notBefore.get(key);
    return at !== undefined && at > this.#clock.now() ? at : undefined;
  }

  /**
   * failed records a failed reconcile of `key` and returns how long it now backs off:
   * `base × 2^(failures before this one)`, capped at the maximum (client-go's `When`).
   */
  failed(key: string): number {
    const n = this.failures(key);
    this.#failures.set(key, n + 1);
    const delay = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** n);
    this.#notBefore.set(key, this.#clock.now() + delay);
    return delay;
  }

  /** forget clears the failures of `key` (client-go's `Forget`), after a success or when its spec goes away. */
  forget(key: string): void {
    this.#failures.delete(key);
    this.#notBefore.delete(key);
  }

  /**
   * admit takes the keys that want a reconcile, in order, and lets through those not
   * backing off, not in flight, and for which the overall bucket has a token.
   */
  admit(keys: readonly string[]): Admission {
    const now = this.#clock.now();
    this.#refill(now);
    const admitted: string[] = [];
    const deferred = new Map<string, { at: number; why: "backoff" | "rate" | "busy" }>();
    for (const key of keys) {
      const retry = this.retryAt(key);
      if (retry !== undefined) {
        deferred.set(key, { at: retry, why: "backoff" });
      } else if (this.#inFlight.has(key)) {
        deferred.set(key, { at: now, why: "busy" });
      } else if (this.#tokens >= 1) {
        this.#tokens -= 1;
        this.#inFlight.add(key);
        admitted.push(key);
      } else {
        // Tokens come back one per 1/qps; the n-th key still waiting needs n of them.
        const waiting = [...deferred.values()].filter((d) => d.why === "rate").length;
        const at = now + ((waiting + 1 - this.#tokens) * 1000) / this.#qps;
        deferred.set(key, { at: Math.ceil(at), why: "rate" });
      }
    }
    return { admitted, deferred };
  }

  /** done ends the reconcile of `key` that `admit` started. */
  done(key: string): void {
    this.#inFlight.delete(key);
  }

  /** inFlight lists the keys being reconciled now. */
  inFlight(): readonly string[] {
    return [...this.#inFlight];
  }

  /** prune forgets every key not in `keep` (resources whose specs were removed). */
  prune(keep: ReadonlySet<string>): void {
    for (const key of [...this.#failures.keys(), ...this.#notBefore.keys()]) {
      if (!keep.has(key)) this.forget(key);
    }
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#qps) / 1000);
    this.#refilledAt = now;
  }
}
