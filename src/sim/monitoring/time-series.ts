import { SimError } from "../core/errors.ts";
import type { JsonObject } from "../core/types.ts";

/** MetricKind is the google.api.MetricDescriptor.MetricKind the simulator models. */
export type MetricKind = "GAUGE" | "DELTA";

/** ValueType is the google.api.MetricDescriptor.ValueType the simulator models. */
export type ValueType = "INT64" | "DOUBLE" | "DISTRIBUTION";

/** MetricDescriptorInfo is what the simulator knows about one metric type. */
export interface MetricDescriptorInfo {
  readonly type: string;
  readonly metricKind: MetricKind;
  readonly valueType: ValueType;
  /** UCUM unit, as the metric list gives it. */
  readonly unit: string;
  /** The monitored resource type its series belong to. */
  readonly resourceType: string;
  /** The labels of that monitored resource. */
  readonly resourceLabels: readonly string[];
  /** The metric's own labels. */
  readonly metricLabels: readonly string[];
  /** Bucket layout of distribution values the simulator builds from plain numbers. */
  readonly bucketOptions?: JsonObject;
}

const CONNECTOR_LABELS = ["resource_container", "location", "connector_name"] as const;
const RUN_REVISION_LABELS = [
  "project_id",
  "service_name",
  "revision_name",
  "location",
  "configuration_name",
] as const;
const CLOUDSQL_LABELS = ["project_id", "database_id", "region"] as const;

/**
 * KNOWN_METRICS are the metric types metric gates read, with the kind, value type, unit,
 * monitored resource and labels that Google's metric lists give them
 * (https://cloud.google.com/monitoring/api/metrics_gcp, sections vpcaccess, run,
 * cloudsql; monitored resources at https://cloud.google.com/monitoring/api/resources).
 * Bucket layouts are the simulator's own choice; GCP does not document them.
 */
export const KNOWN_METRICS: Readonly<Record<string, MetricDescriptorInfo>> = Object.fromEntries(
  (
    [
      {
        // Connector instance CPU utilisation, a fraction 0..1 per instance.
        type: "vpcaccess.googleapis.com/connector/cpu/utilizations",
        metricKind: "GAUGE",
        valueType: "DISTRIBUTION",
        unit: "1",
        resourceType: "vpc_access_connector",
        resourceLabels: CONNECTOR_LABELS,
        metricLabels: [],
        bucketOptions: { linearBuckets: { numFiniteBuckets: 100, width: 0.01, offset: 0 } },
      },
      {
        type: "vpcaccess.googleapis.com/connector/sent_bytes_count",
        metricKind: "DELTA",
        valueType: "INT64",
        unit: "By",
        resourceType: "vpc_access_connector",
        resourceLabels: CONNECTOR_LABELS,
        metricLabels: [],
      },
      {
        type: "vpcaccess.googleapis.com/connector/received_bytes_count",
        metricKind: "DELTA",
        valueType: "INT64",
        unit: "By",
        resourceType: "vpc_access_connector",
        resourceLabels: CONNECTOR_LABELS,
        metricLabels: [],
      },
      {
        // database_id is `project:instance`.
        type: "cloudsql.googleapis.com/database/postgresql/num_backends",
        metricKind: "GAUGE",
        valueType: "INT64",
        unit: "1",
        resourceType: "cloudsql_database",
        resourceLabels: CLOUDSQL_LABELS,
        metricLabels: ["database"],
      },
      {
        type: "cloudsql.googleapis.com/database/cpu/utilization",
        metricKind: "GAUGE",
        valueType: "DOUBLE",
        unit: "10^2.%",
        resourceType: "cloudsql_database",
        resourceLabels: CLOUDSQL_LABELS,
        metricLabels: [],
      },
      {
        // state is `active` or `idle`.
        type: "run.googleapis.com/container/instance_count",
        metricKind: "GAUGE",
        valueType: "INT64",
        unit: "1",
        resourceType: "cloud_run_revision",
        resourceLabels: RUN_REVISION_LABELS,
        metricLabels: ["state"],
      },
      {
        type: "run.googleapis.com/request_latencies",
        metricKind: "DELTA",
        valueType: "DISTRIBUTION",
        unit: "ms",
        resourceType: "cloud_run_revision",
        resourceLabels: RUN_REVISION_LABELS,
        metricLabels: ["response_code", "response_code_class", "route"],
        bucketOptions: { exponentialBuckets: { numFiniteBuckets: 60, growthFactor: 1.25, scale: 1 } },
      },
      {
        type: "run.googleapis.com/request_count",
        metricKind: "DELTA",
        valueType: "INT64",
        unit: "1",
        resourceType: "cloud_run_revision",
        resourceLabels: RUN_REVISION_LABELS,
        metricLabels: ["response_code", "response_code_class", "route"],
      },
    ] satisfies MetricDescriptorInfo[]
  ).map((d) => [d.type, d]),
);

/** DEFAULT_BUCKET_OPTIONS is the bucket layout of distributions of metrics the simulator does not know. */
export const DEFAULT_BUCKET_OPTIONS: JsonObject = {
  exponentialBuckets: { numFiniteBuckets: 60, growthFactor: 1.25, scale: 0.01 },
};

/**
 * SAMPLE_PERIOD_MS is how often a series has a point: the metrics above are "sampled
 * every 60 seconds". A DELTA value covers the 60 seconds that end at its sample time.
 */
export const SAMPLE_PERIOD_MS = 60_000;

/** DistributionValue is a google.api.Distribution with numbers for its int64 fields. */
export interface DistributionValue {
  readonly count: number;
  readonly mean: number;
  readonly sumOfSquaredDeviation: number;
  /** Smallest and largest sample; bounds percentile interpolation when known. */
  readonly range?: { readonly min: number; readonly max: number } | undefined;
  readonly bucketOptions: JsonObject;
  readonly bucketCounts: readonly number[];
}

/** MetricValue is one sample: a number for INT64/DOUBLE metrics, or a distribution. */
export type MetricValue = number | DistributionValue;

/** SeriesIdentity names one time series: metric type, monitored resource and metric labels. */
export interface SeriesIdentity {
  readonly metricType: string;
  readonly resource: { readonly type: string; readonly labels: Readonly<Record<string, string>> };
  readonly metricLabels: Readonly<Record<string, string>>;
}

/** seriesKey is a stable string key of a series identity. */
export function seriesKey(s: SeriesIdentity): string {
  const sorted = (o: Readonly<Record<string, string>>) =>
    Object.keys(o)
      .sort()
      .map((k) => `${k}=${o[k]}`)
      .join(",");
  return `${s.metricType}|${s.resource.type}|${sorted(s.resource.labels)}|${sorted(s.metricLabels)}`;
}

// ---------------------------------------------------------------------------------------
// Distributions

/** bucketBounds returns the [lower, upper) bounds of bucket `i` of a layout (google/api/distribution.proto). */
function bucketBounds(options: JsonObject, i: number): [number, number] {
  const lin = options["linearBuckets"] as JsonObject | undefined;
  const exp = options["exponentialBuckets"] as JsonObject | undefined;
  const exp2 = options["explicitBuckets"] as JsonObject | undefined;
  const edge = (k: number): number => {
    if (lin) return Number(lin["offset"] ?? 0) + Number(lin["width"] ?? 1) * k;
    if (exp) return Number(exp["scale"] ?? 1) * Number(exp["growthFactor"] ?? 2) ** k;
    const bounds = (exp2?.["bounds"] ?? []) as number[];
    return Number(bounds[k] ?? Number.POSITIVE_INFINITY);
  };
  const finite = bucketTotal(options) - 2;
  if (i <= 0) return [Number.NEGATIVE_INFINITY, edge(0)];
  if (i > finite) return [edge(finite), Number.POSITIVE_INFINITY];
  return [edge(i - 1), edge(i)];
}

/** bucketTotal is the number of buckets of a layout, underflow and overflow included. */
function bucketTotal(options: JsonObject): number {
  const lin = options["linearBuckets"] as JsonObject | undefined;
  const exp = options["exponentialBuckets"] as JsonObject | undefined;
  if (lin) return Number(lin["numFiniteBuckets"] ?? 0) + 2;
  if (exp) return Number(exp["numFiniteBuckets"] ?? 0) + 2;
  const bounds = ((options["explicitBuckets"] as JsonObject | undefined)?.["bounds"] ?? []) as unknown[];
  return bounds.length + 1;
}

function bucketOf(options: JsonObject, x: number): number {
  const total = bucketTotal(options);
  for (let i = 0; i < total; i++) {
    const [, hi] = bucketBounds(options, i);
    if (x < hi) return i;
  }
  return total - 1;
}

/** distributionOf builds a distribution of `samples` in the given bucket layout. */
export function distributionOf(samples: readonly number[], bucketOptions: JsonObject): DistributionValue {
  const count = samples.length;
  const mean = count ? samples.reduce((a, b) => a + b, 0) / count : 0;
  const counts = new Array<number>(bucketTotal(bucketOptions)).fill(0);
  for (const x of samples) counts[bucketOf(bucketOptions, x)]! += 1;
  return {
    count,
    mean,
    sumOfSquaredDeviation: samples.reduce((a, x) => a + (x - mean) ** 2, 0),
    range: count ? { min: Math.min(...samples), max: Math.max(...samples) } : undefined,
    bucketOptions,
    bucketCounts: trimZeros(counts),
  };
}

/**
 * readDistribution reads a google.api.Distribution in proto3-JSON form (int64 fields may
 * be strings) into a DistributionValue; a plain number is one sample.
 */
export function readDistribution(v: unknown, fallbackOptions: JsonObject): DistributionValue {
  if (typeof v === "number") return distributionOf([v], fallbackOptions);
  if (!v || typeof v !== "object")
    throw new TypeError(`Expected a number or a distribution, got ${String(v)}`);
  const o = v as JsonObject;
  const range = o["range"] as JsonObject | undefined;
  return {
    count: Number(o["count"] ?? 0),
    mean: Number(o["mean"] ?? 0),
    sumOfSquaredDeviation: Number(o["sumOfSquaredDeviation"] ?? 0),
    range: range ? { min: Number(range["min"] ?? 0), max: Number(range["max"] ?? 0) } : undefined,
    bucketOptions: (o["bucketOptions"] as JsonObject | undefined) ?? fallbackOptions,
    bucketCounts: ((o["bucketCounts"] ?? []) as unknown[]).map(Number),
  };
}

/**
 * mergeDistributions combines distributions of samples into the distribution of all of
 * them (parallel mean/variance formulas). Buckets of a different layout are re-bucketed
 * into the first one's at their midpoints.
 */
export function mergeDistributions(ds: readonly DistributionValue[]): DistributionValue | undefined {
  const first = ds[0];
  if (!first) return undefined;
  const options = first.bucketOptions;
  const sameLayout = JSON.stringify(options);
  const counts = new Array<number>(bucketTotal(options)).fill(0);
  let count = 0;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const d of ds) {
    count += d.count;
    sum += d.count * d.mean;
    if (d.range) {
      min = Math.min(min, d.range.min);
      max = Math.max(max, d.range.max);
    }
    d.bucketCounts.forEach((c, i) => {
      if (!c) return;
      if (JSON.stringify(d.bucketOptions) === sameLayout) {
        counts[i]! += c;
      } else {
        const [lo, hi] = bucketBounds(d.bucketOptions, i);
        const mid =
          Number.isFinite(lo) && Number.isFinite(hi) ? (lo + hi) / 2 : Number.isFinite(lo) ? lo : hi;
        counts[bucketOf(options, mid)]! += c;
      }
    });
  }
  const mean = count ? sum / count : 0;
  const ssd = ds.reduce((a, d) => a + d.sumOfSquaredDeviation + d.count * (d.mean - mean) ** 2, 0);
  return {
    count,
    mean,
    sumOfSquaredDeviation: ssd,
    range: Number.isFinite(min) ? { min, max } : undefined,
    bucketOptions: options,
    bucketCounts: trimZeros(counts),
  };
}

/**
 * percentileOf estimates the p-th percentile of a distribution from its buckets, by
 * linear interpolation inside the bucket holding that rank, bounded by the range when
 * known (so a distribution of identical samples yields that sample exactly).
 */
export function percentileOf(d: DistributionValue, p: number): number | undefined {
  if (d.count <= 0) return undefined;
  const rank = (p / 100) * d.count;
  let seen = 0;
  for (let i = 0; i < d.bucketCounts.length; i++) {
    const c = d.bucketCounts[i] ?? 0;
    if (c <= 0) continue;
    if (seen + c >= rank) {
      let [lo, hi] = bucketBounds(d.bucketOptions, i);
      if (d.range) {
        lo = Math.max(lo, d.range.min);
        hi = Math.min(hi, d.range.max);
      }
      if (!Number.isFinite(lo)) lo = hi;
      if (!Number.isFinite(hi)) hi = lo;
      return lo + (hi - lo) * Math.min(1, Math.max(0, (rank - seen) / c));
    }
    seen += c;
  }
  return d.range?.max ?? d.mean;
}

/** percentileOfNumbers is the p-th percentile of plain values, interpolating between ranks. */
function percentileOfNumbers(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

function trimZeros(counts: number[]): number[] {
  let n = counts.length;
  while (n > 0 && counts[n - 1] === 0) n--;
  return counts.slice(0, n);
}

function distributionJson(d: DistributionValue): JsonObject {
  return {
    count: String(d.count),
    mean: d.mean,
    sumOfSquaredDeviation: d.sumOfSquaredDeviation,
    ...(d.range ? { range: { min: d.range.min, max: d.range.max } } : {}),
    bucketOptions: d.bucketOptions,
    bucketCounts: d.bucketCounts.map(String),
  };
}

// ---------------------------------------------------------------------------------------
// Aggregation

/** Aligner is a google.monitoring.v3.Aggregation.Aligner the simulator implements. */
export type Aligner =
  | "ALIGN_NONE"
  | "ALIGN_DELTA"
  | "ALIGN_RATE"
  | "ALIGN_NEXT_OLDER"
  | "ALIGN_MIN"
  | "ALIGN_MAX"
  | "ALIGN_MEAN"
  | "ALIGN_COUNT"
  | "ALIGN_SUM"
  | "ALIGN_PERCENTILE_99"
  | "ALIGN_PERCENTILE_95"
  | "ALIGN_PERCENTILE_50"
  | "ALIGN_PERCENTILE_05";

/** Reducer is a google.monitoring.v3.Aggregation.Reducer the simulator implements. */
export type Reducer =
  | "REDUCE_NONE"
  | "REDUCE_MEAN"
  | "REDUCE_MIN"
  | "REDUCE_MAX"
  | "REDUCE_SUM"
  | "REDUCE_COUNT"
  | "REDUCE_PERCENTILE_99"
  | "REDUCE_PERCENTILE_95"
  | "REDUCE_PERCENTILE_50"
  | "REDUCE_PERCENTILE_05";

/** ALIGNERS and REDUCERS list what the simulator implements; others answer UNIMPLEMENTED. */
export const ALIGNERS: readonly Aligner[] = [
  "ALIGN_NONE",
  "ALIGN_DELTA",
  "ALIGN_RATE",
  "ALIGN_NEXT_OLDER",
  "ALIGN_MIN",
  "ALIGN_MAX",
  "ALIGN_MEAN",
  "ALIGN_COUNT",
  "ALIGN_SUM",
  "ALIGN_PERCENTILE_99",
  "ALIGN_PERCENTILE_95",
  "ALIGN_PERCENTILE_50",
  "ALIGN_PERCENTILE_05",
];

/** REDUCERS lists the cross-series reducers the simulator implements. */
export const REDUCERS: readonly Reducer[] = [
  "REDUCE_NONE",
  "REDUCE_MEAN",
  "REDUCE_MIN",
  "REDUCE_MAX",
  "REDUCE_SUM",
  "REDUCE_COUNT",
  "REDUCE_PERCENTILE_99",
  "REDUCE_PERCENTILE_95",
  "REDUCE_PERCENTILE_50",
  "REDUCE_PERCENTILE_05",
];

/** Aggregation is a validated google.monitoring.v3.Aggregation. */
export interface Aggregation {
  readonly alignmentPeriodMs: number;
  readonly aligner: Aligner;
  readonly reducer: Reducer;
  readonly groupByFields: readonly string[];
}

interface Shape {
  readonly kind: MetricKind;
  readonly valueType: ValueType;
}

const percentileOfName = (name: string): number | undefined => {
  const m = /_PERCENTILE_(\d\d)$/.exec(name);
  return m ? Number(m[1]) : undefined;
};

/**
 * alignedShape is the kind and value type an aligner produces from `s`, or undefined when
 * the aligner cannot be applied, per the Aligner documentation in
 * google/monitoring/v3/common.proto (e.g. ALIGN_RATE needs a DELTA numeric metric,
 * ALIGN_PERCENTILE_* a distribution, ALIGN_MEAN/MAX a numeric one).
 */
function alignedShape(a: Aligner, s: Shape): Shape | undefined {
  const numeric = s.valueType !== "DISTRIBUTION";
  switch (a) {
    case "ALIGN_NONE":
      return s;
    case "ALIGN_DELTA":
      return s.kind === "DELTA" ? s : undefined;
    case "ALIGN_RATE":
      return s.kind === "DELTA" && numeric ? { kind: "GAUGE", valueType: "DOUBLE" } : undefined;
    case "ALIGN_NEXT_OLDER":
      return s.kind === "GAUGE" ? s : undefined;
    case "ALIGN_MIN":
    case "ALIGN_MAX":
      return numeric ? { kind: "GAUGE", valueType: s.valueType } : undefined;
    case "ALIGN_MEAN":
      return numeric ? { kind: "GAUGE", valueType: "DOUBLE" } : undefined;
    case "ALIGN_COUNT":
      return numeric ? { kind: "GAUGE", valueType: "INT64" } : undefined;
    case "ALIGN_SUM":
      return s;
    default:
      return numeric ? undefined : { kind: "GAUGE", valueType: "DOUBLE" };
  }
}

/** reducedShape is what a cross-series reducer produces, or undefined when it cannot apply (common.proto). */
function reducedShape(r: Reducer, s: Shape): Shape | undefined {
  const numeric = s.valueType !== "DISTRIBUTION";
  switch (r) {
    case "REDUCE_NONE":
    case "REDUCE_SUM":
      return s;
    case "REDUCE_MIN":
    case "REDUCE_MAX":
      return numeric ? s : undefined;
    case "REDUCE_COUNT":
      return { kind: s.kind, valueType: "INT64" };
    default:
      return { kind: s.kind, valueType: "DOUBLE" };
  }
}

function align(a: Aligner, values: readonly MetricValue[], periodMs: number): MetricValue | undefined {
  if (values.length === 0) return undefined;
  const nums = values.filter((v): v is number => typeof v === "number");
  const dists = values.filter((v): v is DistributionValue => typeof v !== "number");
  switch (a) {
    case "ALIGN_NEXT_OLDER":
      return values[values.length - 1];
    case "ALIGN_MIN":
      return Math.min(...nums);
    case "ALIGN_MAX":
      return Math.max(...nums);
    case "ALIGN_MEAN":
      return nums.reduce((x, y) => x + y, 0) / nums.length;
    case "ALIGN_COUNT":
      return values.length;
    case "ALIGN_RATE":
      return nums.reduce((x, y) => x + y, 0) / (periodMs / 1000);
    case "ALIGN_DELTA":
    case "ALIGN_SUM":
      return dists.length ? mergeDistributions(dists) : nums.reduce((x, y) => x + y, 0);
    default: {
      const merged = mergeDistributions(dists);
      return merged ? percentileOf(merged, percentileOfName(a) ?? 50) : undefined;
    }
  }
}

function reduce(r: Reducer, values: readonly MetricValue[]): MetricValue | undefined {
  if (values.length === 0) return undefined;
  const nums = values.filter((v): v is number => typeof v === "number");
  const dists = values.filter((v): v is DistributionValue => typeof v !== "number");
  switch (r) {
    case "REDUCE_MIN":
      return Math.min(...nums);
    case "REDUCE_MAX":
      return Math.max(...nums);
    case "REDUCE_SUM":
      return dists.length ? mergeDistributions(dists) : nums.reduce((x, y) => x + y, 0);
    case "REDUCE_COUNT":
      return values.length;
    case "REDUCE_MEAN": {
      if (!dists.length) return nums.reduce((x, y) => x + y, 0) / nums.length;
      return mergeDistributions(dists)?.mean;
    }
    default: {
      const p = percentileOfName(r) ?? 50;
      if (!dists.length) return percentileOfNumbers(nums, p);
      const merged = mergeDistributions(dists);
      return merged ? percentileOf(merged, p) : undefined;
    }
  }
}

/**
 * invalidField is GCP's wording for a bad request field, e.g. `Field
 * aggregation.perSeriesAligner had an invalid value of "ALIGN_RATE": The aligner cannot be
 * applied to metrics with kind GAUGE and value type INT64.` (reported verbatim by users
 * of the API).
 */
export function invalidField(field: string, value: string, why: string): SimError {
  return new SimError(`Field ${field} had an invalid value of "${value}": ${why}`, {
    status: "INVALID_ARGUMENT",
    fieldViolations: [{ field, description: why }],
  });
}

// ---------------------------------------------------------------------------------------
// Queries

/** SeriesQuery is everything needed to produce the time series of one ListTimeSeries call. */
export interface SeriesQuery {
  readonly descriptor: MetricDescriptorInfo;
  /** The series that passed the filter. */
  readonly series: readonly SeriesIdentity[];
  /** The value of a series at a sample time, or undefined for no point. */
  readonly valueAt: (s: SeriesIdentity, timeMs: number) => MetricValue | undefined;
  /** Exclusive start of the interval, epoch ms. */
  readonly startMs: number;
  /** Inclusive end of the interval, epoch ms. */
  readonly endMs: number;
  /** Samples after this time do not exist yet. */
  readonly nowMs: number;
  readonly aggregation: Aggregation | undefined;
  /** view HEADERS: identities without points. */
  readonly headersOnly: boolean;
}

/** OutputSeries is one google.monitoring.v3.TimeSeries in proto3-JSON form, with its point count for paging. */
export interface OutputSeries {
  readonly json: JsonObject;
  readonly points: number;
}

interface Point {
  readonly endMs: number;
  readonly startMs: number;
  readonly value: MetricValue;
}

/**
 * checkAggregation validates an aggregation against a metric the way GCP does before
 * reading any data, and returns the shape of the series it produces.
 */
export function checkAggregation(agg: Aggregation | undefined, d: MetricDescriptorInfo): Shape {
  const raw: Shape = { kind: d.metricKind, valueType: d.valueType };
  if (!agg) return raw;
  const shape = alignedShape(agg.aligner, raw);
  if (!shape) {
    throw invalidField(
      "aggregation.perSeriesAligner",
      agg.aligner,
      `The aligner cannot be applied to metrics with kind ${raw.kind} and value type ${raw.valueType}.`,
    );
  }
  const out = reducedShape(agg.reducer, shape);
  if (!out) {
    throw invalidField(
      "aggregation.crossSeriesReducer",
      agg.reducer,
      `The reducer cannot be applied to metrics with kind ${shape.kind} and value type ${shape.valueType}.`,
    );
  }
  return out;
}

/**
 * sampleTimes lists the sample times of a window (fromMs, toMs], one per SAMPLE_PERIOD_MS
 * on epoch-aligned minutes, none later than `nowMs`. Keeping this the only place that
 * decides where points fall lets any MetricSource stay a pure function of time.
 */
export function sampleTimes(fromMs: number, toMs: number, nowMs: number): number[] {
  const out: number[] = [];
  const last = Math.min(toMs, nowMs);
  for (let t = Math.floor(last / SAMPLE_PERIOD_MS) * SAMPLE_PERIOD_MS; t > fromMs; t -= SAMPLE_PERIOD_MS) {
    out.push(t);
  }
  return out.reverse();
}

function coerce(v: MetricValue, d: MetricDescriptorInfo): MetricValue {
  if (d.valueType === "DISTRIBUTION") {
    return typeof v === "number" ? distributionOf([v], d.bucketOptions ?? DEFAULT_BUCKET_OPTIONS) : v;
  }
  const n = typeof v === "number" ? v : v.mean;
  return d.valueType === "INT64" ? Math.round(n) : n;
}

function rawPoints(q: SeriesQuery, s: SeriesIdentity): Point[] {
  // A point-in-time interval (start = end) selects the latest sample, one period back.
  const from = q.startMs >= q.endMs ? q.endMs - SAMPLE_PERIOD_MS : q.startMs;
  const out: Point[] = [];
  for (const t of sampleTimes(from, q.endMs, q.nowMs)) {
    const v = q.valueAt(s, t);
    if (v === undefined) continue;
    out.push({
      endMs: t,
      startMs: q.descriptor.metricKind === "DELTA" ? t - SAMPLE_PERIOD_MS : t,
      value: coerce(v, q.descriptor),
    });
  }
  return out;
}

/**
 * alignedPoints applies the per-series aligner: one point per alignment period, the
 * periods ending at the interval's end time and going back while they end after its
 * start ("a single data value at the end of each alignment_period", common.proto).
 * Periods without samples have no point.
 */
function alignedPoints(q: SeriesQuery, s: SeriesIdentity, agg: Aggregation, outKind: MetricKind): Point[] {
  const out: Point[] = [];
  const P = agg.alignmentPeriodMs;
  const ends: number[] = [];
  if (q.startMs >= q.endMs) ends.push(q.endMs);
  else for (let e = q.endMs; e > q.startMs; e -= P) ends.push(e);
  for (const end of ends) {
    const values: MetricValue[] = [];
    for (const t of sampleTimes(end - P, end, q.nowMs)) {
      const v = q.valueAt(s, t);
      if (v !== undefined) values.push(coerce(v, q.descriptor));
    }
    const v = align(agg.aligner, values, P);
    if (v !== undefined) out.push({ endMs: end, startMs: outKind === "DELTA" ? end - P : end, value: v });
  }
  return out.reverse();
}

function groupValue(field: string, s: SeriesIdentity): string | undefined {
  if (field === "resource.type") return s.resource.type;
  if (field === "metric.type") return s.metricType;
  const m = /^(metric|resource)\.labels?\.(.+)$/.exec(field);
  if (!m) return undefined;
  return (m[1] === "metric" ? s.metricLabels : s.resource.labels)[m[2]!];
}

/**
 * runQuery produces the time series of one ListTimeSeries call: raw samples, or aligned
 * per series, or aligned then reduced across series grouped by `groupByFields` (which
 * implicitly include resource.type; labels not grouped by are dropped from the output).
 * Points are newest first, as the API returns them.
 */
export function runQuery(q: SeriesQuery): OutputSeries[] {
  const d = q.descriptor;
  const agg = q.aggregation;
  const shape = checkAggregation(agg, d);
  const alignedKind = agg
    ? (alignedShape(agg.aligner, { kind: d.metricKind, valueType: d.valueType })?.kind ?? d.metricKind)
    : d.metricKind;
  const perSeries = q.series.map((s) => ({
    id: s,
    points: !agg || agg.aligner === "ALIGN_NONE" ? rawPoints(q, s) : alignedPoints(q, s, agg, alignedKind),
  }));
  let result: { id: SeriesIdentity; points: Point[] }[];
  if (agg && agg.reducer !== "REDUCE_NONE") {
    const groups = new Map<string, { id: SeriesIdentity; members: Point[][] }>();
    for (const s of perSeries) {
      const rl: Record<string, string> = {};
      const ml: Record<string, string> = {};
      for (const f of agg.groupByFields) {
        const v = groupValue(f, s.id);
        const m = /^(metric|resource)\.labels?\.(.+)$/.exec(f);
        if (v === undefined || !m) continue;
        (m[1] === "metric" ? ml : rl)[m[2]!] = v;
      }
      const id: SeriesIdentity = {
        metricType: d.type,
        resource: { type: s.id.resource.type, labels: rl },
        metricLabels: ml,
      };
      const key = seriesKey(id);
      const g = groups.get(key) ?? { id, members: [] };
      g.members.push(s.points);
      groups.set(key, g);
    }
    result = [...groups.values()].map((g) => {
      const byTime = new Map<number, { startMs: number; values: MetricValue[] }>();
      for (const pts of g.members) {
        for (const p of pts) {
          const slot = byTime.get(p.endMs) ?? { startMs: p.startMs, values: [] };
          slot.values.push(p.value);
          byTime.set(p.endMs, slot);
        }
      }
      const points: Point[] = [];
      for (const [endMs, slot] of [...byTime.entries()].sort((a, b) => a[0] - b[0])) {
        const v = reduce(agg.reducer, slot.values);
        if (v !== undefined) points.push({ endMs, startMs: slot.startMs, value: v });
      }
      return { id: g.id, points };
    });
  } else {
    result = perSeries;
  }
  return result
    .filter((s) => s.points.length > 0)
    .sort((a, b) => seriesKey(a.id).localeCompare(seriesKey(b.id)))
    .map((s) => ({
      points: q.headersOnly ? 0 : s.points.length,
      json: {
        metric: { type: d.type, labels: s.id.metricLabels },
        resource: { type: s.id.resource.type, labels: s.id.resource.labels },
        metricKind: shape.kind,
        valueType: shape.valueType,
        ...(q.headersOnly
          ? {}
          : { points: [...s.points].reverse().map((p) => pointJson(p, shape.valueType)) }),
        unit: unitAfter(d.unit, agg?.aligner),
      },
    }));
}

/** unitAfter is the unit of aligned values: a rate is per second, a count has no unit. */
export function unitAfter(unit: string, aligner: Aligner | undefined): string {
  if (aligner === "ALIGN_RATE") return `${unit}/s`;
  if (aligner === "ALIGN_COUNT") return "1";
  return unit;
}

function pointJson(p: Point, valueType: ValueType): JsonObject {
  const iso = (ms: number) => new Date(ms).toISOString();
  let value: JsonObject;
  if (typeof p.value !== "number") value = { distributionValue: distributionJson(p.value) };
  else if (valueType === "INT64") value = { int64Value: String(Math.round(p.value)) };
  else value = { doubleValue: p.value };
  return { interval: { startTime: iso(p.startMs), endTime: iso(p.endMs) }, value };
}
