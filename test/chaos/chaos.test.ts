import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import { monitoringGateReader } from "../../src/apply/gates.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { Oracle } from "./oracle.ts";
import { deriveSeed, parseSeed, Rng } from "./rng.ts";
import { classify, drawFaults, formatRun, formatSummary, runChaos } from "./runner.ts";
import { drawScenario, goldenPath, withSentinels } from "./scenarios.ts";

/** How many runs CI makes; `npm run chaos` makes many more. */
const RUNS = Number(process.env["CAPSTAN_CHAOS_RUNS"] ?? 6);
/** Seed 5: its first six runs take the Golden Path and both random bases, under every sort of fault. */
const SEED = parseSeed(process.env["CAPSTAN_CHAOS_SEED"] ?? "5");

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the chaos suite", () => {
  it(`keeps every invariant over ${RUNS} seeded runs under random faults`, async () => {
    const lines: string[] = [];
    const summary = await runChaos({ seed: SEED, runs: RUNS, onRun: (r) => lines.push(formatRun(r)) });
    const report = `${lines.join("\n")}\n${formatSummary(summary)}`;
    process.stdout.write(report);
    expect(summary.violations, report).toEqual([]);
    expect(summary.runs).toHaveLength(RUNS);
    for (const r of summary.runs) expect(["converged", "stopped"]).toContain(r.outcome);
    expect(Object.values(summary.injected).reduce((n, x) => n + x, 0)).toBeGreaterThan(0);
    // The oracle judged the states in between, not only the ends.
    expect(summary.runs.reduce((n, r) => n + r.states, 0)).toBeGreaterThan(2 * RUNS);
  }, 180_000);

  it("draws the same scenario and fault schedule from the same seed", async () => {
    const seed = deriveSeed(SEED, 4);
    const draw = async () => {
      const rng = new Rng(seed);
      const scenario = await drawScenario(rng);
      return { name: scenario.name, drawn: scenario.drawn, faults: drawFaults(rng) };
    };
    const a = await draw();
    expect(await draw()).toEqual(a);
    expect(deriveSeed(SEED, 5)).not.toBe(seed);
  });

  it("names the cause of every stop capstan reports, and nothing for an unexplained one", () => {
    expect(
      classify(
        "step 2 failed: VpcConnector/x maxInstances is 8 live, but the plan expected 3: someone changed it outside capstan; refusing to overwrite it (plan again to review).",
      ),
    ).toBe("out-of-band change");
    expect(
      classify("step 1 failed: update of SqlInstance/db failed: chaos-injected operation failure."),
    ).toBe("operation failed");
    expect(classify("the plan has errors: 25 × 5 + 10 = 135 > 0.8 × 100 = 80")).toBe("refused (plan errors)");
    expect(
      classify(
        "step 2 failed: maxInstances can only increase in place (live 7, desired 6): a decrease requires replacing the connector.",
      ),
    ).toBe("refused by the API");
    expect(classify("step 2 failed: Cannot read properties of undefined (reading 'x')")).toBeUndefined();
  });
});

describe("the chaos oracle", () => {
  it("flags a deepened capacity violation and a changed unmanaged value at the state where they happen", async () => {
    const scenario = await goldenPath();
    h = await startSim(withSentinels(scenario.fixture, 7));
    const oracle = new Oracle({ sim: h.sim, specs: scenario.specs, connectorUpdateSeconds: 120 });
    oracle.observe();
    expect(oracle.violations).toEqual([]);
    const name = "projects/acme-staging/locations/europe-west1/services/backend";
    // Deepens the start's connection overrun (25 × 5 + 10 = 135 > 80) and changes the image.
    const service = h.sim.service("run").dump()["services"][0];
    const containers = structuredClone(service.template.containers);
    containers[0].image = "europe-west1-docker.pkg.dev/acme-staging/backend/backend:9.9.9";
    h.sim.edit("run", {
      kind: "service",
      name,
      patch: { template: { scaling: { maxInstanceCount: 30 }, containers } },
    });
    oracle.observe();
    const kinds = oracle.violations.map((v) => `${v.kind}: ${v.message}`);
    expect(kinds).toContainEqual(
      expect.stringMatching(/^capacity: db-connections .*30 × 5 \+ 10 = 160 > 0\.8 × 100/),
    );
    expect(kinds).toContainEqual(
      expect.stringMatching(/^unmanaged: .*containers\[0\]\.image: was .*2\.14\.0.*now .*9\.9\.9/),
    );
  });

  it("accepts what the chaos itself edited once told to, and keeps judging the rest", async () => {
    const scenario = await goldenPath();
    h = await startSim(withSentinels(scenario.fixture, 7));
    const oracle = new Oracle({ sim: h.sim, specs: scenario.specs, connectorUpdateSeconds: 120 });
    const db = "projects/acme-staging/instances/staging-db";
    h.sim.edit("sql", { kind: "instance", name: db, patch: { settings: { userLabels: { team: "dba" } } } });
    oracle.rebaseline(db);
    oracle.observe();
    expect(oracle.violations).toEqual([]);
    h.sim.edit("sql", {
      kind: "instance",
      name: db,
      patch: { settings: { databaseFlags: [{ name: "log_lock_waits", value: "off" }] } },
    });
    oracle.observe();
    expect(oracle.violations.map((v) => v.message)).toEqual([
      `${db} flag log_lock_waits: was "on", now "off"`,
    ]);
  });
});

describe("what the chaos suite found", () => {
  it("does not raise Cloud Run's instances while a connector update a killed apply started is still running", async () => {
    // Seed-independent replay: the examples raise the connector 4 → 6 (step 1) and then
    // the service 10 → 20 instances (20 × 20 Mbps = 400 Mbps > 0.8 × 400 Mbps until the
    // connector's new instances exist). The apply is killed while the connector updates;
    // the API already reports the new instance count, so the restarted apply plans no
    // connector change and must still not build on capacity that does not exist yet.
    const root = join(import.meta.dirname, "..", "..");
    const fixture = await loadFixture(join(root, "test/fixtures/e2e/examples-live.yaml"));
    h = await startSim({ ...fixture, durations: { ...fixture.durations, "vpcaccess.update": 1500 } });
    const specs = await loadSpecs([join(root, "specs/examples")]);
    const oracle = new Oracle({ sim: h.sim, specs, connectorUpdateSeconds: 1500 });
    const unobserve = h.sim.observe((c) => oracle.observe(c));
    const clock = h.sim.clock;
    const outcomes: string[] = [];
    for (const pass of [1, 2]) {
      const clients = createClients({ endpoint: h.endpoint });
      const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
      const abort = new AbortController();
      const report = await execute({
        result: await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock }),
        gcp,
        reconcilers: RECONCILERS,
        clock,
        gates: monitoringGateReader(gcp, clock),
        maintenanceWindows: "ignore",
        signal: abort.signal,
        progress: (e) => {
          if (pass === 1 && e.type === "operation-wait" && e.address === "VpcConnector/vpc-main")
            abort.abort(new Error("SIGTERM"));
        },
      });
      outcomes.push(report.outcome);
      await clients.close();
    }
    unobserve();
    expect(outcomes).toEqual(["interrupted", "converged"]);
    expect(oracle.violations).toEqual([]);
  }, 60_000);
});
