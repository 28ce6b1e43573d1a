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
    h.sim.faults.add({
      match: { method: "PATCH", path: "/healthChecks/bad-hc$" },
      error: { status: "FAILED_PRECONDITION", message: "The resource is not ready" },
    });
    c = controllerFor(h, {
      specsDir,
      stateDir: join(t.dir, "state"),
      // No periodic pass within the test: 100 simulated hours is 6 real minutes at this
      // scale, so every attempt after the first is a retry the backoff scheduled, however
      // slowly a loaded machine runs the test.
      intervalMs: 100 * 3_600_000,
      minPassGapMs: 100,
      queue: { baseDelayMs: 30_000, maxDelayMs: 480_000 },
    });
    c.controller.start();
    const badLog = () => c.logs.filter((l) => l["name"] === "bad-hc" && l["message"] === "reconcile failed");
    // Wait for the event, not for time: six failed attempts, and the status between two of
    // them (the next one scheduled), so what is read below is one consistent moment.
    const bad = await vi.waitFor(
      () => {
        const r = c.resource("HealthCheck/bad-hc");
        expect(r?.failures ?? 0).toBeGreaterThanOrEqual(6);
        expect(r?.nextAttemptAt).toBeDefined();
        expect(badLog()).toHaveLength(r!.failures);
        return r!;
      },
      { timeout: 60_000, interval: 10 },
    );
    for (const id of ["a-hc", "b-hc", "c-hc"]) {
      expect(readiness(c.resource(`HealthCheck/${id}`))).toBe("True/UpToDate");
    }
    const writes = (id: string) =>
      h.sim.requests().filter((r) => r.write && r.path.endsWith(`/healthChecks/${id}`));
    // The healthy ones were written once: the failing one's retries never touched them.
    for (const id of ["a-hc", "b-hc", "c-hc"]) expect(writes(id)).toHaveLength(1);
    expect(readiness(bad)).toBe("False/ApplyFailed");
    expect(bad.conditions.find((x) => x.type === "Stalled")?.status).toBe("True");
    expect(bad.lastError?.message).toContain("The resource is not ready");

    // The delays the controller chose are exact, whatever the machine's load: 30 s doubling
    // per failure (client-go's exponential failure rate limiter), capped at the maximum.
    const delays = badLog().map((l) => l["retryInMs"]);
    expect(delays.slice(0, 6)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 480_000]);
    // And no retry came early: attempt k+1 waited at least the delay attempt k scheduled.
    // (A loaded machine only makes a gap longer.)
    const attempts = writes("bad-hc").map((r) => r.time);
    expect(attempts.length).toBeGreaterThanOrEqual(6);
    attempts.slice(1, 6).forEach((at, k) => {
      expect(at - attempts[k]!).toBeGreaterThanOrEqual(delays[k] as number);
    });
    // The failure counter agrees with the status once both are read between attempts.
    await vi.waitFor(async () => {
      const failures = (await c.metrics.registry.getSingleMetric("capstan_reconcile_failures_total")?.get())
        ?.values;
      expect(failures).toEqual([
        {
          labels: { kind: "HealthCheck", reason: "ApplyFailed" },
          value: c.resource("HealthCheck/bad-hc")!.failures,
        },
      ]);
    });

    // Once Compute accepts the update, the next retry (at most the 8 min cap away) converges
    // and the failures reset.
    h.sim.faults.clear();
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/bad-hc"))).toBe("True/UpToDate"), {
      timeout: 60_000,
      interval: 10,
    });
    expect(c.resource("HealthCheck/bad-hc")!.failures).toBe(0);
    // Seven passes or more of real work: on a loaded machine that outlasts vitest's default
    // 30 s, while nothing above depends on how long it takes.
  }, 180_000);
});
