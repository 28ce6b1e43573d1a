import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import { buildPlan, type Reconcilers } from "../../src/plan/build.ts";
import { sqlInstanceReconciler } from "../../src/reconcilers/sql-instance.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import {
  controllerFor,
  type RunningController,
  readiness,
  tempDir,
  writeSpecs,
} from "../controller/harness.ts";
import { connect } from "../helpers/gcp.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const P = "acme-staging";

// A restart that takes 10 simulated hours: far longer than capstan's 30-minute wait for it.
const FIXTURE: Fixture = {
  durations: { "sql.update": 30, "sql.restart": 36_000 },
  sql: {
    instances: [
      {
        project: P,
        name: "orders-db",
        region: "europe-west1",
        databaseVersion: "POSTGRES_16",
        settings: { tier: "db-custom-2-7680", databaseFlags: [{ name: "max_connections", value: "100" }] },
      },
    ],
  },
};

const SPEC = `apiVersion: capstan.dev/v1alpha1
kind: SqlInstance
metadata:
  name: orders-db
  project: ${P}
  region: europe-west1
spec:
  databaseFlags:
    max_connections: 200
  allowRestart: true
`;

const RECONCILERS = { SqlInstance: sqlInstanceReconciler } as unknown as Reconcilers;
const patches = (h: SimHarness) =>
  h.sim.requests().filter((r) => r.method === "PATCH" && r.path.endsWith("/instances/orders-db"));

describe("an operation that outlives capstan's wait", () => {
  let h: SimHarness;
  let c: RunningController | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await c?.controller.stop();
    c = undefined;
    await h.close();
    await cleanup?.();
  });

  it("is never written again while it runs: apply stops saying so, and a second apply writes nothing either", async () => {
    h = await startSim(FIXTURE, { timeScale: 10_000 });
    const gcp = connect(h);
    const clock = h.sim.clock;
    const apply = async () =>
      execute({
        result: await buildPlan({
          specs: parseSpecSet([{ path: "db.yaml", text: SPEC }]),
          gcp,
          reconcilers: RECONCILERS,
          clock,
        }),
        gcp,
        reconcilers: RECONCILERS,
        clock,
        gates: async () => undefined,
        // 30 simulated minutes, as by default.
        operationTimeoutMs: 1_800_000,
      });
    const first = await apply();
    expect(first.outcome).toBe("failed");
    expect(first.busy).toEqual(["SqlInstance/orders-db"]);
    expect(first.message).toContain(
      "its update is still running after 1800s; capstan does not write it again",
    );
    expect(patches(h)).toHaveLength(1);
    // No rollback was attempted on it: that would have been a second write.
    expect(first.rolledBack).toEqual([]);

    const second = await apply();
    expect(second.outcome).toBe("failed");
    expect(second.busy).toEqual(["SqlInstance/orders-db"]);
    expect(second.message).toContain("an operation is still running after 1800s");
    expect(patches(h)).toHaveLength(1);
    // Not one 409 operationInProgress: capstan never tried.
    expect(h.sim.requests().filter((r) => r.status === 409)).toEqual([]);
  });

  it("leaves capstan run Reconciling/OperationInProgress, not stalled, until it ends, then UpToDate without a second write", async () => {
    const t = await tempDir("capstan-busy-");
    cleanup = t.remove;
    h = await startSim(
      { ...FIXTURE, durations: { "sql.update": 30, "sql.restart": 7_200 } },
      { timeScale: 20_000 },
    );
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, { "db.yaml": SPEC });
    c = controllerFor(h, {
      specsDir,
      stateDir: join(t.dir, "state"),
      intervalMs: 600_000,
      operationTimeoutMs: 1_800_000,
    });
    c.controller.start();
    await vi.waitFor(
      () => expect(readiness(c!.resource("SqlInstance/orders-db"))).toBe("False/OperationInProgress"),
      {
        timeout: 20_000,
        interval: 5,
      },
    );
    const r = c.resource("SqlInstance/orders-db")!;
    expect(r.conditions.find((x) => x.type === "Reconciling")?.status).toBe("True");
    expect(r.conditions.find((x) => x.type === "Stalled")?.status).toBe("False");
    await vi.waitFor(() => expect(readiness(c!.resource("SqlInstance/orders-db"))).toBe("True/UpToDate"), {
      timeout: 30_000,
      interval: 10,
    });
    expect(patches(h)).toHaveLength(1);
  });
});
