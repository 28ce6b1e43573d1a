import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GateTarget, gateTargets } from "../../src/apply/execute.ts";
import { GateHistoryCache, readGateHistory } from "../../src/apply/gate-history.ts";
import { monitoringGateReader } from "../../src/apply/gates.ts";
import { ManualClock } from "../../src/clock/index.ts";
import { type Gcp, gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const HOUR = 3_600_000;

describe("gate history for the charts", () => {
  let h: SimHarness;
  let gcp: Gcp;
  let targets: GateTarget[];
  const monitoringCalls = () => h.sim.requests().filter((r) => r.rpc.endsWith("ListTimeSeries")).length;

  beforeAll(async () => {
    h = await startSim((await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture);
    const clock = h.sim.clock;
    gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const result = await buildPlan({
      specs: await loadSpecs([join(ROOT, "specs/staging")]),
      gcp,
      reconcilers: RECONCILERS,
      clock,
    });
    targets = gateTargets(result, undefined);
    expect(targets).toHaveLength(4);
  });
  afterAll(() => h?.close());

  it("reads what the gates read, one point a minute, one call per metric whatever the subjects", async () => {
    const end = h.sim.clock.now();
    const before = monitoringCalls();
    const series = await readGateHistory(gcp, targets, end - 3 * HOUR, end);
    expect(monitoringCalls() - before).toBe(4);
    expect(series.map((s) => s.subject)).toEqual([
      "CloudRunService/backend",
      "CloudRunService/backend",
      "VpcConnector/staging-egress",
      "CloudRunService/backend",
    ]);
    for (const s of series) {
      expect(s.points.length).toBeGreaterThanOrEqual(170);
      expect(s.points.every(([t], i) => i === 0 || t - s.points[i - 1]![0] === 60_000)).toBe(true);
    }
    // The latest minute is what the gate's own read of a one-minute window ending at the
    // same time sees (a clock stopped there: the simulated burst moves on meanwhile).
    const read = monitoringGateReader(gcp, new ManualClock(end));
    const t = targets[2]!;
    expect(series[2]!.points.at(-1)![1]).toBeCloseTo((await read({ ...t.gate, window: 60 }, t.subject))!, 3);
  });

  it("serves every page from one read per minute of clock time, within the read budget", async () => {
    const clock = new ManualClock(h.sim.clock.now());
    const cache = new GateHistoryCache({ gcp, clock });
    const before = monitoringCalls();
    const pages = await Promise.all(Array.from({ length: 20 }, () => cache.get(targets)));
    expect(new Set(pages).size).toBe(1);
    for (let i = 0; i < 20; i++) {
      clock.advance(2_000);
      await cache.get(targets);
    }
    expect(monitoringCalls() - before).toBe(4);
    clock.advance(60_000);
    await cache.get(targets);
    expect(monitoringCalls() - before).toBe(8);
  });

  it("keeps the last series and says why when Cloud Monitoring fails", async () => {
    const clock = new ManualClock(h.sim.clock.now());
    const cache = new GateHistoryCache({ gcp, clock, ttlMs: 1000 });
    const good = await cache.get(targets);
    h.sim.faults.add({
      match: { api: "monitoring.googleapis.com" },
      times: 50,
      error: { status: "PERMISSION_DENIED" },
    });
    clock.advance(5_000);
    const bad = await cache.get(targets);
    h.sim.faults.clear();
    expect(bad.error).toMatch(/^could not read Cloud Monitoring: /);
    expect(bad.series).toBe(good.series);
  });
});
