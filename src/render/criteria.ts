import { gatePasses } from "../apply/gates.ts";
import type { GateSpec } from "../spec/types.ts";

/**
 * METRIC_LABELS name well-known gate metrics for people: the remediation plan's success
 * criteria (docs/load-model.md). Other metrics are shown by their type.
 */
export const METRIC_LABELS: Readonly<Record<string, string>> = {
  "custom.googleapis.com/capstan/db_connection_success_ratio": "database connection success",
  "custom.googleapis.com/capstan/db_connection_establishment_seconds": "avg connection establishment (s)",
  "vpcaccess.googleapis.com/connector/cpu/utilizations": "connector peak utilisation",
  "custom.googleapis.com/capstan/db_pool_utilization": "database pool utilisation",
};

/** metricLabel names a gate metric for people. */
export function metricLabel(metric: string): string {
  return METRIC_LABELS[metric] ?? metric;
}

/** A fraction of a whole, by the naming conventions of GCP's and the load model's metrics. */
const FRACTION = /(ratio|utilization|utilizations|utilisation)$/;

/**
 * formatMetricValue prints a gate metric's value in its unit: a fraction as a percentage,
 * `_seconds` metrics in seconds, anything else as a number.
 */
export function formatMetricValue(metric: string, v: number | undefined): string {
  if (v === undefined) return "no data";
  if (metric.endsWith("_seconds")) return `${v.toFixed(1)} s`;
  if (FRACTION.test(metric)) return `${(v * 100).toFixed(1)}%`;
  return String(Number(v.toPrecision(4)));
}

/** formatTarget prints what a gate asks for, e.g. `≥ 95.0%`. */
export function formatTarget(g: Pick<GateSpec, "metric" | "failWhen" | "threshold">): string {
  return `${g.failWhen === "below" ? "≥" : "≤"} ${formatMetricValue(g.metric, g.threshold)}`;
}

/** Criterion is one gate on one resource, read before and after a rollout. */
export interface Criterion {
  readonly metric: string;
  /** `Kind/name` of the resource the metric describes. */
  readonly subject: string;
  readonly failWhen: GateSpec["failWhen"];
  readonly threshold: number;
  readonly before: number | undefined;
  readonly after: number | undefined;
}

/** criterionMet says whether the value after meets the target (no data does not). */
export function criterionMet(c: Criterion): boolean {
  return c.after !== undefined && gatePasses(c, c.after);
}
