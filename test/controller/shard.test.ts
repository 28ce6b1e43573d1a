import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ShardedSource, shardOf } from "../../src/controller/shard.ts";
import { DirSource } from "../../src/controller/source.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, type RunningController, readiness, tempDir, writeSpecs } from "./harness.ts";

/** Four projects, at least one in each of 2 shards. */
const PROJECTS = ["acme-a", "acme-b", "acme-c", "acme-d"];

describe("capstan run --shard", () => {
  let h: SimHarness;
  let shards: RunningController[] = [];
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    for (const c of shards) await c.controller.stop();
    shards = [];
    await h?.close();
    await cleanup?.();
  });

  it("has each of two shards write only the projects that hash to it, under its own lease", async () => {
    expect(new Set(PROJECTS.map((p) => shardOf(p, 2))).size).toBe(2);
    const t = await tempDir("capstan-shards-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    const specs: Record<string, string> = {};
    for (const p of PROJECTS) {
      specs[`${p}.yaml`] =
        `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: hc\n  project: ${p}\nspec:\n  checkIntervalSec: 15\n`;
    }
    await writeSpecs(specsDir, specs);
    h = await startSim(
      {
        durations: { "compute.update": 1 },
        compute: {
          healthChecks: PROJECTS.map((project) => ({
            project,
            name: "hc",
            checkIntervalSec: 5,
            httpHealthCheck: { port: 8080 },
          })),
        },
      },
      { timeScale: 1000 },
    );
    shards = [0, 1].map((index) =>
      controllerFor(h, {
        specsDir,
        stateDir: join(t.dir, `state-${index}`),
        source: new ShardedSource(new DirSource({ paths: [specsDir] }), { index, count: 2 }),
        shard: { index, count: 2 },
        intervalMs: 60_000,
      }),
    );
    for (const c of shards) c.controller.start();
    await vi.waitFor(
      () => {
        for (const c of shards) {
          expect(c.controller.leader).toBe(true);
          const rs = c.controller.status().resources;
          expect(rs.length).toBeGreaterThan(0);
          for (const r of rs) expect(readiness(r)).toBe("True/UpToDate");
        }
      },
      { timeout: 20_000, interval: 10 },
    );
    for (const [index, c] of shards.entries()) {
      const owned = PROJECTS.filter((p) => shardOf(p, 2) === index);
      expect(
        c.controller
          .status()
          .resources.map((r) => r.gcpName.split("/")[1])
          .sort(),
      ).toEqual(owned);
      expect(c.controller.status().instance.shard).toEqual({ index, count: 2 });
      // Its writes, in the simulator's log, are of its own projects only.
      expect(c.writes()).toBe(owned.length);
    }
    const written = h.sim.requests().filter((r) => r.write);
    expect(written.map((r) => /projects\/([^/]+)/.exec(r.path)?.[1]).sort()).toEqual([...PROJECTS].sort());
  });
});
