import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { CallObserver } from "../gcp/call.ts";
import type { BudgetStats } from "../gcp/ratelimit.ts";

/** CODE_NAMES are the gRPC status codes by number (google/rpc/code.proto), for metric labels. */
const CODE_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** codeName names a gRPC code number, e.g. 8 → `RESOURCE_EXHAUSTED`. */
export function codeName(code: number): string {
  return CODE_NAMES[code] ?? String(code);
}

/** Options of {@link ControllerMetrics}. */
export interface ControllerMetricsOptions {
  /**
   * Read for the rate-limit wait figures at every scrape (RateLimiter#stats).
   * @default none: the rate-limit metric stays at 0
   */
  readonly budgets?: (() => readonly BudgetStats[]) | undefined;
  /**
   * Also export Node's process metrics (RSS, CPU, event loop lag, heap).
   * @default true
   */
  readonly processMetrics?: boolean;
}

/**
 * ControllerMetrics are the Prometheus metrics of one `capstan run`, on a registry of
 * its own (two controllers in one process never mix figures).
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  /** Passes of the loop by outcome. */
  readonly passes: Counter<"outcome">;
  readonly passDuration: Histogram;
  /** Field changes written and confirmed, by kind. */
  readonly changesApplied: Counter<"kind">;
  /** Drift found (a live change nobody declared), by kind and what was done about it. */
  readonly driftFound: Counter<"kind" | "action">;
  /** Every API call attempt, by API, method and gRPC code. */
  readonly apiCalls: Counter<"api" | "method" | "code">;
  /** Resources waiting for a reconcile: changes pending and not suspended or report-only. */
  readonly queueDepth: Gauge;
  /** 1 when a resource's Ready condition is True. */
  readonly resourceReady: Gauge<"kind" | "project" | "name">;
  /** 1 while this instance holds the lease. */
  readonly leader: Gauge;
  /** Reconcile failures, by kind and reason. */
  readonly failures: Counter<"kind" | "reason">;
  #calls = 0;

  constructor(options: ControllerMetricsOptions = {}) {
    const registers = [this.registry];
    this.passes = new Counter({
      name: "capstan_passes_total",
      help: "Passes of the reconcile loop, by outcome.",
      labelNames: ["outcome"],
      registers,
    });
    this.passDuration = new Histogram({
      name: "capstan_pass_duration_seconds",
      help: "Clock time of one pass: load, observe, plan and execute.",
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.changesApplied = new Counter({
      name: "capstan_changes_applied_total",
      help: "Field changes written to GCP and confirmed, by kind.",
      labelNames: ["kind"],
      registers,
    });
    this.driftFound = new Counter({
      name: "capstan_drift_found_total",
      help: "Live changes nobody declared, by kind and action (corrected or reported).",
      labelNames: ["kind", "action"],
      registers,
    });
    this.apiCalls = new Counter({
      name: "capstan_api_calls_total",
      help: "GCP API call attempts, by API, method and gRPC code.",
      labelNames: ["api", "method", "code"],
      registers,
    });
    const budgets = options.budgets;
    const seen = new Map<string, number>();
    new Counter({
      name: "capstan_rate_limit_wait_seconds_total",
      help: "Clock time calls waited for capstan's own per-minute API budgets, by budget (api|read/write|region).",
      labelNames: ["budget"],
      registers,
      collect() {
        // The limiter keeps running totals; the counter follows them by their increase.
        for (const b of budgets?.() ?? []) {
          const before = seen.get(b.key) ?? 0;
          if (b.waitedMs > before) this.inc({ budget: b.key }, (b.waitedMs - before) / 1000);
          else this.inc({ budget: b.key }, 0);
          seen.set(b.key, Math.max(before, b.waitedMs));
        }
      },
    });
    this.queueDepth = new Gauge({
      name: "capstan_queue_depth",
      help: "Resources waiting for a reconcile (changes pending, not suspended or report-only).",
      registers,
    });
    this.resourceReady = new Gauge({
      name: "capstan_resource_ready",
      help: "1 when the resource's Ready condition is True, else 0.",
      labelNames: ["kind", "project", "name"],
      registers,
    });
    this.leader = new Gauge({
      name: "capstan_leader",
      help: "1 while this instance holds the lease and may write.",
      registers,
    });
    this.failures = new Counter({
      name: "capstan_reconcile_failures_total",
      help: "Failed reconciles of a resource, by kind and reason.",
      labelNames: ["kind", "reason"],
      registers,
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** observer is the GcpCaller hook that counts every call attempt. */
  readonly observer: CallObserver = (meta, outcome) => {
    this.#calls += 1;
    this.apiCalls.inc({ api: meta.api, method: meta.method, code: codeName(outcome.code) });
  };

  /** calls is how many call attempts the observer has seen. */
  get calls(): number {
    return this.#calls;
  }

  /** text renders the registry in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** contentType is the Content-Type of {@link ControllerMetrics.text}. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
