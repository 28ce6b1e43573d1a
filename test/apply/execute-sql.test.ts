import { afterEach, describe, expect, it } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import type { GateReader } from "../../src/apply/gates.ts";
import type { ProgressEvent } from "../../src/apply/progress.ts";
import { quotaCallOfRpc, quotasOf } from "../../src/gcp/quotas.ts";
import { buildPlan, type Reconcilers } from "../../src/plan/build.ts";
import { sqlInstanceReconciler } from "../../src/reconcilers/sql-instance.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { connect } from "../helpers/gcp.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const PROJECT = "acme-staging";
const INSTANCE = `projects/${PROJECT}/instances/orders-db`;

const FIXTURE: Fixture = {
  durations: { "sql.update": 30, "sql.restart": 180 },
  sql: {
    instances: [
      {
        project: PROJECT,
        name: "orders-db",
        region: "europe-west1",
        databaseVersion: "POSTGRES_15",
        settings: {
          tier: "db-custom-2-7680",
          userLabels: { team: "payments" },
          databaseFlags: [
            { name: "max_connections", value: "100" },
            { name: "log_connections", value: "on" },
          ],
        },
      },
    ],
  },
};

const SPEC = `apiVersion: capstan.dev/v1alpha1
kind: SqlInstance
metadata:
  name: orders-db
  project: ${PROJECT}
  region: europe-west1
spec:
  databaseFlags:
    max_connections: 200
    work_mem: 8192
  allowRestart: true
`;

// Only the kind under test is needed: the plan pipeline calls the reconcilers of the kinds it meets.
const RECONCILERS = { SqlInstance: sqlInstanceReconciler } as unknown as Reconcilers;
const noGates: GateReader = async () => undefined;

describe("execute against the simulator (Cloud SQL)", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  async function setup(fixture: Fixture = FIXTURE, spec = SPEC, timeScale = 1000) {
    h = await startSim(fixture, { timeScale });
    const clock = h.sim.clock;
    const gcp = connect(h);
    const specs = parseSpecSet([{ path: "specs/sql.yaml", text: spec }]);
    expect(specs.problems).toEqual([]);
    const plan = () => buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
    const events: ProgressEvent[] = [];
    const run = async (signal?: AbortSignal) =>
      execute({
        result: await plan(),
        gcp,
        reconcilers: RECONCILERS,
        clock,
        gates: noGates,
        progress: (e) => events.push(e),
        signal,
      });
    return { plan, run, events, gcp };
  }

  const flags = () =>
    (
      h.sim.dump()["sql"] as {
        instances: { settings: { databaseFlags: { name: string; value: string }[] } }[];
      }
    ).instances[0]!.settings.databaseFlags;
  const patches = () =>
    h.sim.requests().filter((r) => r.method === "PATCH" && r.path.endsWith("/instances/orders-db"));

  it("converges, keeps the flag it does not manage, and plans no changes afterwards", async () => {
    const { plan, run } = await setup();
    const report = await run();
    expect(report.outcome).toBe("converged");
    expect(flags()).toEqual(
      expect.arrayContaining([
        { name: "max_connections", value: "200" },
        { name: "work_mem", value: "8192" },
        { name: "log_connections", value: "on" },
      ]),
    );
    const again = await plan();
    expect(again.plan.summary.changes).toBe(0);
    expect(patches()).toHaveLength(1);
  });

  it("waits for an operation already running on the instance instead of colliding with it", async () => {
    // A restart of 1,500 simulated seconds (1.5 real ones here, inside the executor's
    // 1,800 s operation timeout) is still running when capstan gets to write, however
    // slowly a loaded machine runs up to there; 180 s (0.18 s real) was not always.
    const { run, events } = await setup({
      ...FIXTURE,
      durations: { ...FIXTURE.durations, "sql.restart": 1500 },
    });
    // Someone else restarts the instance just before capstan writes.
    await h.gcp.sql.instances.restart({ project: PROJECT, instance: "orders-db" });
    const report = await run();
    expect(report.outcome).toBe("converged");
    expect(events.some((e) => e.type === "operation-wait" && e.what.includes("already running"))).toBe(true);
    expect(h.sim.requests().filter((r) => r.status === 409)).toHaveLength(0);
  });

  it("retries 5xx answers with backoff on its clock and converges", async () => {
    const { run } = await setup();
    h.sim.faults.add({
      match: { api: "sqladmin.googleapis.com", method: "GET" },
      times: 3,
      error: { status: "UNAVAILABLE" },
    });
    h.sim.faults.add({
      match: { rpc: "SqlInstancesService.Patch" },
      times: 1,
      error: { status: "INTERNAL" },
    });
    const report = await run();
    expect(report.outcome).toBe("converged");
    const log = h.sim.requests();
    expect(log.filter((r) => r.status >= 500)).toHaveLength(4);
    // A retried write carries the same settingsVersion: had the failed one landed, GCP would refuse it.
    expect(patches().filter((r) => r.status === 200)).toHaveLength(1);
  });

  it("reports a failed operation with the live state, having changed nothing", async () => {
    const { run } = await setup();
    h.sim.faults.add({
      match: { rpc: "SqlInstancesService.Patch" },
      times: 1,
      failOperation: { message: "disk full" },
    });
    const report = await run();
    expect(report.outcome).toBe("failed");
    expect(report.message).toContain("disk full");
    expect(report.live).toContainEqual({
      address: "SqlInstance/orders-db",
      field: "databaseFlags.max_connections",
      value: "100",
    });
    expect(flags()).toContainEqual({ name: "max_connections", value: "100" });
  });

  it("stops rather than overwrite a field someone changed between plan and apply", async () => {
    const { plan, gcp } = await setup();
    const result = await plan();
    h.sim.edit("sql", {
      kind: "instance",
      name: INSTANCE,
      patch: { settings: { databaseFlags: [{ name: "max_connections", value: "150" }] } },
    });
    const report = await execute({
      result,
      gcp,
      reconcilers: RECONCILERS,
      clock: h.sim.clock,
      gates: noGates,
    });
    expect(report.outcome).toBe("failed");
    expect(report.message).toContain("someone changed it outside capstan");
    expect(flags()).toContainEqual({ name: "max_connections", value: "150" });
    expect(patches()).toHaveLength(0);
  });

  it("rides out Cloud SQL's 429 rateLimitExceeded by waiting for the quota's next minute", async () => {
    // The simulator allows 4 reads of each category a minute while capstan believes it has
    // GCP's defaults (500). 100×, a simulated minute in 0.6 s: slow enough that a loaded
    // machine still makes its reads within one quota window, fast enough to wait out a few.
    const { run } = await setup(
      { ...FIXTURE, quotas: { "sqladmin.googleapis.com": { readPerMinute: 4 } } },
      SPEC,
      100,
    );
    const report = await run();
    expect(report.outcome).toBe("converged");
    const log = h.sim.requests().filter((r) => r.api === "sqladmin.googleapis.com");
    const throttled = log.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    const category = (rpc: string, write: boolean) =>
      quotasOf("sqladmin.googleapis.com").categoryOf(quotaCallOfRpc(rpc, write));
    for (const t of throttled) {
      // Rate quota answers carry no RetryInfo: capstan waits for the next minute GCP counts
      // in (plus a second), and sends nothing of that category sooner.
      const next = log.find((r) => r.seq > t.seq && category(r.rpc, r.write) === category(t.rpc, t.write));
      if (next) expect(next.time).toBeGreaterThanOrEqual(Math.ceil(t.time / 60_000) * 60_000);
    }
  });

  it("stops after the call in flight when interrupted and resumes from live state without repeating the restart", async () => {
    const { plan, run, gcp } = await setup();
    const abort = new AbortController();
    const report = await execute({
      result: await plan(),
      gcp,
      reconcilers: RECONCILERS,
      clock: h.sim.clock,
      gates: noGates,
      signal: abort.signal,
      // Interrupt once the restart-carrying PATCH was accepted and capstan waits on it.
      progress: (e) => {
        if (e.type === "operation-wait" && e.what === "its operation") abort.abort(new Error("SIGTERM"));
      },
    });
    expect(report.outcome).toBe("interrupted");
    expect(patches()).toHaveLength(1);
    const resumed = await run();
    expect(["converged", "nothing-to-do"]).toContain(resumed.outcome);
    expect(patches()).toHaveLength(1);
    expect(flags()).toContainEqual({ name: "max_connections", value: "200" });
  });

  it("starts a restart only inside the maintenance window the spec names", async () => {
    // Simulated time runs 10,000×: the window opens one to two simulated hours from now
    // (0.36 to 0.72 s), far enough that planning under load cannot reach it first.
    const probe = await startSim(FIXTURE, { timeScale: 10_000 });
    const next = new Date(probe.sim.clock.now() + 2 * 3_600_000);
    await probe.close();
    const day = ((next.getUTCDay() + 6) % 7) + 1;
    const spec = `${SPEC}  maintenanceWindow:\n    day: ${day}\n    hour: ${next.getUTCHours()}\n`;
    const { run, events } = await setup(FIXTURE, spec, 10_000);
    const report = await run();
    expect(report.outcome).toBe("converged");
    expect(events.find((e) => e.type === "window-wait")).toBeDefined();
    const patch = patches()[0]!;
    const opened = new Date(patch.time);
    expect(opened.getUTCHours()).toBe(next.getUTCHours());
  });
});
