import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Fixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, type RunningController, readiness, tempDir, writeSpecs } from "./harness.ts";

const P = "acme-staging";
const IDS = ["a-hc", "b-hc", "c-hc"];

const FIXTURE: Fixture = {
  durations: { "compute.update": 8 },
  compute: {
    project: P,
    healthChecks: IDS.map((name) => ({
      name,
      checkIntervalSec: 5,
      timeoutSec: 5,
      httpHealthCheck: { port: 8080, requestPath: "/healthz" },
    })),
  },
};

const SPECS: Record<string, string> = { "capstan.yaml": `project: ${P}\n` };
for (const id of IDS) {
  SPECS[`${id}.yaml`] =
    `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: ${id}\nspec:\n  checkIntervalSec: 15\n`;
}

describe("capstan run: two instances over the same specs", () => {
  let h: SimHarness;
  let pair: RunningController[] = [];
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    for (const c of pair) await c.controller.stop();
    pair = [];
    await h?.close();
    await cleanup?.();
  });

  it("never both write: one leads, the other stands by, and takes over when the leader stops", async () => {
    const t = await tempDir("capstan-pair-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, SPECS);
    h = await startSim(FIXTURE, { timeScale: 1000 });
    // Same specs, same lease file; in one process, so only the lease's clock rule can
    // tell them apart (no pid check), which is the multi-host case.
    const make = () =>
      controllerFor(h, {
        specsDir,
        stateDir: join(specsDir, ".capstan"),
        intervalMs: 30_000,
        renewIntervalMs: 5_000,
        // 0.6 s real: a renewal late by less than 0.4 s (the renew deadline) on a loaded
        // machine must not stop the leader's writes.
        leaseDurationMs: 600_000,
      });
    pair = [make(), make()];
    for (const c of pair) c.controller.start();
    await vi.waitFor(
      () => {
        const leader = pair.find((c) => c.controller.leader);
        expect(leader).toBeDefined();
        for (const id of IDS) expect(readiness(leader!.resource(`HealthCheck/${id}`))).toBe("True/UpToDate");
      },
      { timeout: 15_000, interval: 10 },
    );
    const leader = pair.find((c) => c.controller.leader)!;
    const standby = pair.find((c) => c !== leader)!;
    expect(pair.filter((c) => c.controller.leader)).toHaveLength(1);
    await vi.waitFor(() => expect(standby.controller.status().passes).toBeGreaterThan(0), {
      timeout: 15_000,
      interval: 10,
    });
    expect(standby.controller.status().instance).toMatchObject({
      role: "standby",
      lease: { holder: leader.lease.identity },
    });

    // Drift while both run: corrected once, by the leader.
    h.sim.edit("compute", {
      kind: "healthCheck",
      name: `projects/${P}/global/healthChecks/b-hc`,
      patch: { checkIntervalSec: 9 },
    });
    await vi.waitFor(
      () => expect(readiness(leader.resource("HealthCheck/b-hc"))).toBe("True/DriftCorrected"),
      {
        timeout: 15_000,
        interval: 10,
      },
    );
    const log = h.sim.requests().filter((r) => r.write);
    // Every write in the simulator's log is one the leader made: one per resource, plus the correction.
    expect(log).toHaveLength(IDS.length + 1);
    expect(log.filter((r) => r.status === 409 || r.status === 412)).toEqual([]);
    expect(leader.writes()).toBe(log.length);
    expect(standby.writes()).toBe(0);

    // The leader stops (SIGTERM) and releases the lease: the standby takes over within a renew interval.
    const stoppedAt = h.sim.clock.now();
    await leader.controller.stop();
    await vi.waitFor(() => expect(standby.controller.leader).toBe(true), { timeout: 15_000, interval: 10 });
    h.sim.edit("compute", {
      kind: "healthCheck",
      name: `projects/${P}/global/healthChecks/c-hc`,
      patch: { checkIntervalSec: 9 },
    });
    await vi.waitFor(
      () => expect(readiness(standby.resource("HealthCheck/c-hc"))).toBe("True/DriftCorrected"),
      {
        timeout: 15_000,
        interval: 10,
      },
    );
    const after = h.sim.requests().filter((r) => r.write && r.time > stoppedAt);
    expect(after).toHaveLength(1);
    expect(standby.writes()).toBe(1);
    expect(leader.writes()).toBe(log.length);
  });
});
