import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Fixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, type RunningController, readiness, tempDir, writeSpecs } from "./harness.ts";

const P = "acme-staging";
const IDS = ["a-hc", "b-hc", "bad-hc", "c-hc"];

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

describe("capstan run: a resource whose updates keep failing", () => {
  let h: SimHarness;
  let c: RunningController;
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  it("backs off exponentially while the others converge, and recovers once the fault is gone", async () => {
    const t = await tempDir("capstan-backoff-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, SPECS);
    h = await startSim(FIXTURE, { timeScale: 1000 });
    // Compute refuses every update of bad-hc, as it would a check it cannot apply.
    const fault = h.sim.faults.add({
      match: { method: "PATCH", path: "/healthChecks/bad-hc$" },
      error: { status: "FAILED_PRECONDITION", message: "The resource is not ready" },
    });
    c = controllerFor(h, {
      specsDir,
      stateDir: join(t.dir, "state"),
      // Six hours between passes: every pass after the first is a retry the backoff asked for.
      intervalMs: 6 * 3_600_000,
      minPassGapMs: 100,
      // 150 s (150 ms real at ×1000): a pass of a loaded machine costs up to ~150 simulated
      // seconds itself, which must stay small beside the gaps compared below.
      queue: { baseDelayMs: 150_000, maxDelayMs: 3_600_000 },
    });
    c.controller.start();
    await vi.waitFor(
      () => expect(c.resource("HealthCheck/bad-hc")?.failures ?? 0).toBeGreaterThanOrEqual(6),
      {
        timeout: 20_000,
        interval: 10,
      },
    );
    for (const id of ["a-hc", "b-hc", "c-hc"]) {
      expect(readiness(c.resource(`HealthCheck/${id}`))).toBe("True/UpToDate");
    }
    const writes = (id: string) =>
      h.sim.requests().filter((r) => r.write && r.path.endsWith(`/healthChecks/${id}`));
    // The healthy ones were written once: the failing one's retries never touched them.
    for (const id of ["a-hc", "b-hc", "c-hc"]) expect(writes(id)).toHaveLength(1);
    const bad = c.resource("HealthCheck/bad-hc")!;
    expect(readiness(bad)).toBe("False/ApplyFailed");
    expect(bad.conditions.find((x) => x.type === "Stalled")?.status).toBe("True");
    expect(bad.lastError?.message).toContain("The resource is not ready");
    expect(bad.nextAttemptAt).toBeDefined();

    // Attempt k+2 came no sooner than 150 s × 2^k after attempt k+1: 2.5, 5, 10, 20, 40 min, so
    // the gaps grow geometrically whatever a pass itself costs.
    const attempts = writes("bad-hc").map((r) => r.time);
    expect(attempts.length).toBeGreaterThanOrEqual(6);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    gaps.slice(0, 5).forEach((gap, k) => {
      expect(gap).toBeGreaterThanOrEqual(150_000 * 2 ** k);
    });
    expect(gaps[4]!).toBeGreaterThan(gaps[0]! * 4);
    const failures = (await c.metrics.registry.getSingleMetric("capstan_reconcile_failures_total")?.get())
      ?.values;
    expect(failures).toEqual([
      { labels: { kind: "HealthCheck", reason: "ApplyFailed" }, value: bad.failures },
    ]);

    // Once Compute accepts the update, the next retry converges and the failures reset.
    h.sim.faults.clear();
    void fault;
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/bad-hc"))).toBe("True/UpToDate"), {
      timeout: 20_000,
      interval: 10,
    });
    expect(c.resource("HealthCheck/bad-hc")!.failures).toBe(0);
  });
});
