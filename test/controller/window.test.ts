import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Fixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import {
  controllerFor,
  fastForward,
  type RunningController,
  readiness,
  tempDir,
  writeSpecs,
} from "./harness.ts";

const P = "acme-staging";

const instance = (name: string) => ({
  project: P,
  name,
  region: "europe-west1",
  databaseVersion: "POSTGRES_16",
  settings: { tier: "db-custom-2-7680", databaseFlags: [{ name: "max_connections", value: "100" }] },
});

const FIXTURE: Fixture = {
  durations: { "sql.update": 30, "sql.restart": 180 },
  sql: { instances: [instance("orders-db"), instance("billing-db")] },
};

const sqlSpec = (name: string, extra: string) =>
  `apiVersion: capstan.dev/v1alpha1\nkind: SqlInstance\nmetadata:\n  name: ${name}\nspec:\n  databaseFlags:\n    max_connections: 200\n${extra}`;

describe("capstan run: disruptive changes", () => {
  let h: SimHarness;
  let c: RunningController;
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  it("waits for the maintenance window to restart, and refuses a restart the spec did not consent to", async () => {
    const t = await tempDir("capstan-window-");
    cleanup = t.remove;
    // ×100 until the first pass is seen: the window opens one to two simulated hours from
    // now, at least 36 real seconds away, so however slowly a loaded machine runs the first
    // pass it ends before the window; then ×1,000, which reaches the window in 4 to 7 real
    // seconds and keeps it open for 3.6, time enough for the write it holds back.
    h = await startSim(FIXTURE, { timeScale: 100 });
    const next = new Date(h.sim.clock.now() + 2 * 3_600_000);
    const day = ((next.getUTCDay() + 6) % 7) + 1;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, {
      "capstan.yaml": `project: ${P}\nregion: europe-west1\n`,
      "orders.yaml": sqlSpec(
        "orders-db",
        `  allowRestart: true\n  maintenanceWindow:\n    day: ${day}\n    hour: ${next.getUTCHours()}\n`,
      ),
      "billing.yaml": sqlSpec("billing-db", ""),
    });
    c = controllerFor(h, {
      specsDir,
      stateDir: join(t.dir, "state"),
      intervalMs: 12 * 3_600_000,
    });
    c.controller.start();
    await vi.waitFor(() => expect(c.controller.status().passes).toBeGreaterThan(0), {
      timeout: 15_000,
      interval: 5,
    });
    await vi.waitFor(() => expect(c.controller.status().lastPass).toBeDefined(), {
      timeout: 15_000,
      interval: 5,
    });
    const patches = (id: string) =>
      h.sim.requests().filter((r) => r.method === "PATCH" && r.path.endsWith(`/instances/${id}`));

    // Before the window: waiting, not stuck, and told when it will go on.
    const orders = c.resource("SqlInstance/orders-db")!;
    expect(patches("orders-db")).toEqual([]);
    expect(readiness(orders)).toBe("False/MaintenanceWindow");
    expect(orders.conditions.find((x) => x.type === "Reconciling")?.status).toBe("True");
    expect(new Date(orders.nextAttemptAt!).getUTCHours()).toBe(next.getUTCHours());
    const billing = c.resource("SqlInstance/billing-db")!;
    expect(readiness(billing)).toBe("False/Refused");
    expect(billing.conditions.find((x) => x.type === "Stalled")?.status).toBe("True");
    expect(billing.conditions.find((x) => x.type === "Ready")?.message).toContain("allowRestart");

    // The pass the controller scheduled for the window's opening makes the restart.
    fastForward(h, c, 1_000);
    await vi.waitFor(() => expect(readiness(c.resource("SqlInstance/orders-db"))).toBe("True/UpToDate"), {
      timeout: 60_000,
      interval: 10,
    });
    const [patch, ...more] = patches("orders-db");
    expect(more).toEqual([]);
    expect(new Date(patch!.time).getUTCHours()).toBe(next.getUTCHours());
    expect(patches("billing-db")).toEqual([]);
  }, 120_000);
});
