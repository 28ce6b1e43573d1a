import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Fixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, type RunningController, readiness, tempDir, writeSpecs } from "./harness.ts";

const P = "acme-staging";
const hcName = (id: string) => `projects/${P}/global/healthChecks/${id}`;

const FIXTURE: Fixture = {
  durations: { "compute.update": 8 },
  compute: {
    project: P,
    healthChecks: [
      {
        name: "web-hc",
        checkIntervalSec: 5,
        timeoutSec: 5,
        httpHealthCheck: { port: 8080, requestPath: "/healthz" },
      },
      {
        name: "api-hc",
        checkIntervalSec: 10,
        timeoutSec: 5,
        httpHealthCheck: { port: 8080, requestPath: "/healthz" },
      },
      {
        name: "batch-hc",
        checkIntervalSec: 10,
        timeoutSec: 5,
        httpHealthCheck: { port: 9000, requestPath: "/ready" },
      },
    ],
  },
};

function hc(name: string, spec: string, annotations: Record<string, string> = {}): string {
  const ann = Object.entries(annotations);
  return `apiVersion: capstan.dev/v1alpha1
kind: HealthCheck
metadata:
  name: ${name}
${ann.length ? `  annotations:\n${ann.map(([k, v]) => `    ${k}: "${v}"`).join("\n")}\n` : ""}spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

const SPECS = {
  "capstan.yaml": `project: ${P}\n`,
  "web.yaml": hc("web-hc", "checkIntervalSec: 10\ntimeoutSec: 5"),
  "api.yaml": hc("api-hc", "checkIntervalSec: 10\ntimeoutSec: 5"),
  "batch.yaml": hc("batch-hc", "checkIntervalSec: 10\ntimeoutSec: 5", { "capstan.dev/on-drift": "report" }),
};

describe("capstan run: drift", () => {
  let h: SimHarness;
  let c: RunningController;
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  let afterPass: number[] = [];
  async function setup(options: { intervalMs: number; timeScale?: number; specs?: Record<string, string> }) {
    afterPass = [];
    const t = await tempDir("capstan-drift-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, options.specs ?? SPECS);
    h = await startSim(FIXTURE, { timeScale: options.timeScale ?? 100 });
    c = controllerFor(h, {
      specsDir,
      stateDir: join(specsDir, ".capstan"),
      intervalMs: options.intervalMs,
      jitter: 0.1,
      // Which pass had ended when the hook ran (capstan run releases memory here).
      afterPass: () => afterPass.push(c.controller.status().lastPass?.id ?? 0),
    });
    c.controller.start();
    await vi.waitFor(() => expect(c.controller.status().lastPass?.outcome).toMatch(/^(converged|partial)$/), {
      timeout: 15_000,
      interval: 10,
    });
    return { specsDir };
  }

  const simHc = (id: string) =>
    (h.sim.dump()["compute"] as { healthChecks: Record<string, unknown>[] }).healthChecks.find(
      (x) => x["name"] === id,
    )!;
  const writesTo = (id: string, since = 0) =>
    h.sim.requests().filter((r) => r.write && r.path.endsWith(`/healthChecks/${id}`) && r.time >= since);
  const metric = async (name: string) =>
    (await c.metrics.registry.getSingleMetric(name)?.get())?.values.map((v) => ({
      labels: v.labels,
      value: v.value,
    }));

  it("applies the specs on its first pass, then corrects an out-of-band edit within one interval", async () => {
    await setup({ intervalMs: 60_000 });
    expect(c.controller.status().lastPass?.outcome).toBe("converged");
    // The first pass applied web-hc's spec, which is no drift: nothing was applied before.
    expect(readiness(c.resource("HealthCheck/web-hc"))).toBe("True/UpToDate");
    expect(simHc("web-hc")["checkIntervalSec"]).toBe(10);
    expect(writesTo("web-hc")).toHaveLength(1);

    const editedAt = h.sim.clock.now();
    h.sim.edit("compute", { kind: "healthCheck", name: hcName("api-hc"), patch: { checkIntervalSec: 30 } });
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/api-hc"))).toBe("True/DriftCorrected"), {
      timeout: 15_000,
      interval: 10,
    });
    // The hook ran once after each pass that ended, in order.
    const ended = c.controller.status().lastPass!.id;
    expect(afterPass.slice(0, ended)).toEqual(Array.from({ length: ended }, (_, i) => i + 1));
    const [fix, ...more] = writesTo("api-hc", editedAt);
    expect(more).toEqual([]);
    expect(fix!.body).toEqual({ checkIntervalSec: 10 });
    // Within one interval (with its jitter) of the edit, plus the time of the pass itself.
    expect(fix!.time - editedAt).toBeLessThanOrEqual(60_000 * 1.1 + 10_000);
    expect(simHc("api-hc")["checkIntervalSec"]).toBe(10);
    const api = c.resource("HealthCheck/api-hc")!;
    expect(api.driftCount).toBe(1);
    expect(api.conditions.find((x) => x.type === "Ready")?.message).toContain("put back checkIntervalSec");
    expect(await metric("capstan_drift_found_total")).toEqual([
      { labels: { kind: "HealthCheck", action: "corrected" }, value: 1 },
    ]);
    // The reconcile logged through its own child logger.
    const lines = c.logs.filter((l) => l["name"] === "api-hc" && l["reconcileId"] === api.reconcileId);
    expect(lines.map((l) => l["message"])).toEqual(
      expect.arrayContaining(["reconcile started", "write", "reconcile succeeded"]),
    );
    expect(c.logs.find((l) => l["message"] === "drift found")).toMatchObject({
      severity: "WARNING",
      kind: "HealthCheck",
      name: "api-hc",
      fields: ["checkIntervalSec"],
    });
  });

  it("only reports drift on a resource whose spec says on-drift: report, and counts it once", async () => {
    await setup({ intervalMs: 60_000 });
    const editedAt = h.sim.clock.now();
    h.sim.edit("compute", { kind: "healthCheck", name: hcName("batch-hc"), patch: { timeoutSec: 8 } });
    await vi.waitFor(
      () => expect(readiness(c.resource("HealthCheck/batch-hc"))).toBe("False/DriftReported"),
      {
        timeout: 15_000,
        interval: 10,
      },
    );
    const passes = c.controller.status().passes;
    c.controller.trigger("test: another pass");
    await vi.waitFor(() => expect(c.controller.status().passes).toBeGreaterThan(passes + 1), {
      timeout: 15_000,
      interval: 10,
    });
    expect(writesTo("batch-hc", editedAt)).toEqual([]);
    expect(simHc("batch-hc")["timeoutSec"]).toBe(8);
    const batch = c.resource("HealthCheck/batch-hc")!;
    expect(batch.pendingChanges).toEqual(["timeoutSec"]);
    expect(batch.conditions.find((x) => x.type === "Stalled")?.status).toBe("False");
    expect(await metric("capstan_drift_found_total")).toEqual([
      { labels: { kind: "HealthCheck", action: "reported" }, value: 1 },
    ]);
    expect((await metric("capstan_queue_depth"))?.[0]?.value).toBe(0);
  });

  it("applies a spec change at once, even for a report-only resource, since a new spec is no drift", async () => {
    const { specsDir } = await setup({ intervalMs: 3_600_000 });
    const before = c.resource("HealthCheck/batch-hc")!.lastApplied!;
    const changedAt = h.sim.clock.now();
    await writeSpecs(specsDir, {
      "batch.yaml": hc("batch-hc", "checkIntervalSec: 10\ntimeoutSec: 4", {
        "capstan.dev/on-drift": "report",
      }),
    });
    await vi.waitFor(() => expect(simHc("batch-hc")["timeoutSec"]).toBe(4), {
      timeout: 15_000,
      interval: 10,
    });
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/batch-hc"))).toBe("True/UpToDate"), {
      timeout: 15_000,
      interval: 10,
    });
    // Far sooner than the hour-long interval: the change itself triggered the pass.
    expect(writesTo("batch-hc", changedAt)[0]!.time - changedAt).toBeLessThan(60_000);
    const after = c.resource("HealthCheck/batch-hc")!;
    expect(after.lastApplied!.specHash).not.toBe(before.specHash);
    expect(after.driftCount).toBe(0);
  });

  it("leaves a suspended resource alone until the annotation goes", async () => {
    const { specsDir } = await setup({
      intervalMs: 3_600_000,
      timeScale: 1000,
      specs: {
        ...SPECS,
        "api.yaml": hc("api-hc", "checkIntervalSec: 20\ntimeoutSec: 5", { "capstan.dev/suspend": "true" }),
      },
    });
    expect(readiness(c.resource("HealthCheck/api-hc"))).toBe("False/Suspended");
    expect(writesTo("api-hc")).toEqual([]);
    await writeSpecs(specsDir, { "api.yaml": hc("api-hc", "checkIntervalSec: 20\ntimeoutSec: 5") });
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/api-hc"))).toBe("True/UpToDate"), {
      timeout: 15_000,
      interval: 10,
    });
    expect(simHc("api-hc")["checkIntervalSec"]).toBe(20);
  });
});
