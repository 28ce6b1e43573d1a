import type { Clock } from "../clock/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { listAllPages } from "../gcp/read.ts";
import type { GateSpec } from "../spec/types.ts";
import type { GateTarget } from "./execute.ts";
import { gateQuery, pointTime, pointValue, subjectMatches, worst } from "./gates.ts";

/** HISTORY_STEP_SECONDS is the resolution of a chart: Cloud Monitoring's shortest alignment period. */
export const HISTORY_STEP_SECONDS = 60;

/** GateSeries is one gate's metric on one subject over time, for a chart. */
export interface GateSeries {
  readonly metric: string;
  /** `Kind/name` of the resource the metric describes. */
  readonly subject: string;
  readonly threshold: number;
  readonly failWhen: GateSpec["failWhen"];
  /** `[epoch ms, value]`, oldest first: the worst value of each minute across the subject's series. */
  readonly points: readonly (readonly [number, number])[];
}

/** GateHistory is what a history read found: the series, or why there are none. */
export interface GateHistory {
  readonly series: readonly GateSeries[];
  /** Clock time of the read, epoch ms. */
  readonly readAt: number;
  /** Set when Cloud Monitoring could not be read; the series are then from the read before, if any. */
  readonly error: string | undefined;
}

const READ = { api: "monitoring.googleapis.com", method: "timeSeries.list", write: false } as const;

/**
 * readGateHistory reads what `targets`' gates read, over [`startMs`, `endMs`] at one point
 * a minute: one timeSeries.list per metric and project (its pages each one call within
 * the read budget), whatever the number of subjects, with the gates' own filter and
 * aligner ({@link gateQuery}).
 */
export async function readGateHistory(
  gcp: Gcp,
  targets: readonly Pick<GateTarget, "gate" | "subject">[],
  startMs: number,
  endMs: number,
  signal?: AbortSignal,
): Promise<GateSeries[]> {
  const groups = new Map<string, Pick<GateTarget, "gate" | "subject">[]>();
  for (const t of targets) {
    const key = `${t.subject.project}\u0000${t.gate.metric}\u0000${t.gate.failWhen}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const out: GateSeries[] = [];
  for (const group of groups.values()) {
    const { gate, subject } = group[0]!;
    const request = gateQuery(gate, subject.project, startMs, endMs, HISTORY_STEP_SECONDS);
    const series = await listAllPages(
      gcp,
      READ,
      (page, options) => gcp.clients.monitoring.listTimeSeries({ ...request, ...page } as never, options),
      signal,
    );
    for (const t of group) {
      // Several series may describe one subject (a service's revisions): the worst per minute.
      const byTime = new Map<number, number[]>();
      for (const s of series) {
        if (!subjectMatches(s.resource?.labels as Record<string, string> | undefined, t.subject)) continue;
        for (const p of s.points ?? []) {
          const at = pointTime(p);
          const v = pointValue(p);
          if (at === undefined || v === undefined) continue;
          byTime.set(at, [...(byTime.get(at) ?? []), v]);
        }
      }
      out.push({
        metric: t.gate.metric,
        subject: t.subject.address,
        threshold: t.gate.threshold,
        failWhen: t.gate.failWhen,
        points: [...byTime].map(([at, vs]) => [at, worst(t.gate, vs)!] as const).sort((a, b) => a[0] - b[0]),
      });
    }
  }
  return out;
}

/** Options of {@link GateHistoryCache}. */
export interface GateHistoryCacheOptions {
  readonly gcp: Gcp;
  readonly clock: Clock;
  /**
   * How far back a chart reaches, in clock ms.
   * @default 10_800_000 (3 hours)
   */
  readonly spanMs?: number;
  /**
   * How long one read is served before the next, in clock ms: however many pages are
   * open, Cloud Monitoring is read at most once per metric per `ttlMs`, a few calls a
   * minute against its default budget of 6,000 (src/gcp/ratelimit.ts).
   * @default 60_000 (one point a minute: a fresher read has nothing new)
   */
  readonly ttlMs?: number;
}

/**
 * GateHistoryCache serves the charts' history of a set of gate targets, read lazily (only
 * while someone looks) and at most once per `ttlMs`; concurrent callers share one read.
 * A failed read keeps the series read before and says why.
 */
export class GateHistoryCache {
  readonly #gcp: Gcp;
  readonly #clock: Clock;
  readonly #span: number;
  readonly #ttl: number;
  #last: (GateHistory & { readonly key: string }) | undefined;
  #inflight: { readonly key: string; readonly promise: Promise<GateHistory> } | undefined;

  constructor(options: GateHistoryCacheOptions) {
    this.#gcp = options.gcp;
    this.#clock = options.clock;
    this.#span = options.spanMs ?? 10_800_000;
    this.#ttl = options.ttlMs ?? 60_000;
    for (const [name, v] of [
      ["spanMs", this.#span],
      ["ttlMs", this.#ttl],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0)
        throw new TypeError(`Expected \`${name}\` to be a finite number > 0, got \`${v}\``);
    }
  }

  /** get returns the history of `targets`, from the cache while it is fresh. */
  async get(targets: readonly Pick<GateTarget, "gate" | "subject">[]): Promise<GateHistory> {
    const key = JSON.stringify(targets.map((t) => [t.subject.project, t.subject.address, t.gate]));
    const now = this.#clock.now();
    const last = this.#last;
    if (last && last.key === key && now - last.readAt < this.#ttl) return last;
    if (this.#inflight?.key === key) return this.#inflight.promise;
    const promise = readGateHistory(this.#gcp, targets, now - this.#span, now).then(
      (series): GateHistory => ({ series, readAt: now, error: undefined }),
      (err: unknown): GateHistory => ({
        series: last?.key === key ? last.series : [],
        readAt: now,
        error: `could not read Cloud Monitoring: ${err instanceof Error ? err.message : String(err)}`,
      }),
    );
    this.#inflight = { key, promise };
    try {
      const history = await promise;
      this.#last = { ...history, key };
      return history;
    } finally {
      if (this.#inflight?.promise === promise) this.#inflight = undefined;
    }
  }
}
