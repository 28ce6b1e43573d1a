import { SimError } from "../core/errors.ts";
import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { Simulator } from "../core/server.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import { FilterError, matchesFilter, parseFilter } from "./filter.ts";
import {
  type Aggregation,
  ALIGNERS,
  type Aligner,
  DEFAULT_BUCKET_OPTIONS,
  invalidField,
  KNOWN_METRICS,
  type MetricDescriptorInfo,
  type MetricKind,
  type MetricValue,
  REDUCERS,
  type Reducer,
  readDistribution,
  runQuery,
  type SeriesIdentity,
  seriesKey,
  type ValueType,
} from "./time-series.ts";

export type {
  DistributionValue,
  MetricDescriptorInfo,
  MetricValue,
  SeriesIdentity,
} from "./time-series.ts";
export { distributionOf, KNOWN_METRICS, SAMPLE_PERIOD_MS } from "./time-series.ts";

const SVC = "google.monitoring.v3.MetricService";

/**
 * MetricSource supplies time-series values to the simulated Cloud Monitoring API. The
 * simulator asks it which series exist for a metric type, then, for each sample time of
 * a request (one per minute; see SAMPLE_PERIOD_MS), for the value of a series:
 * `value(metricType, resource, metricLabels, timeMs)`. It is a pure function of its
 * arguments and whatever live state it reads, so the simulator can sample it over any
 * interval and align, aggregate and page the points itself.
 *
 * A number is an INT64/DOUBLE value (for a DELTA metric, the amount in the minute ending
 * at `timeMs`); a distribution metric takes a DistributionValue, or a number meaning one
 * sample. `undefined` means no point at that time. The load model registers one with
 * {@link addMetricSource} to turn the other services' live settings into utilisation.
 */
export interface MetricSource {
  /** series lists the series this source has for a metric type (possibly none). */
  series(metricType: string): readonly SeriesIdentity[];
  /** value returns the sample of one series at `timeMs` (epoch ms), or undefined. */
  value(
    metricType: string,
    resource: SeriesIdentity["resource"],
    metricLabels: Readonly<Record<string, string>>,
    timeMs: number,
  ): MetricValue | undefined;
  /**
   * descriptor describes a metric type the source writes that the simulator does not know
   * (a user-defined `custom.googleapis.com/...` metric), as writing its first point
   * creates the descriptor in GCP.
   */
  descriptor?(metricType: string): MetricDescriptorInfo | undefined;
}

/** A distribution as a fixture gives it: google.api.Distribution JSON. */
type DistributionInput = JsonObject;

/**
 * SeriesInput is one series of the fixture section `monitoring.series` or of the control
 * route `PUT /__sim/services/monitoring/series`. Either a constant `value`, or `points`:
 * a step function where each point holds from its `time` (RFC 3339; omitted means "since
 * always") until the next. A metric type the simulator does not know needs `metricKind`,
 * `valueType` and `unit`.
 */
export interface SeriesInput {
  readonly metricType: string;
  readonly resource: { readonly type: string; readonly labels?: Readonly<Record<string, string>> };
  readonly metricLabels?: Readonly<Record<string, string>>;
  readonly value?: number | DistributionInput;
  readonly points?: readonly { readonly value: number | DistributionInput; readonly time?: string }[];
  readonly metricKind?: MetricKind;
  readonly valueType?: ValueType;
  readonly unit?: string;
}

/** MonitoringSection is the fixture section `monitoring`: `{series: SeriesInput[]}`. */
export interface MonitoringSection {
  readonly series?: readonly SeriesInput[];
}

/** MonitoringService is the simulated Cloud Monitoring API with its value sources. */
export interface MonitoringService extends SimService {
  /**
   * addSource registers a source of values, consulted after the fixture's series and
   * before earlier-registered sources; it returns a function that removes it.
   */
  addSource(source: MetricSource): () => void;
  /** setSeries sets series by identity, replacing all series first when `replace`. */
  setSeries(inputs: readonly SeriesInput[], replace?: boolean): void;
  /** control serves `/__sim/services/monitoring/series` (GET, PUT `{series, replace?}`, DELETE). */
  control(method: string, subpath: string, body: JsonObject): unknown;
}

/**
 * addMetricSource registers a value source with a simulator's Cloud Monitoring service and
 * returns a function that removes it. Values set by the fixture or the control route take
 * precedence, so a test can still pin a series the source also produces.
 */
export function addMetricSource(sim: Simulator, source: MetricSource): () => void {
  return sim.service<MonitoringService>("monitoring").addSource(source);
}

interface StoredSeries {
  readonly id: SeriesIdentity;
  readonly input: SeriesInput;
  readonly descriptor: MetricDescriptorInfo;
  /** Sorted by time; -Infinity for a point without a time. */
  readonly steps: readonly { readonly atMs: number; readonly value: MetricValue }[];
}

/**
 * monitoring simulates Cloud Monitoring v3 ListTimeSeries
 * (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list) over
 * the metric types capstan's gates read, with values from the fixture, the control route
 * and registered {@link MetricSource}s.
 */
export function monitoring(ctx: SimContext): MonitoringService {
  const root = loadRoot("monitoring");
  let stored = new Map<string, StoredSeries>();
  const sources: MetricSource[] = [];
  const extraDescriptors = new Map<string, MetricDescriptorInfo>();

  const descriptorOf = (type: string): MetricDescriptorInfo | undefined =>
    KNOWN_METRICS[type] ??
    extraDescriptors.get(type) ??
    sources.map((src) => src.descriptor?.(type)).find((d) => d !== undefined);

  const staticSource: MetricSource = {
    series: (type) => [...stored.values()].filter((s) => s.id.metricType === type).map((s) => s.id),
    value(type, resource, metricLabels, timeMs) {
      const s = stored.get(seriesKey({ metricType: type, resource, metricLabels }));
      if (!s) return undefined;
      let v: MetricValue | undefined;
      for (const step of s.steps) {
        if (step.atMs > timeMs) break;
        v = step.value;
      }
      return v;
    },
  };

  const setSeries = (inputs: readonly SeriesInput[], replace = false): void => {
    const next = replace ? new Map<string, StoredSeries>() : new Map(stored);
    for (const input of inputs) {
      const s = toStored(input, extraDescriptors);
      next.set(seriesKey(s.id), s);
    }
    stored = next;
  };

  const enumName = (enumName: string, raw: unknown, field: string): string | undefined => {
    if (raw === undefined || raw === "") return undefined;
    const e = root.lookupEnum(enumName);
    const text = String(raw);
    const name = /^\d+$/.test(text) ? e.valuesById[Number(text)] : text;
    if (name === undefined || e.values[name] === undefined)
      throw invalidField(field, text, "Unknown enum value.");
    return name;
  };

  const parseAggregation = (a: JsonObject | undefined): Aggregation | undefined => {
    if (!a) return undefined;
    const aligner = (enumName(
      "google.monitoring.v3.Aggregation.Aligner",
      a["perSeriesAligner"],
      "aggregation.perSeriesAligner",
    ) ?? "ALIGN_NONE") as Aligner;
    const reducer = (enumName(
      "google.monitoring.v3.Aggregation.Reducer",
      a["crossSeriesReducer"],
      "aggregation.crossSeriesReducer",
    ) ?? "REDUCE_NONE") as Reducer;
    if (!ALIGNERS.includes(aligner)) {
      throw new SimError(`Aligner ${aligner} is not supported by the capstan simulator.`, {
        status: "UNIMPLEMENTED",
      });
    }
    if (!REDUCERS.includes(reducer)) {
      throw new SimError(`Reducer ${reducer} is not supported by the capstan simulator.`, {
        status: "UNIMPLEMENTED",
      });
    }
    const groupByFields = ((a["groupByFields"] ?? []) as unknown[]).map(String);
    if (aligner === "ALIGN_NONE" && reducer === "REDUCE_NONE") {
      return undefined;
    }
    // "If cross_series_reducer is specified, then per_series_aligner must be specified,
    // and must not be ALIGN_NONE. An alignment_period must also be specified"; "The value
    // must be at least 60 seconds" (google/monitoring/v3/common.proto, Aggregation).
    if (aligner === "ALIGN_NONE") {
      throw invalidField(
        "aggregation.perSeriesAligner",
        aligner,
        "A per-series aligner other than ALIGN_NONE is required when a cross-series reducer is specified.",
      );
    }
    const periodText = a["alignmentPeriod"] === undefined ? "" : String(a["alignmentPeriod"]);
    const m = /^(\d+(?:\.\d+)?)s$/.exec(periodText);
    if (!m) {
      throw invalidField(
        "aggregation.alignmentPeriod",
        periodText,
        "An alignment period is required when a per-series aligner is specified.",
      );
    }
    const periodMs = Math.round(Number(m[1]) * 1000);
    if (periodMs < 60_000) {
      throw invalidField(
        "aggregation.alignmentPeriod",
        periodText,
        "The alignment period must be at least 60 seconds.",
      );
    }
    for (const f of groupByFields) {
      if (!/^(resource\.type|metric\.type|(metric|resource)\.labels?\.[A-Za-z_][A-Za-z0-9_]*)$/.test(f)) {
        throw invalidField("aggregation.groupByFields", f, "Unsupported group-by field.");
      }
    }
    return { alignmentPeriodMs: periodMs, aligner, reducer, groupByFields };
  };

  const parseTime = (raw: unknown, field: string): number | undefined => {
    if (raw === undefined || raw === "") return undefined;
    const ms = Date.parse(String(raw));
    if (!Number.isFinite(ms)) throw invalidField(field, String(raw), "Invalid timestamp.");
    return ms;
  };

  const listTimeSeries = (body: JsonObject): JsonObject => {
    const filterText = String(body["filter"] ?? "");
    let filter: ReturnType<typeof parseFilter>;
    try {
      filter = parseFilter(filterText);
    } catch (err) {
      if (err instanceof FilterError) throw invalidField("filter", filterText, err.reason);
      throw err;
    }
    const interval = (body["interval"] ?? {}) as JsonObject;
    const endMs = parseTime(interval["endTime"], "interval.endTime");
    if (endMs === undefined) {
      throw invalidField("interval.endTime", "", "The end time of the interval is required.");
    }
    const startMs = parseTime(interval["startTime"], "interval.startTime") ?? endMs;
    if (startMs > endMs) {
      throw invalidField(
        "interval.startTime",
        String(interval["startTime"]),
        "The start time must be before or equal to the end time.",
      );
    }
    if (body["orderBy"])
      throw invalidField("orderBy", String(body["orderBy"]), "Unsupported: must be left blank.");
    const secondary = body["secondaryAggregation"] as JsonObject | undefined;
    if (secondary && Object.keys(secondary).length > 0) {
      throw new SimError("secondaryAggregation is not supported by the capstan simulator.", {
        status: "UNIMPLEMENTED",
      });
    }
    const view =
      enumName("google.monitoring.v3.ListTimeSeriesRequest.TimeSeriesView", body["view"], "view") ?? "FULL";
    const descriptor = descriptorOf(filter.metricType);
    if (!descriptor) {
      // GCP's answer for a metric type the project has no descriptor of.
      throw new SimError(
        `Cannot find metric(s) that match type = "${filter.metricType}". If a metric was created recently, it could take up to 10 minutes to become available.`,
        { status: "NOT_FOUND" },
      );
    }
    const aggregation = parseAggregation(body["aggregation"] as JsonObject | undefined);
    const project = /^projects\/([^/]+)$/.exec(String(body["name"] ?? ""))?.[1];
    const seen = new Map<string, SeriesIdentity>();
    for (const src of [staticSource, ...[...sources].reverse()]) {
      for (const id of src.series(descriptor.type)) {
        if (id.metricType !== descriptor.type || !matchesFilter(filter, id)) continue;
        if (project !== undefined && !inProject(id, project)) continue;
        seen.set(seriesKey(id), id);
      }
    }
    const valueAt = (id: SeriesIdentity, t: number): MetricValue | undefined => {
      for (const src of [staticSource, ...[...sources].reverse()]) {
        const v = src.value(id.metricType, id.resource, id.metricLabels, t);
        if (v !== undefined) return v;
      }
      return undefined;
    };
    const all = runQuery({
      descriptor,
      series: [...seen.values()],
      valueAt,
      startMs,
      endMs,
      nowMs: ctx.now(),
      aggregation,
      headersOnly: view === "HEADERS",
    });
    // page_size counts points for view FULL and series for HEADERS; the default and the
    // cap are 100,000 (ListTimeSeriesRequest.page_size). Pages hold whole series.
    const requested = Number(body["pageSize"] ?? 0);
    const size = requested > 0 && requested <= 100_000 ? requested : 100_000;
    let start = 0;
    const token = body["pageToken"] ? String(body["pageToken"]) : "";
    if (token) {
      const decoded = /^s:(\d+)$/.exec(Buffer.from(token, "base64url").toString("utf8"));
      if (!decoded) throw invalidField("pageToken", token, "Invalid page token.");
      start = Number(decoded[1]);
    }
    const page: JsonObject[] = [];
    let used = 0;
    let i = start;
    for (; i < all.length; i++) {
      const cost = view === "HEADERS" ? 1 : all[i]!.points;
      if (page.length > 0 && used + cost > size) break;
      page.push(all[i]!.json);
      used += cost;
    }
    const units = new Set(all.map((s) => String(s.json["unit"])));
    return {
      timeSeries: page,
      nextPageToken: i < all.length ? Buffer.from(`s:${i}`).toString("base64url") : "",
      unit: units.size === 1 ? [...units][0]! : units.size > 1 ? "{not_a_unit}" : "",
    };
  };

  const control = (method: string, subpath: string, body: JsonObject): unknown => {
    if (subpath !== "series") throw new Error(`no monitoring control route ${subpath}; expected series`);
    if (method === "GET") return { series: [...stored.values()].map((s) => s.input) };
    if (method === "PUT") {
      const inputs = body["series"];
      if (!Array.isArray(inputs)) throw new TypeError("Expected `series` to be an array of series");
      setSeries(inputs as SeriesInput[], body["replace"] === true);
      return { series: stored.size };
    }
    if (method === "DELETE") {
      stored = new Map();
      return { series: 0 };
    }
    throw new Error(`no monitoring control route ${method} ${subpath}`);
  };

  return {
    api: "monitoring.googleapis.com",
    key: "monitoring",
    rpcs: rpcsOf(root, SVC),
    handlers: { [`${SVC}.ListTimeSeries`]: (req) => listTimeSeries(req.body) },
    load(section) {
      extraDescriptors.clear();
      stored = new Map();
      setSeries(((section ?? {}) as MonitoringSection).series ?? []);
    },
    dump() {
      return { series: [...stored.values()].map((s) => s.input) };
    },
    addSource(source) {
      sources.push(source);
      return () => {
        const i = sources.indexOf(source);
        if (i >= 0) sources.splice(i, 1);
      };
    },
    setSeries,
    control,
  };
}

/**
 * inProject says whether a series belongs to the project a request names, by its
 * resource's project label (`project_id`, or `resource_container` for resources such as
 * vpc_access_connector, which holds a project id or `projects/NUMBER`). Series without
 * either label belong to every project.
 */
function inProject(id: SeriesIdentity, project: string): boolean {
  const label = id.resource.labels["project_id"] ?? id.resource.labels["resource_container"];
  return label === undefined || label === project || label === `projects/${project}`;
}

/** toStored validates one series input against its metric's descriptor and compiles its steps. */
function toStored(input: SeriesInput, extra: Map<string, MetricDescriptorInfo>): StoredSeries {
  const where = `monitoring: series ${JSON.stringify(input?.metricType)}`;
  if (
    !input ||
    typeof input.metricType !== "string" ||
    !input.resource ||
    typeof input.resource.type !== "string"
  ) {
    throw new TypeError(`${where}: expected {metricType, resource: {type, labels}, value | points}`);
  }
  let d = KNOWN_METRICS[input.metricType] ?? extra.get(input.metricType);
  if (!d) {
    if (!input.metricKind || !input.valueType || input.unit === undefined) {
      throw new TypeError(
        `${where}: unknown metric type; give metricKind (GAUGE|DELTA), valueType (INT64|DOUBLE|DISTRIBUTION) and unit, or use one of ${Object.keys(KNOWN_METRICS).join(", ")}`,
      );
    }
    d = {
      type: input.metricType,
      metricKind: input.metricKind,
      valueType: input.valueType,
      unit: input.unit,
      resourceType: input.resource.type,
      resourceLabels: Object.keys(input.resource.labels ?? {}),
      metricLabels: Object.keys(input.metricLabels ?? {}),
    };
    extra.set(d.type, d);
  }
  if (input.resource.type !== d.resourceType) {
    throw new TypeError(`${where}: resource type must be ${d.resourceType}, got ${input.resource.type}`);
  }
  const labels = input.resource.labels ?? {};
  const missing = d.resourceLabels.filter((k) => labels[k] === undefined);
  const unknown = Object.keys(labels).filter((k) => !d.resourceLabels.includes(k));
  if (missing.length || unknown.length) {
    throw new TypeError(
      `${where}: resource ${d.resourceType} has labels ${d.resourceLabels.join(", ")}${missing.length ? `; missing ${missing.join(", ")}` : ""}${unknown.length ? `; unknown ${unknown.join(", ")}` : ""}`,
    );
  }
  const metricLabels = input.metricLabels ?? {};
  const badMetric = Object.keys(metricLabels).filter((k) => !d.metricLabels.includes(k));
  if (badMetric.length) {
    throw new TypeError(
      `${where}: unknown metric label(s) ${badMetric.join(", ")}; expected some of ${d.metricLabels.join(", ") || "none"}`,
    );
  }
  if ((input.value === undefined) === (input.points === undefined)) {
    throw new TypeError(`${where}: give exactly one of value and points`);
  }
  const read = (v: unknown): MetricValue => {
    if (d.valueType === "DISTRIBUTION") return readDistribution(v, d.bucketOptions ?? DEFAULT_BUCKET_OPTIONS);
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new TypeError(`${where}: expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const steps = (input.points ?? [{ value: input.value as number | DistributionInput }])
    .map((p) => {
      const atMs = p.time === undefined ? Number.NEGATIVE_INFINITY : Date.parse(p.time);
      if (Number.isNaN(atMs)) throw new TypeError(`${where}: bad point time ${JSON.stringify(p.time)}`);
      return { atMs, value: read(p.value) };
    })
    .sort((a, b) => a.atMs - b.atMs);
  return {
    id: {
      metricType: d.type,
      resource: { type: d.resourceType, labels: { ...labels } },
      metricLabels: { ...metricLabels },
    },
    input,
    descriptor: d,
    steps,
  };
}
