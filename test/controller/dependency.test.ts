import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, fastForward, type RunningController, readiness, tempDir } from "./harness.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];

describe("capstan run: resources that depend on each other through a capacity policy", () => {
  let h: SimHarness;
  let c: RunningController;
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  it("holds a consumer back while its provider waits for a maintenance window, then rolls both out in order", async () => {
    const t = await tempDir("capstan-dependency-");
    cleanup = t.remove;
    // specs/examples against a live state whose database allows 100 connections: the
    // service may only grow from 10 to 20 instances (20 × 5 + 10 = 110 connections) once
    // max_connections is 200 (× 0.8 = 160), and that needs a restart.
    const live = (await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml"))) as Fixture & {
      sql: { instances: { settings: { databaseFlags: { name: string; value: string }[] } }[] };
    };
    const flags = live.sql.instances[0]!.settings.databaseFlags;
    flags.find((f) => f.name === "max_connections")!.value = "100";
    // ×100 until the first pass is seen: the database's window opens one to two simulated
    // hours from now, at least 36 real seconds away, so a loaded machine cannot let it pass
    // before the first pass ends; then ×1,000, which reaches it in 4 to 7 real seconds and
    // keeps it open for 3.6, time enough for the write it holds back.
    h = await startSim(live, { timeScale: 100 });
    const opens = new Date(h.sim.clock.now() + 2 * 3_600_000);
    const specsDir = join(t.dir, "specs");
    await cp(join(ROOT, "specs/examples"), specsDir, { recursive: true });
    const db = await readFile(join(specsDir, "database.yaml"), "utf8");
    await writeFile(
      join(specsDir, "database.yaml"),
      db
        .replace("day: SUNDAY", `day: ${DAYS[(opens.getUTCDay() + 6) % 7]}`)
        .replace("hour: 3", `hour: ${opens.getUTCHours()}`),
    );
    c = controllerFor(h, {
      specsDir,
      stateDir: join(t.dir, "state"),
      reconcilers: RECONCILERS,
      intervalMs: 12 * 3_600_000,
    });
    c.controller.start();
    await vi.waitFor(() => expect(readiness(c.resource("VpcConnector/vpc-main"))).toBe("True/UpToDate"), {
      timeout: 20_000,
      interval: 10,
    });
    // Real writes only: a plan's server checks send Cloud Run validate-only requests.
    const patches = (suffix: string) =>
      h.sim
        .requests()
        .filter(
          (r) => r.method === "PATCH" && r.path.endsWith(suffix) && !r.query.includes("validateOnly=true"),
        );
    // Before the window: the provider waits for it, the consumer waits for the provider,
    // and what neither depends on goes ahead.
    expect(readiness(c.resource("SqlInstance/main-db"))).toBe("False/MaintenanceWindow");
    const api = c.resource("CloudRunService/api")!;
    expect(readiness(api)).toBe("False/DependencyNotReady");
    expect(api.conditions.find((x) => x.type === "Ready")?.message).toContain(
      "waits for SqlInstance/main-db",
    );
    expect(patches("/instances/main-db")).toEqual([]);
    expect(patches("/services/api")).toEqual([]);
    expect(patches("/connectors/vpc-main")).toHaveLength(1);

    fastForward(h, c, 1_000);
    await vi.waitFor(
      () => {
        for (const r of c.controller.status().resources)
          expect(`${r.address} ${readiness(r)}`).toMatch(/True\/UpToDate$/);
      },
      { timeout: 60_000, interval: 10 },
    );
    const [sql] = patches("/instances/main-db");
    const [run] = patches("/services/api");
    expect(new Date(sql!.time).getUTCHours()).toBe(opens.getUTCHours());
    // The service grew only after the restart (180 s here) had finished.
    expect(run!.time).toBeGreaterThan(sql!.time + 180_000);
    const runWrites = h.sim
      .requests()
      .filter((r) => r.write && r.path.includes("/services/api") && !r.query.includes("validateOnly=true"));
    expect(runWrites.every((r) => r.time > sql!.time)).toBe(true);
  }, 120_000);
});
