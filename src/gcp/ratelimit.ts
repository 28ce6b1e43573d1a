import PQueue from "p-queue";
import type { Clock } from "../clock/index.ts";
import { limitOf, type QuotaOverride, quotaCallOfMethod, quotasOf, validateOverride } from "./quotas.ts";

/** CallClass says which budget a call spends. */
export interface CallClass {
  /** e.g. `run.googleapis.com`. */
  readonly api: string;
  /** The method, e.g. `services.update` or `globalOperations.get`: it picks the quota category. */
  readonly method: string;
  readonly write: boolean;
  /** Region or location of the call, for per-region quotas. */
  readonly location?: string | undefined;
}

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  readonly clock: Clock;
  /**
   * Per-API overrides of GCP's default quotas (src/gcp/quotas.ts); APIs not named keep
   * the defaults.
   * @default {}
   */
  readonly limits?: Readonly<Record<string, QuotaOverride>>;
  /**
   * Calls in flight at once per budget.
   * @default 8
   */
  readonly concurrency?: number;
  /**
   * Fraction of a budget that capstan spends; the rest is headroom for other callers
   * (the console, deploy pipelines) sharing the project's quota.
   * @default 1
   */
  readonly share?: number;
}

const MINUTE = 60_000;
/** GUARD_MS is how much longer than a minute an admission counts (clock ms). */
const GUARD_MS = 1_000;

/** BudgetStats are the figures of one budget, for metrics and benchmarks. */
export interface BudgetStats {
  readonly key: string;
  readonly limit: number;
  readonly current: number;
  readonly calls: number;
  readonly throttled: number;
  readonly waitedMs: number;
}

/**
 * Budget is one (API, read/write, region) allowance. It admits at most `current` calls in
 * any sliding 60-second window of clock time — the strictest reading of "per minute", so
 * a burst can never exceed the quota however GCP aligns its minutes. `current` starts at
 * the configured limit, halves on every 429 (multiplicative decrease) and grows back by
 * one per admitted call's worth of a window (additive increase), so capstan slows down
 * when it shares the quota with someone else and recovers when they stop.
 */
class Budget {
  readonly key: string;
  readonly max: number;
  current: number;
  /** Admissions in the current window; `t` is the admission time until the call completes, then its completion time. */
  readonly #window: { t: number }[] = [];
  readonly queue: PQueue;
  #pausedUntil = 0;
  #sinceIncrease = 0;
  calls = 0;
  throttled = 0;
  waitedMs = 0;

  constructor(key: string, max: number, concurrency: number) {
    this.key = key;
    this.max = max;
    this.current = max;
    this.queue = new PQueue({ concurrency });
  }

  /**
   * admit returns how long to wait before the next call may start, or a slot when it may
   * start now. A call counts against GCP's window from when it arrives there, which is
   * some time after it leaves here and before its answer comes back: the slot is re-dated
   * to the answer's time by `settle`, and kept a guard interval longer than a minute, so
   * a slot freed here is always freed at GCP too.
   */
  admit(now: number): number | { t: number } {
    const span = MINUTE + GUARD_MS;
    while (this.#window.length > 0 && this.#window[0]!.t <= now - span) this.#window.shift();
    if (now < this.#pausedUntil) return this.#pausedUntil - now;
    const limit = Math.max(1, Math.floor(this.current));
    if (this.#window.length >= limit) {
      return Math.max(1, this.#window[this.#window.length - limit]!.t + span - now);
    }
    const slot = { t: now };
    this.#window.push(slot);
    return slot;
  }

  /** settle re-dates a slot to when its call completed. */
  settle(slot: { t: number }, now: number): void {
    slot.t = now;
    this.#window.sort((a, b) => a.t - b.t);
  }

  onSuccess(): void {
    this.calls += 1;
    if (this.current >= this.max) return;
    // Additive increase: one more call per minute for every minute's worth of successes.
    this.#sinceIncrease += 1;
    if (this.#sinceIncrease >= Math.max(1, Math.floor(this.current))) {
      this.#sinceIncrease = 0;
      this.current = Math.min(this.max, this.current + 1);
    }
  }

  onThrottled(now: number, retryAfterMs: number): void {
    this.throttled += 1;
    this.current = Math.max(1, this.current / 2);
    this.#sinceIncrease = 0;
    this.#pausedUntil = Math.max(this.#pausedUntil, now + retryAfterMs);
  }
}

/**
 * RateLimiter keeps every GCP call within its API's per-minute quota, per read/write
 * and (where GCP counts so) per region. Calls queue in FIFO order per budget (p-queue)
 * and wait on the injected clock.
 */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #limits: Readonly<Record<string, QuotaOverride>>;
  readonly #concurrency: number;
  readonly #share: number;
  readonly #budgets = new Map<string, Budget>();

  constructor(options: RateLimiterOptions) {
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`Expected \`concurrency\` to be an integer >= 1, got \`${concurrency}\``);
    }
    const share = options.share ?? 1;
    if (!(share > 0 && share <= 1)) {
      throw new TypeError(`Expected \`share\` to be a number in (0, 1], got \`${share}\``);
    }
    this.#clock = options.clock;
    this.#concurrency = concurrency;
    this.#share = share;
    const limits = options.limits ?? {};
    for (const [api, l] of Object.entries(limits)) validateOverride(api, l, `limits["${api}"]`);
    this.#limits = limits;
  }

  /**
   * #budget finds the budget a call spends: its API's quota category (src/gcp/quotas.ts),
   * per region where GCP counts that category per region. capstan is one identity, so a
   * per-user quota is one budget; and it keeps one budget across projects, which is
   * never more than GCP allows any of them.
   */
  #budget(c: CallClass): Budget {
    const quotas = quotasOf(c.api);
    const name = quotas.categoryOf(quotaCallOfMethod(c.method, c.write));
    const category = quotas.categories[name]!;
    const region = category.scope === "region" ? (c.location ?? "global") : "";
    const key = `${c.api}|${name}|${region}`;
    let b = this.#budgets.get(key);
    if (!b) {
      const perMinute = limitOf(category, name, this.#limits[c.api]);
      b = new Budget(key, Math.max(1, Math.floor(perMinute * this.#share)), this.#concurrency);
      this.#budgets.set(key, b);
    }
    return b;
  }

  /**
   * run waits for the call's budget, then runs `fn`. The returned promise settles with
   * `fn`'s result. Only admission is rate limited; retries are the caller's decision.
   */
  run<T>(c: CallClass, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const b = this.#budget(c);
    return b.queue.add(async () => {
      let slot: { t: number } | undefined;
      while (!slot) {
        signal?.throwIfAborted();
        const start = this.#clock.now();
        const admitted = b.admit(start);
        if (typeof admitted === "object") slot = admitted;
        else {
          await this.#clock.sleep(admitted, signal);
          b.waitedMs += this.#clock.now() - start;
        }
      }
      try {
        return await fn();
      } finally {
        b.settle(slot, this.#clock.now());
      }
    }) as Promise<T>;
  }

  /** succeeded tells the budget a call went through (additive increase). */
  succeeded(c: CallClass): void {
    this.#budget(c).onSuccess();
  }

  /** throttled tells the budget GCP answered 429, and how long GCP asked to wait. */
  throttled(c: CallClass, retryAfterMs: number): void {
    this.#budget(c).onThrottled(this.#clock.now(), retryAfterMs);
  }

  /** stats returns the figures of every budget used so far. */
  stats(): BudgetStats[] {
    return [...this.#budgets.values()].map((b) => ({
      key: b.key,
      limit: b.max,
      current: b.current,
      calls: b.calls,
      throttled: b.throttled,
      waitedMs: b.waitedMs,
    }));
  }
}
