import type { protos } from "@google-cloud/monitoring";
import type { Clock } from "../clock/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { listAllPages } from "../gcp/read.ts";
import type { GateSpec } from "../spec/types.ts";

/**
 * DISTRIBUTION_METRICS are the gate metrics whose points are distributions; a gate reads
 * their 99th percentile (the peak a user feels) rather than a mean.
 * Metric list: https://cloud.google.com/monitoring/api/metrics_gcp.
 */
const DISTRIBUTION_METRICS = new Set([
  "vpcaccess.googleapis.com/connector/cpu/utilizations",
  "run.googleapis.com/request_latencies",
]);

/** GateSubject is the resource a gate watches. */
export interface GateSubject {
  /** `Kind/name`, for messages. */
  readonly address: string;
  readonly project: string;
  /** The resource id, e.g. `vpc-main`; series are matched on a resource label equal to it. */
  readonly id: string;
}

/**
 * GateReader reads one aligned sample of a gate's metric for a subject: the worst value
 * over the last `window` seconds across the subject's series, or undefined without data.
 */
export type GateReader = (
  gate: GateSpec,
  subject: GateSubject,
  signal?: AbortSignal,
) => Promise<number | undefined>;

/** subjectMatches says whether a series belongs to the subject: one of its resource labels names it. */
export function subjectMatches(
  labels: Record<string, string> | null | undefined,
  subject: Pick<GateSubject, "id">,
): boolean {
  return Object.values(labels ?? {}).some(
    (v) => v === subject.id || v.endsWith(`:${subject.id}`) || v.endsWith(`/${subject.id}`),
  );
}

/**
 * gateQuery is the timeSeries.list request a gate reads: its metric over
 * [`startMs`, `endMs`], aligned per `alignmentSeconds` to the worst value of each period:
 * the maximum (99th percentile for distributions) for `above` gates, the minimum (5th
 * percentile) for `below` gates. The gate reader takes one period, its window; the
 * dashboard and the report take the same series at one-minute periods, to chart them.
 */
export function gateQuery(
  gate: GateSpec,
  project: string,
  startMs: number,
  endMs: number,
  alignmentSeconds: number,
) {
  return {
    name: `projects/${project}`,
    filter: `metric.type = "${gate.metric}"`,
    interval: {
      startTime: { seconds: Math.floor(startMs / 1000) },
      endTime: { seconds: Math.floor(endMs / 1000) },
    },
    aggregation: {
      alignmentPeriod: { seconds: alignmentSeconds },
      // The worst minute in the window: the highest for `above` gates, the lowest for `below`.
      perSeriesAligner: DISTRIBUTION_METRICS.has(gate.metric)
        ? gate.failWhen === "below"
          ? "ALIGN_PERCENTILE_05"
          : "ALIGN_PERCENTILE_99"
        : gate.failWhen === "below"
          ? "ALIGN_MIN"
          : "ALIGN_MAX",
    },
    view: "FULL" as const,
  };
}

type Point = protos.google.monitoring.v3.IPoint;

/** pointValue reads a point's number (double or int64), or undefined. */
export function pointValue(point: Point | null | undefined): number | undefined {
  const v = point?.value;
  const n =
    v?.doubleValue ??
    (v?.int64Value !== undefined && v.int64Value !== null ? Number(v.int64Value) : undefined);
  return n !== undefined && n !== null && Number.isFinite(Number(n)) ? Number(n) : undefined;
}

/** pointTime reads a point's end time, in epoch ms. */
export function pointTime(point: Point): number | undefined {
  const s = point.interval?.endTime?.seconds;
  return s === undefined || s === null ? undefined : Number(s) * 1000;
}

/** worst picks the worst of values for the gate: the lowest for `below` gates, the highest otherwise. */
export function worst(gate: Pick<GateSpec, "failWhen">, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  return gate.failWhen === "below" ? Math.min(...values) : Math.max(...values);
}

/**
 * monitoringGateReader reads gates through the Cloud Monitoring API (timeSeries.list),
 * aligned to the gate's window (see {@link gateQuery}), and takes the worst series.
 */
export function monitoringGateReader(gcp: Gcp, clock: Clock): GateReader {
  return async (gate, subject, signal) => {
    const end = clock.now();
    const window = Math.max(60, gate.window);
    const request = gateQuery(gate, subject.project, end - window * 1000, end, window);
    // One call per page, each within the read budget (a gate over many series pages).
    const series = await listAllPages(
      gcp,
      { api: "monitoring.googleapis.com", method: "timeSeries.list", write: false, resource: request.name },
      (page, options) => gcp.clients.monitoring.listTimeSeries({ ...request, ...page } as never, options),
      signal,
    );
    const values: number[] = [];
    for (const s of series) {
      if (!subjectMatches(s.resource?.labels as Record<string, string> | undefined, subject)) continue;
      const n = pointValue(s.points?.[0]);
      if (n !== undefined) values.push(n);
    }
    return worst(gate, values);
  };
}

/**
 * gateWorse says whether `value` is worse than `baseline` for the gate, beyond a 1%
 * tolerance of the threshold so metric noise does not count.
 */
export function gateWorse(gate: GateSpec, value: number | undefined, baseline: number | undefined): boolean {
  if (value === undefined || baseline === undefined) return false;
  const eps = Math.max(1e-9, Math.abs(gate.threshold) * 0.01);
  return gate.failWhen === "below" ? value < baseline - eps : value > baseline + eps;
}

/** gatePasses says whether a sample passes a gate; no data passes (a gate cannot fail on silence). */
export function gatePasses(
  gate: Pick<GateSpec, "failWhen" | "threshold">,
  value: number | undefined,
): boolean {
  if (value === undefined) return true;
  return gate.failWhen === "below" ? value >= gate.threshold : value <= gate.threshold;
}

/** subjectsOf lists which resources a gate's metric describes, by metric prefix. */
export function gateKind(metric: string): "VpcConnector" | "SqlInstance" | "CloudRunService" | undefined {
  if (metric.startsWith("vpcaccess.googleapis.com/")) return "VpcConnector";
  if (metric.startsWith("cloudsql.googleapis.com/")) return "SqlInstance";
  if (metric.startsWith("run.googleapis.com/")) return "CloudRunService";
  return undefined;
}
