import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import type { Step } from "../plan/steps.ts";
import type { ApplyReport } from "./execute.ts";
import { RolloutRecorder } from "./record.ts";

const step = (index: number): Step => ({
  index,
  phase: "raise-providers",
  changes: [
    {
      address: "SqlInstance/db",
      kind: "SqlInstance",
      change: { path: ["tier"], field: "tier", before: "a", after: "b" },
    },
  ],
  invariants: [],
});
const gate = (ok: boolean, sample: number) =>
  ({
    type: "gate",
    gate: "custom.googleapis.com/x",
    subject: "CloudRunService/api",
    value: ok ? 0.99 : 0.5,
    threshold: 0.95,
    ok,
    sample,
    baseline: 0.7,
  }) as const;

describe("the rollout recorder", () => {
  it("times each step and what it waited on, from the executor's events", () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const steps = [step(1), step(2)];
    const r = new RolloutRecorder({ clock, steps, start: [] });
    const at = (s: number) => Date.UTC(2026, 0, 1) + s * 1000;
    const tick = (s: number) => clock.advance(s * 1000);
    r.sink({ type: "step-start", step: steps[0]!, total: 2 });
    r.sink({ type: "write", address: "SqlInstance/db", fields: ["tier"] });
    r.sink({ type: "operation-wait", address: "SqlInstance/db", what: "its operation" });
    tick(180);
    r.sink({ type: "operation-done", address: "SqlInstance/db", elapsedMs: 180_000 });
    r.sink({ type: "ready-wait", address: "SqlInstance/db", reason: "instance is MAINTENANCE" });
    tick(10);
    r.sink({ type: "ready-wait", address: "SqlInstance/db", reason: "instance is PENDING_CREATE" });
    tick(10);
    r.sink({ type: "ready", address: "SqlInstance/db", elapsedMs: 20_000 });
    r.sink({ type: "settle", seconds: 300 });
    tick(300);
    r.sink(gate(false, 1));
    tick(600);
    r.sink(gate(true, 2));
    r.sink({ type: "step-done", step: steps[0]!, elapsedMs: 1100_000 });
    expect(r.record.steps[1]!.state).toBe("pending");
    r.sink({ type: "step-start", step: steps[1]!, total: 2 });
    tick(5);
    r.sink({ type: "step-done", step: steps[1]!, elapsedMs: 5000 });
    r.sink(gate(true, 1));
    const report: ApplyReport = { outcome: "converged", message: "ok", steps: [], rolledBack: [], live: [] };
    const rec = r.finish(report);

    const first = rec.steps[0]!;
    expect([first.state, first.startedAt, first.endedAt]).toEqual(["done", at(0), at(1100)]);
    expect(first.waits.map((w) => [w.kind, w.what, w.startedAt, w.endedAt])).toEqual([
      ["operation", "its operation", at(0), at(180)],
      // Polled twice, one wait, with the latest reason.
      ["readiness", "instance is PENDING_CREATE", at(180), at(200)],
      ["settle", "300s settle time", at(200), at(500)],
      ["gate", "next sample of custom.googleapis.com/x on CloudRunService/api", at(500), at(1100)],
    ]);
    expect(rec.samples.map((s) => [s.step, s.sample, s.ok])).toEqual([
      [1, 1, false],
      [1, 2, true],
      // After the last step: the end-to-end verification.
      [undefined, 1, true],
    ]);
    expect([rec.outcome, rec.endedAt]).toEqual(["converged", at(1105)]);
  });

  it("marks a step rolled back when the executor stops after rolling it back", () => {
    const clock = new ManualClock();
    const r = new RolloutRecorder({ clock, steps: [step(1)], start: [] });
    r.sink({ type: "step-start", step: step(1), total: 1 });
    r.sink({ type: "settle", seconds: 60 });
    r.sink({ type: "rollback", address: "SqlInstance/db", fields: ["tier"] });
    r.sink({ type: "stopped", reason: "step 1 failed" });
    const rec = r.record;
    expect(rec.steps[0]!.state).toBe("rolled-back");
    expect(rec.steps[0]!.rolledBack).toEqual([{ address: "SqlInstance/db", fields: ["tier"] }]);
    expect(rec.steps[0]!.waits.every((w) => w.endedAt !== undefined)).toBe(true);
  });
});
