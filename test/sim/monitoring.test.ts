import { afterEach, describe, expect, it } from "vitest";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { addMetricSource, type MetricSource } from "../../src/sim/monitoring/index.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const T0 = Date.parse("2025-06-01T00:00:00Z");
const MIN = 60_000;
const at = (ms: number) => ({ seconds: Math.floor(ms / 1000) });
const iso = (ms: number) => new Date(ms).toISOString();

const CPU = "vpcaccess.googleapis.com/connector/cpu/utilizations";
const SENT = "vpcaccess.googleapis.com/connector/sent_bytes_count";
const BACKENDS = "cloudsql.googleapis.com/database/postgresql/num_backends";
const INSTANCES = "run.googleapis.com/container/instance_count";
const LATENCY = "run.googleapis.com/request_latencies";

const connector = (name: string) => ({
  type: "vpc_access_connector",
  labels: { resource_container: "acme", location: "us-central1", connector_name: name },
});
const revision = (rev: string) => ({
  type: "cloud_run_revision",
  labels: {
    project_id: "acme",
    service_name: "api",
    revision_name: rev,
    location: "us-central1",
    configuration_name: "api",
  },
});
const database = {
  type: "cloudsql_database",
  labels: { project_id: "acme", database_id: "acme:db", region: "us-central1" },
};

/** A latency histogram: 50 requests in [100,200) ms, 40 in [200,400), 9 in [400,800), 1 above. */
const latencies = {
  count: 100,
  mean: 230,
  bucketOptions: { explicitBuckets: { bounds: [100, 200, 400, 800] } },
  bucketCounts: [0, 50, 40, 9, 1],
};

const fixture: Fixture = {
  monitoring: {
    series: [
      {
        metricType: CPU,
        resource: connector("run-egress"),
        points: [{ value: 0.4 }, { value: 0.9, time: iso(T0 + 10 * MIN) }],
      },
      { metricType: CPU, resource: connector("batch"), value: 0.2 },
      { metricType: SENT, resource: connector("run-egress"), value: 7_500_000 },
      { metricType: BACKENDS, resource: database, metricLabels: { database: "app" }, value: 40 },
      { metricType: BACKENDS, resource: database, metricLabels: { database: "postgres" }, value: 5 },
      { metricType: INSTANCES, resource: revision("api-001"), metricLabels: { state: "active" }, value: 8 },
      { metricType: INSTANCES, resource: revision("api-001"), metricLabels: { state: "idle" }, value: 2 },
      { metricType: INSTANCES, resource: revision("api-002"), metricLabels: { state: "active" }, value: 4 },
      {
        metricType: LATENCY,
        resource: revision("api-001"),
        metricLabels: { response_code_class: "2xx" },
        value: latencies,
      },
    ],
  },
};

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(extra: Fixture = {}, options: { captureResponses?: boolean } = {}): Promise<SimHarness> {
  h = await startSim({ ...fixture, ...extra }, options);
  return h;
}

type ListRequest = Parameters<SimHarness["gcp"]["monitoring"]["listTimeSeries"]>[0];

async function list(harness: SimHarness, request: Omit<NonNullable<ListRequest>, "name">) {
  const [series] = await harness.gcp.monitoring.listTimeSeries({
    name: "projects/acme",
    view: "FULL",
    ...request,
  });
  return series;
}

async function failure(
  p: Promise<unknown>,
): Promise<{ code: number; message: string; statusDetails?: unknown }> {
  const err = await p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e as { code: number; message: string },
  );
  return err;
}

describe("simulated Cloud Monitoring", () => {
  it("returns raw one-minute samples of a distribution gauge, newest first", async () => {
    const harness = await start();
    const series = await list(harness, {
      filter: `metric.type = "${CPU}" AND resource.labels.connector_name = "run-egress"`,
      interval: { startTime: at(T0), endTime: at(T0 + 5 * MIN) },
    });
    expect(series).toHaveLength(1);
    const s = series[0]!;
    expect(s.metricKind).toBe("GAUGE");
    expect(s.valueType).toBe("DISTRIBUTION");
    expect(s.resource?.labels).toEqual(connector("run-egress").labels);
    expect(s.points).toHaveLength(5);
    expect(s.points?.[0]?.interval?.endTime?.seconds).toBe(String((T0 + 5 * MIN) / 1000));
    expect(s.points?.[4]?.interval?.endTime?.seconds).toBe(String((T0 + MIN) / 1000));
    expect(Number(s.points?.[0]?.value?.distributionValue?.count)).toBe(1);
    expect(s.points?.[0]?.value?.distributionValue?.mean).toBeCloseTo(0.4);
  });

  it("aligns a distribution to its 99th percentile per period, following a step in the values", async () => {
    const harness = await start();
    const series = await list(harness, {
      filter: `metric.type = "${CPU}" AND resource.label.connector_name = 'run-egress'`,
      interval: { startTime: at(T0 + 5 * MIN), endTime: at(T0 + 15 * MIN) },
      aggregation: { alignmentPeriod: { seconds: 300 }, perSeriesAligner: "ALIGN_PERCENTILE_99" },
    });
    const points = series[0]?.points ?? [];
    expect(series[0]?.valueType).toBe("DOUBLE");
    expect(points.map((p) => Number(p.interval?.endTime?.seconds) * 1000)).toEqual([
      T0 + 15 * MIN,
      T0 + 10 * MIN,
    ]);
    expect(points[0]?.value?.doubleValue).toBeCloseTo(0.9);
    // The period ending at +10 min holds +6..+9 at 0.4 and +10 at 0.9.
    expect(points[1]?.value?.doubleValue).toBeCloseTo(0.9);
    const median = await list(harness, {
      filter: `metric.type = "${CPU}" AND resource.labels.connector_name = "run-egress"`,
      interval: { startTime: at(T0 + 5 * MIN), endTime: at(T0 + 10 * MIN) },
      aggregation: { alignmentPeriod: { seconds: 300 }, perSeriesAligner: "ALIGN_PERCENTILE_50" },
    });
    // Percentiles interpolate inside the 0.01-wide bucket holding the rank, as GCP does.
    expect(median[0]?.points?.[0]?.value?.doubleValue).toBeGreaterThanOrEqual(0.4);
    expect(median[0]?.points?.[0]?.value?.doubleValue).toBeLessThan(0.41);
  });

  it("computes latency percentiles from the histogram buckets", async () => {
    const harness = await start();
    const p = async (aligner: "ALIGN_PERCENTILE_99" | "ALIGN_PERCENTILE_95" | "ALIGN_PERCENTILE_50") => {
      const s = await list(harness, {
        filter: `metric.type = "${LATENCY}"`,
        interval: { startTime: at(T0), endTime: at(T0 + MIN) },
        aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: aligner },
      });
      return s[0]?.points?.[0]?.value?.doubleValue;
    };
    expect(await p("ALIGN_PERCENTILE_99")).toBeCloseTo(800);
    expect(await p("ALIGN_PERCENTILE_95")).toBeCloseTo(400 + (400 * 5) / 9);
    expect(await p("ALIGN_PERCENTILE_50")).toBeCloseTo(200);
  });

  it("turns a DELTA byte count into a rate in bytes per second", async () => {
    const harness = await start();
    const series = await list(harness, {
      filter: `metric.type = "${SENT}"`,
      interval: { startTime: at(T0), endTime: at(T0 + 10 * MIN) },
      aggregation: { alignmentPeriod: { seconds: 300 }, perSeriesAligner: "ALIGN_RATE" },
    });
    expect(series[0]?.metricKind).toBe("GAUGE");
    expect(series[0]?.unit).toBe("By/s");
    expect(series[0]?.points?.map((p) => p.value?.doubleValue)).toEqual([125_000, 125_000]);
    const raw = await list(harness, {
      filter: `metric.type = "${SENT}"`,
      interval: { startTime: at(T0), endTime: at(T0 + MIN) },
    });
    expect(raw[0]?.points?.[0]?.value?.int64Value).toBe("7500000");
    expect(Number(raw[0]?.points?.[0]?.interval?.startTime?.seconds)).toBe(T0 / 1000);
  });

  it("sums instances across revisions grouped by state, dropping the labels not grouped by", async () => {
    const harness = await start();
    const series = await list(harness, {
      filter: `metric.type = "${INSTANCES}" AND resource.labels.service_name = "api"`,
      interval: { startTime: at(T0), endTime: at(T0 + MIN) },
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: "ALIGN_MEAN",
        crossSeriesReducer: "REDUCE_SUM",
        groupByFields: ["metric.label.state"],
      },
    });
    expect(
      series.map((s) => [s.metric?.labels, s.resource?.labels, s.points?.[0]?.value?.doubleValue]),
    ).toEqual([
      [{ state: "active" }, {}, 12],
      [{ state: "idle" }, {}, 2],
    ]);
    const max = await list(harness, {
      filter: `metric.type = "${BACKENDS}"`,
      interval: { startTime: at(T0), endTime: at(T0 + MIN) },
      aggregation: {
        alignmentPeriod: { seconds: 60 },
        perSeriesAligner: "ALIGN_MAX",
        crossSeriesReducer: "REDUCE_SUM",
        groupByFields: ["resource.labels.database_id"],
      },
    });
    expect(max).toHaveLength(1);
    expect(max[0]?.resource?.labels).toEqual({ database_id: "acme:db" });
    expect(max[0]?.points?.[0]?.value?.int64Value).toBe("45");
  });

  it("reduces distributions across series to a percentile and a mean", async () => {
    const harness = await start();
    const run = async (reducer: "REDUCE_PERCENTILE_99" | "REDUCE_MEAN") =>
      list(harness, {
        filter: `metric.type = "${CPU}"`,
        interval: { startTime: at(T0), endTime: at(T0 + MIN) },
        aggregation: {
          alignmentPeriod: { seconds: 60 },
          perSeriesAligner: "ALIGN_SUM",
          crossSeriesReducer: reducer,
        },
      });
    expect((await run("REDUCE_PERCENTILE_99"))[0]?.points?.[0]?.value?.doubleValue).toBeCloseTo(0.4, 1);
    expect((await run("REDUCE_MEAN"))[0]?.points?.[0]?.value?.doubleValue).toBeCloseTo(0.3);
  });

  it("refuses an aligner the metric's kind and value type do not allow, in GCP's words", async () => {
    const harness = await start();
    const err = await failure(
      list(harness, {
        filter: `metric.type = "${CPU}"`,
        interval: { startTime: at(T0), endTime: at(T0 + MIN) },
        aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: "ALIGN_MEAN" },
      }),
    );
    expect(err.code).toBe(3);
    expect(err.message).toBe(
      'Field aggregation.perSeriesAligner had an invalid value of "ALIGN_MEAN": The aligner cannot be applied to metrics with kind GAUGE and value type DISTRIBUTION.',
    );
    const rate = await failure(
      list(harness, {
        filter: `metric.type = "${BACKENDS}"`,
        interval: { startTime: at(T0), endTime: at(T0 + MIN) },
        aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: "ALIGN_RATE" },
      }),
    );
    expect(rate.message).toContain("kind GAUGE and value type INT64");
    const reducer = await failure(
      list(harness, {
        filter: `metric.type = "${LATENCY}"`,
        interval: { startTime: at(T0), endTime: at(T0 + MIN) },
        aggregation: {
          alignmentPeriod: { seconds: 60 },
          perSeriesAligner: "ALIGN_DELTA",
          crossSeriesReducer: "REDUCE_MAX",
        },
      }),
    );
    expect(reducer.message).toContain(
      'Field aggregation.crossSeriesReducer had an invalid value of "REDUCE_MAX"',
    );
  });

  it("requires an alignment period of at least a minute and an aligner under a reducer", async () => {
    const harness = await start();
    const base = {
      filter: `metric.type = "${BACKENDS}"`,
      interval: { startTime: at(T0), endTime: at(T0 + MIN) },
    };
    const noPeriod = await failure(
      list(harness, { ...base, aggregation: { perSeriesAligner: "ALIGN_MAX" } }),
    );
    expect(noPeriod.code).toBe(3);
    expect(noPeriod.message).toContain("aggregation.alignmentPeriod");
    const short = await failure(
      list(harness, {
        ...base,
        aggregation: { alignmentPeriod: { seconds: 30 }, perSeriesAligner: "ALIGN_MAX" },
      }),
    );
    expect(short.message).toContain("at least 60 seconds");
    const noAligner = await failure(
      list(harness, {
        ...base,
        aggregation: { alignmentPeriod: { seconds: 60 }, crossSeriesReducer: "REDUCE_SUM" },
      }),
    );
    expect(noAligner.message).toContain("aggregation.perSeriesAligner");
    const unsupported = await failure(
      list(harness, {
        ...base,
        aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: "ALIGN_STDDEV" },
      }),
    );
    expect(unsupported.code).toBe(12);
  });

  it("refuses filter syntax outside the supported subset with a message that names it", async () => {
    const harness = await start();
    const interval = { startTime: at(T0), endTime: at(T0 + MIN) };
    const cases: [string, string][] = [
      [`metric.type = "${CPU}" OR resource.type = "x"`, "OR is not supported"],
      [`metric.type = "${CPU}" AND resource.labels.connector_name != "a"`, "only `=` comparisons"],
      [`metric.type = starts_with("vpcaccess")`, "function `starts_with(...)`"],
      [`metric.type = ${CPU}`, "must be a quoted string"],
      [`metric.type = "${CPU}" and resource.type = "x"`, "expected AND"],
      [`resource.type = "vpc_access_connector"`, "The filter must specify a single metric type"],
      [`metric.type = "${CPU}" AND metric.type = "${SENT}"`, "The filter must specify a single metric type"],
      [`(metric.type = "${CPU}")`, "parentheses are not supported"],
      [`project = "acme" AND metric.type = "${CPU}"`, "selector `project` is not supported"],
    ];
    for (const [filter, why] of cases) {
      const err = await failure(list(harness, { filter, interval }));
      expect(err.code, filter).toBe(3);
      expect(err.message, filter).toContain(`Field filter had an invalid value of "${filter}": `);
      expect(err.message, filter).toContain(why);
    }
  });

  it("answers a metric type it has no descriptor of with NOT_FOUND, as GCP does", async () => {
    const harness = await start();
    const err = await failure(
      list(harness, { filter: 'metric.type = "custom.googleapis.com/nope"', interval: { endTime: at(T0) } }),
    );
    expect(err.code).toBe(5);
    expect(err.message).toContain('Cannot find metric(s) that match type = "custom.googleapis.com/nope"');
  });

  it("requires an interval end time not before its start", async () => {
    const harness = await start();
    const filter = `metric.type = "${BACKENDS}"`;
    const missing = await failure(list(harness, { filter }));
    expect(missing.code).toBe(3);
    expect(missing.message).toContain("interval.endTime");
    const crossed = await failure(
      list(harness, { filter, interval: { startTime: at(T0 + MIN), endTime: at(T0) } }),
    );
    expect(crossed.message).toContain("interval.startTime");
  });

  it("answers a point-in-time interval with the latest sample and never with samples from the future", async () => {
    const harness = await start();
    const now = harness.sim.clock.now();
    const point = await list(harness, {
      filter: `metric.type = "${BACKENDS}"`,
      interval: { endTime: at(T0 + 90_000) },
    });
    expect(point[0]?.points?.map((p) => Number(p.interval?.endTime?.seconds) * 1000)).toEqual([T0 + MIN]);
    const future = await list(harness, {
      filter: `metric.type = "${BACKENDS}"`,
      interval: { startTime: at(now - 3 * MIN), endTime: at(now + 60 * MIN) },
    });
    const times = future[0]?.points?.map((p) => Number(p.interval?.endTime?.seconds) * 1000) ?? [];
    expect(times.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...times)).toBeLessThanOrEqual(harness.sim.clock.now());
  });

  it("returns only the series of the project the request names", async () => {
    const harness = await start();
    const [other] = await harness.gcp.monitoring.listTimeSeries({
      name: "projects/someone-else",
      filter: `metric.type = "${CPU}"`,
      interval: { endTime: at(T0 + MIN) },
      view: "FULL",
    });
    expect(other).toEqual([]);
    expect(
      await list(harness, { filter: `metric.type = "${CPU}"`, interval: { endTime: at(T0 + MIN) } }),
    ).toHaveLength(2);
  });

  it("returns identities without points for view HEADERS", async () => {
    const harness = await start();
    const series = await list(harness, {
      filter: `metric.type = "${INSTANCES}"`,
      interval: { startTime: at(T0), endTime: at(T0 + MIN) },
      view: "HEADERS",
    });
    expect(series).toHaveLength(3);
    expect(series.every((s) => (s.points ?? []).length === 0)).toBe(true);
  });

  it("pages by points, with whole series per page, and refuses a forged page token", async () => {
    const harness = await start();
    const request = {
      name: "projects/acme",
      filter: `metric.type = "${INSTANCES}"`,
      interval: { startTime: at(T0), endTime: at(T0 + 2 * MIN) },
      view: "FULL" as const,
      pageSize: 3,
    };
    const [first, , raw] = await harness.gcp.monitoring.listTimeSeries(request, { autoPaginate: false });
    expect(first).toHaveLength(1);
    expect(raw?.nextPageToken).toBeTruthy();
    const all = await list(harness, { ...request });
    expect(all).toHaveLength(3);
    expect(harness.sim.requests().filter((r) => r.rpc.endsWith("ListTimeSeries")).length).toBe(4);
    const err = await failure(list(harness, { ...request, pageToken: "bm9wZQ" }));
    expect(err.code).toBe(3);
  });

  it("replaces series through the control route", async () => {
    const harness = await start();
    const url = `${harness.endpoint}/__sim/services/monitoring/series`;
    const put = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({ series: [{ metricType: CPU, resource: connector("run-egress"), value: 0.95 }] }),
    });
    expect(put.status).toBe(200);
    const series = await list(harness, {
      filter: `metric.type = "${CPU}" AND resource.labels.connector_name = "run-egress"`,
      interval: { endTime: at(T0 + MIN) },
    });
    expect(series[0]?.points?.[0]?.value?.distributionValue?.mean).toBeCloseTo(0.95);
    const replaced = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({
        replace: true,
        series: [{ metricType: SENT, resource: connector("x"), value: 1 }],
      }),
    });
    expect(await replaced.json()).toEqual({ series: 1 });
    expect(
      await list(harness, { filter: `metric.type = "${CPU}"`, interval: { endTime: at(T0 + MIN) } }),
    ).toEqual([]);
    const bad = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({
        series: [{ metricType: CPU, resource: { type: "gce_instance", labels: {} }, value: 1 }],
      }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      "resource type must be vpc_access_connector",
    );
    const got = (await (await fetch(url)).json()) as { series: unknown[] };
    expect(got.series).toHaveLength(1);
    expect((await fetch(url, { method: "DELETE" })).status).toBe(200);
    expect((await fetch(`${harness.endpoint}/__sim/services/monitoring/other`)).status).toBe(400);
  });

  it("serves values from a registered source, with fixture values taking precedence", async () => {
    const harness = await start();
    let calls = 0;
    const source: MetricSource = {
      series: (type) =>
        type === CPU ? [{ metricType: CPU, resource: connector("from-model"), metricLabels: {} }] : [],
      value(type, resource, _labels, timeMs) {
        calls++;
        if (type !== CPU) return undefined;
        // Utilisation rising by 0.1 a minute from T0, for the model's connector only.
        return resource.labels["connector_name"] === "from-model" ? (timeMs - T0) / MIN / 10 : 0.77;
      },
    };
    const remove = addMetricSource(harness.sim, source);
    const series = await list(harness, {
      filter: `metric.type = "${CPU}"`,
      interval: { startTime: at(T0), endTime: at(T0 + 3 * MIN) },
      aggregation: { alignmentPeriod: { seconds: 60 }, perSeriesAligner: "ALIGN_PERCENTILE_50" },
    });
    const byName = new Map(
      series.map((s) => [
        s.resource?.labels?.["connector_name"],
        (s.points ?? []).map((p) => Number((p.value?.doubleValue ?? Number.NaN).toFixed(3))),
      ]),
    );
    expect(byName.get("from-model")).toEqual([0.3, 0.2, 0.1]);
    expect(byName.get("batch")).toEqual([0.2, 0.2, 0.2]);
    expect(calls).toBeGreaterThan(0);
    remove();
    const after = await list(harness, {
      filter: `metric.type = "${CPU}"`,
      interval: { endTime: at(T0 + MIN) },
    });
    expect(after.map((s) => s.resource?.labels?.["connector_name"]).sort()).toEqual(["batch", "run-egress"]);
  });

  it("refuses fixture series that do not fit their metric", async () => {
    const bad = async (series: unknown) => startSim({ monitoring: { series: [series] } });
    await expect(
      bad({ metricType: CPU, resource: { type: "vpc_access_connector", labels: {} }, value: 1 }),
    ).rejects.toThrow(/missing resource_container, location, connector_name/);
    await expect(
      bad({ metricType: INSTANCES, resource: revision("r"), metricLabels: { colour: "red" }, value: 1 }),
    ).rejects.toThrow(/unknown metric label\(s\) colour/);
    await expect(
      bad({ metricType: "custom.googleapis.com/x", resource: database, value: 1 }),
    ).rejects.toThrow(/unknown metric type/);
    await expect(
      bad({ metricType: BACKENDS, resource: database, value: 1, points: [{ value: 2 }] }),
    ).rejects.toThrow(/exactly one of value and points/);
  });

  it("serves a metric type the fixture declares with its kind and value type", async () => {
    const harness = await start({
      monitoring: {
        series: [
          {
            metricType: "custom.googleapis.com/queue_depth",
            metricKind: "GAUGE",
            valueType: "DOUBLE",
            unit: "1",
            resource: { type: "global", labels: { project_id: "acme" } },
            value: 12.5,
          },
        ],
      },
    });
    const series = await list(harness, {
      filter: 'metric.type = "custom.googleapis.com/queue_depth"',
      interval: { endTime: at(T0 + MIN) },
    });
    expect(series[0]?.points?.[0]?.value?.doubleValue).toBe(12.5);
  });

  it("records a gate's time-series reads as a golden HTTP log", async () => {
    const harness = await start({}, { captureResponses: true });
    await list(harness, {
      filter: `metric.type = "${CPU}" AND resource.labels.connector_name = "run-egress"`,
      interval: { startTime: at(T0 + 8 * MIN), endTime: at(T0 + 12 * MIN) },
      aggregation: {
        alignmentPeriod: { seconds: 120 },
        perSeriesAligner: "ALIGN_PERCENTILE_99",
        crossSeriesReducer: "REDUCE_MAX",
        groupByFields: ["resource.label.connector_name"],
      },
    });
    await list(harness, {
      filter: `metric.type = "${BACKENDS}" AND resource.labels.database_id = "acme:db"`,
      interval: { startTime: at(T0), endTime: at(T0 + 2 * MIN) },
    });
    await failure(
      list(harness, {
        filter: `metric.type = "${CPU}" OR metric.type = "${SENT}"`,
        interval: { endTime: at(T0) },
      }),
    );
    expectGolden("sim/monitoring-list-time-series.json", normalizeLog(harness.sim.requests()));
  });
});
