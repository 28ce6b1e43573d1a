import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { monitoringGateReader } from "../../src/apply/gates.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import type { LoadModelService } from "../../src/sim/load/index.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const PROJECT = "acme-staging";
const SERVICE = "projects/acme-staging/locations/europe-west1/services/backend";
const CONNECTOR = "projects/acme-staging/locations/europe-west1/connectors/staging-egress";

const SUCCESS = "custom.googleapis.com/capstan/db_connection_success_ratio";
const ESTABLISH = "custom.googleapis.com/capstan/db_connection_establishment_seconds";
const POOL = "custom.googleapis.com/capstan/db_pool_utilization";
const CPU = "vpcaccess.googleapis.com/connector/cpu/utilizations";
const BACKENDS = "cloudsql.googleapis.com/database/postgresql/num_backends";
const INSTANCES = "run.googleapis.com/container/instance_count";
const REQUESTS = "run.googleapis.com/request_count";
const LATENCY = "run.googleapis.com/request_latencies";

const MIN = 60_000;
const secs = (ms: number) => ({ seconds: Math.floor(ms / 1000) });

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function degraded(change: (f: Record<string, unknown>) => void = () => {}): Promise<SimHarness> {
  const fixture = structuredClone(await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Record<
    string,
    unknown
  >;
  change(fixture);
  h = await startSim(fixture as Fixture);
  return h;
}

type Aligner = "ALIGN_MAX" | "ALIGN_MIN" | "ALIGN_PERCENTILE_99" | "ALIGN_SUM";

/** aligned reads one metric over the last `minutes` through the real Monitoring client, one value per series. */
async function aligned(
  harness: SimHarness,
  metric: string,
  aligner: Aligner,
  minutes = 20,
): Promise<number[]> {
  const end = harness.sim.clock.now();
  const [series] = await harness.gcp.monitoring.listTimeSeries({
    name: `projects/${PROJECT}`,
    filter: `metric.type = "${metric}"`,
    interval: { startTime: secs(end - minutes * MIN), endTime: secs(end) },
    aggregation: { alignmentPeriod: { seconds: minutes * 60 }, perSeriesAligner: aligner },
    view: "FULL",
  });
  return series.map((s) => {
    const v = s.points?.[0]?.value;
    return Number(v?.doubleValue ?? v?.int64Value);
  });
}

/** raw reads the one-minute samples of a gauge between two times, oldest first, with their times. */
async function raw(harness: SimHarness, metric: string, fromMs: number, toMs: number) {
  const [series] = await harness.gcp.monitoring.listTimeSeries({
    name: `projects/${PROJECT}`,
    filter: `metric.type = "${metric}"`,
    interval: { startTime: secs(fromMs), endTime: secs(toMs) },
    view: "FULL",
  });
  expect(series).toHaveLength(1);
  return (series[0]?.points ?? [])
    .map((p) => ({
      at: Number(p.interval?.endTime?.seconds) * 1000,
      value: p.value?.distributionValue
        ? Number(p.value.distributionValue.mean)
        : Number(p.value?.doubleValue ?? p.value?.int64Value),
    }))
    .reverse();
}

describe("the load model on the degraded staging fixture", () => {
  it("reproduces the measured baseline through the real Monitoring client", async () => {
    const harness = await degraded();
    // The burst is 15 minutes of every 20: a 20-minute window holds a whole cycle.
    const [connectorPeak] = await aligned(harness, CPU, "ALIGN_PERCENTILE_99");
    const [worstSuccess] = await aligned(harness, SUCCESS, "ALIGN_MIN");
    const [bestSuccess] = await aligned(harness, SUCCESS, "ALIGN_MAX");
    const [establishment] = await aligned(harness, ESTABLISH, "ALIGN_MAX");
    const [pool] = await aligned(harness, POOL, "ALIGN_MAX");
    expect(connectorPeak).toBeGreaterThanOrEqual(0.85);
    expect(worstSuccess).toBeGreaterThan(0.65);
    expect(worstSuccess).toBeLessThan(0.75);
    // Between bursts (120 requests/s) every connection succeeds.
    expect(bestSuccess).toBe(1);
    expect(establishment).toBeGreaterThanOrEqual(75);
    expect(pool).toBe(1);
  });

  it("shows the burst as Cloud Run instances at their maximum, backends at max_connections and failing requests", async () => {
    const harness = await degraded();
    expect(await aligned(harness, INSTANCES, "ALIGN_MAX")).toEqual([25]);
    const backends = await aligned(harness, BACKENDS, "ALIGN_MAX");
    // database "backend" (the service's pools) and "postgres" (the 10 held by others).
    expect(backends.sort((a, b) => a - b)).toEqual([10, 90]);
    const [series] = await harness.gcp.monitoring.listTimeSeries({
      name: `projects/${PROJECT}`,
      filter: `metric.type = "${REQUESTS}" AND metric.labels.response_code_class = "5xx"`,
      interval: {
        startTime: secs(harness.sim.clock.now() - 20 * MIN),
        endTime: secs(harness.sim.clock.now()),
      },
      aggregation: { alignmentPeriod: { seconds: 1200 }, perSeriesAligner: "ALIGN_SUM" },
      view: "FULL",
    });
    expect(series).toHaveLength(1);
    expect(series[0]?.metric?.labels?.["response_code"]).toBe("500");
    expect(Number(series[0]?.points?.[0]?.value?.int64Value)).toBeGreaterThan(0);
    // Failed requests wait for the connection that never comes: p99 latency is theirs.
    const p99s = await aligned(harness, LATENCY, "ALIGN_PERCENTILE_99");
    expect(p99s).toHaveLength(2); // the 200 and the 500 series
    expect(Math.max(...p99s)).toBeGreaterThan(30_000);
  });

  it("fails the plan's gates through capstan's own gate reader", async () => {
    const harness = await degraded();
    const clock = harness.sim.clock;
    const gcp = gcpAccess(harness.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const read = monitoringGateReader(gcp, clock);
    const subject = (id: string) => ({ address: id, project: PROJECT, id });
    const gate = (metric: string, threshold: number) =>
      ({ metric, threshold, failWhen: "above", failureLimit: 1, window: 1200 }) as const;
    expect(await read(gate(CPU, 0.7), subject("staging-egress"))).toBeGreaterThan(0.85);
    expect(await read(gate(ESTABLISH, 45), subject("backend"))).toBeGreaterThan(75);
    expect(await read(gate(POOL, 0.8), subject("backend"))).toBeGreaterThan(0.8);
  });

  it("fails every connection while Cloud SQL restarts, and recovers after", async () => {
    const harness = await degraded((f) => {
      // Constant traffic, so only the restart moves the figures.
      const load = f["load"] as { services: Record<string, unknown>[] };
      load.services[0]!["traffic"] = { rps: 120 };
    });
    const before = harness.sim.clock.now();
    const [op] = await harness.gcp.sql.instances.restart({ project: PROJECT, instance: "staging-db" });
    expect(op.operationType).toBe("RESTART");
    // A 180-second restart: wait past it, then read every minute since.
    await harness.sim.clock.sleep(8 * MIN);
    const [done] = await harness.gcp.sql.operations.get({ project: PROJECT, operation: String(op.name) });
    expect(done.status).toBe("DONE");
    const ms = (t: { seconds?: unknown } | null | undefined) => Number(t?.seconds) * 1000;
    const [start, end] = [ms(done.startTime), ms(done.endTime)];
    const samples = await raw(harness, SUCCESS, before - MIN, harness.sim.clock.now());
    const during = samples.filter((s) => s.at > start && s.at < end);
    const after = samples.filter((s) => s.at > end);
    expect(during.length).toBeGreaterThan(0);
    expect(during.map((s) => s.value)).toEqual(during.map(() => 0));
    expect(after.length).toBeGreaterThan(0);
    expect(after.map((s) => s.value)).toEqual(after.map(() => 1));
  });

  it("lowers connector utilisation after an out-of-band raise of its instances, leaving earlier samples as they were", async () => {
    const harness = await degraded();
    const res = await fetch(`${harness.endpoint}/__sim/services/load/traffic`, {
      method: "PUT",
      body: JSON.stringify({ service: SERVICE, rps: 400 }),
    });
    expect(res.status).toBe(200);
    // Read after the answer: at 1000× a round trip is seconds of simulated time.
    const t1 = harness.sim.clock.now();
    await harness.sim.clock.sleep(3 * MIN);
    const t2 = harness.sim.clock.now();
    harness.sim.edit("vpcaccess", { kind: "connector", name: CONNECTOR, patch: { maxInstances: 6 } });
    await harness.sim.clock.sleep(3 * MIN);
    const samples = await raw(harness, CPU, t1, harness.sim.clock.now());
    const old = samples.filter((s) => s.at > t1 && s.at < t2);
    const raised = samples.filter((s) => s.at >= t2 + MIN);
    expect(old.length).toBeGreaterThan(0);
    expect(raised.length).toBeGreaterThan(0);
    for (const s of old) expect(s.value).toBeCloseTo(0.9175, 3);
    for (const s of raised) expect(s.value).toBeCloseTo(0.9175 / 2, 3);
  });

  it("answers the control API with the model's figures now and the traffic it drives", async () => {
    const harness = await degraded();
    const put = await fetch(`${harness.endpoint}/__sim/services/load/traffic`, {
      method: "PUT",
      body: JSON.stringify({ service: SERVICE, profile: [{ at: "0s", rps: 400 }] }),
    });
    expect(put.status).toBe(200);
    const state = (await (await fetch(`${harness.endpoint}/__sim/services/load/state`)).json()) as {
      rps: Record<string, number>;
      output: { services: { instances: number; connectionSuccess: number }[] };
    };
    expect(state.rps[SERVICE]).toBe(400);
    expect(state.output.services[0]?.instances).toBe(25);
    expect(state.output.services[0]?.connectionSuccess).toBeCloseTo(0.72);
    const bad = await fetch(`${harness.endpoint}/__sim/services/load/traffic`, {
      method: "PUT",
      body: JSON.stringify({ service: SERVICE, rps: -1 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain(
      "must be a number of requests per second >= 0",
    );
    const svc = harness.sim.service<LoadModelService>("load");
    expect(svc.dump()["services"]).toEqual([
      expect.objectContaining({ service: SERVICE, traffic: { profile: [{ at: "0s", rps: 400 }] } }),
    ]);
  });

  it("refuses a load section that names no Cloud Run service", async () => {
    await expect(
      startSim({ load: { services: [{ service: "backend", traffic: { rps: 1 } }] } }),
    ).rejects.toThrow(
      "load: services[0].service must be projects/<project>/locations/<region>/services/<service>",
    );
  });

  it("records the gates' reads of the burst as a golden HTTP log", async () => {
    const fixture = structuredClone(
      await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml")),
    ) as Record<string, unknown>;
    // Constant burst traffic and a fixed past interval keep the log the same on every run.
    (fixture["load"] as { services: Record<string, unknown>[] }).services[0]!["traffic"] = { rps: 400 };
    h = await startSim(fixture as Fixture, { captureResponses: true });
    const T0 = Date.parse("2025-06-01T00:00:00Z");
    for (const [metric, aligner] of [
      [SUCCESS, "ALIGN_MIN"],
      [CPU, "ALIGN_PERCENTILE_99"],
      [BACKENDS, "ALIGN_MAX"],
    ] as const) {
      await h.gcp.monitoring.listTimeSeries({
        name: `projects/${PROJECT}`,
        filter: `metric.type = "${metric}"`,
        interval: { startTime: secs(T0), endTime: secs(T0 + 10 * MIN) },
        aggregation: { alignmentPeriod: { seconds: 600 }, perSeriesAligner: aligner },
        view: "FULL",
      });
    }
    expectGolden("sim/load-staging-burst.json", normalizeLog(h.sim.requests()));
  });
});
