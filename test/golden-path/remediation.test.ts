import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import { type GateReader, monitoringGateReader } from "../../src/apply/gates.ts";
import { runValidate } from "../../src/cli/validate.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import type { GateSpec, Resource } from "../../src/spec/types.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SPECS = join(ROOT, "specs/staging");
const INFRA = new Set(["VpcConnector", "SqlInstance", "BackendService", "HealthCheck"]);
const MIN = 60_000;

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function setup() {
  h = await startSim((await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture);
  const clock = h.sim.clock;
  const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
  const specs = await loadSpecs([SPECS]);
  expect(specs.problems).toEqual([]);
  const plan = () => buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
  return { harness: h, gcp, clock, specs, plan };
}

describe("specs/staging, the corrected remediation plan", () => {
  it("passes capstan validate", async () => {
    let text = "";
    const out = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    await runValidate([SPECS], { out });
    expect(text).toBe("capstan validate: 5 specs in 5 files OK\n");
  });

  it("plans against the degraded fixture without errors, infrastructure first, then the application", async () => {
    const { plan } = await setup();
    const { plan: p } = await plan();
    expect(p.problems.filter((x) => x.severity === "error")).toEqual([]);
    const steps = p.rollout?.steps ?? [];
    const kinds = steps.map((s) => [...new Set(s.changes.map((c) => c.kind))]);
    const lastInfra = kinds.findLastIndex((k) => k.some((x) => INFRA.has(x)));
    const firstApp = kinds.findIndex((k) => k.includes("CloudRunService"));
    expect(lastInfra).toBeGreaterThanOrEqual(0);
    expect(firstApp).toBeGreaterThan(lastInfra);
    expect(kinds.every((k) => !(k.includes("CloudRunService") && k.some((x) => INFRA.has(x))))).toBe(true);
    // The restart-requiring flags go in one step of their own.
    const sqlStep = steps.find((s) => s.changes.some((c) => c.kind === "SqlInstance"));
    expect(sqlStep?.disruption?.kind).toBe("restart");
    expect(sqlStep?.changes.every((c) => c.kind === "SqlInstance")).toBe(true);
    // The live state breaks the connection budget the plan ends within.
    const start = p.rollout?.start.find((r) => r.id === "db-connections");
    expect(start?.explanation).toContain("25 × 5 + 10 = 135 > 0.8 × 100 = 80");
    const end = steps.at(-1)?.invariants.find((r) => r.id === "db-connections");
    expect(end?.explanation).toContain("17 × 5 + 10 = 95 ≤ 0.8 × 120 = 96");
  });

  it("reaches every success criterion once applied, read through the gates of its own policy", async () => {
    const { harness, gcp, clock, specs, plan } = await setup();
    const noGates: GateReader = async () => undefined;
    const report = await execute({
      result: await plan(),
      gcp,
      reconcilers: RECONCILERS,
      clock,
      gates: noGates,
    });
    expect(report.outcome).toBe("converged");
    expect((await plan()).plan.summary.changes).toBe(0);
    // Let a whole burst cycle (20 minutes) pass on the new settings.
    await clock.sleep(21 * MIN);
    const policy = specs.resources.find((r): r is Resource<"CapacityPolicy"> => r.kind === "CapacityPolicy")!;
    const read = monitoringGateReader(gcp, clock);
    const value = (g: GateSpec, id: string) =>
      read({ ...g, window: 20 * 60 }, { address: id, project: "acme-staging", id });
    const gates = Object.fromEntries(policy.spec.rollout.gates.map((g) => [g.metric, g]));
    const success = gates["custom.googleapis.com/capstan/db_connection_success_ratio"]!;
    const establishment = gates["custom.googleapis.com/capstan/db_connection_establishment_seconds"]!;
    const connector = gates["vpcaccess.googleapis.com/connector/cpu/utilizations"]!;
    const pool = gates["custom.googleapis.com/capstan/db_pool_utilization"]!;
    expect(await value(establishment, "backend")).toBeLessThanOrEqual(45);
    expect(await value(connector, "staging-egress")).toBeLessThanOrEqual(0.7);
    expect(await value(pool, "backend")).toBeLessThanOrEqual(0.8);
    // The gate reader aligns with ALIGN_MAX, which for a `below` gate reads the best
    // minute; read the worst minute of the burst directly.
    const end = clock.now();
    const [series] = await harness.gcp.monitoring.listTimeSeries({
      name: "projects/acme-staging",
      filter: `metric.type = "${success.metric}"`,
      interval: {
        startTime: { seconds: Math.floor((end - 20 * MIN) / 1000) },
        endTime: { seconds: Math.floor(end / 1000) },
      },
      aggregation: { alignmentPeriod: { seconds: 1200 }, perSeriesAligner: "ALIGN_MIN" },
      view: "FULL",
    });
    expect(series[0]?.points?.[0]?.value?.doubleValue).toBeGreaterThanOrEqual(success.threshold);
  });
});
