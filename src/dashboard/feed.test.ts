import { describe, expect, it } from "vitest";
import type { ApplyReport } from "../apply/execute.ts";
import type { ProgressEvent } from "../apply/progress.ts";
import { ManualClock } from "../clock/index.ts";
import type { ControllerEvent } from "../controller/events.ts";
import type { PlanResult } from "../plan/build.ts";
import type { Step } from "../plan/steps.ts";
import { DashboardFeed } from "./feed.ts";

const step: Step = {
  index: 1,
  phase: "raise-providers",
  changes: [
    {
      address: "HealthCheck/hc",
      kind: "HealthCheck",
      change: { path: ["checkIntervalSec"], field: "checkIntervalSec", before: 30, after: 5 },
    },
  ],
  invariants: [],
};
const result = {
  plan: { observedAt: "2026-01-01T00:00:00Z" },
  planned: [],
  steps: { steps: [step], start: [], refusals: [] },
  world: { policies: [], shapes: new Map(), resources: new Map() },
} as unknown as PlanResult;
const converged: ApplyReport = { outcome: "converged", message: "ok", steps: [], rolledBack: [], live: [] };

/** One pass that finds drift on a health check and corrects it in one step. */
function pass(id: number, execution: number): ControllerEvent[] {
  const progress = (event: ProgressEvent): ControllerEvent => ({
    type: "progress",
    pass: id,
    execution,
    event,
  });
  return [
    { type: "pass-started", pass: id, leader: true },
    { type: "planned", pass: id, result },
    { type: "drift-found", address: "HealthCheck/hc", fields: ["checkIntervalSec"], action: "corrected" },
    { type: "execution-started", pass: id, execution, result },
    progress({ type: "step-start", step, total: 1 }),
    progress({ type: "write", address: "HealthCheck/hc", fields: ["checkIntervalSec"] }),
    progress({ type: "operation-wait", address: "HealthCheck/hc", what: "its operation" }),
    progress({ type: "operation-done", address: "HealthCheck/hc", elapsedMs: 8000 }),
    progress({ type: "step-done", step, elapsedMs: 9000 }),
    { type: "execution-finished", pass: id, execution, report: converged },
    {
      type: "condition",
      address: "HealthCheck/hc",
      ready: true,
      reason: "DriftCorrected",
      previous: "Progressing",
      message: "put back checkIntervalSec",
    },
    {
      type: "pass-finished",
      summary: { id, startedAt: "", finishedAt: "", outcome: "converged", message: "1 up to date", calls: 4 },
    },
  ];
}

describe("the dashboard's feed", () => {
  it("stays bounded over 1,000 passes: a fixed ring of events and the last few rollouts", () => {
    const clock = new ManualClock();
    const feed = new DashboardFeed({ clock, capacity: 200, rollouts: 3 });
    let notified = 0;
    feed.subscribe(() => notified++);
    for (let i = 1; i <= 1000; i++) {
      for (const e of pass(i, i)) feed.observer(e);
      clock.advance(60_000);
    }
    expect(feed.events().length).toBe(200);
    expect(feed.rollouts.length).toBe(3);
    expect(feed.rollouts.map((r) => r.execution)).toEqual([1000, 999, 998]);
    // Every pass adds the same events: drift, step start and end, rollout, applied, pass.
    expect(feed.latestSeq).toBe(6000);
    expect(feed.events(5990).map((e) => e.seq)).toEqual([
      5991, 5992, 5993, 5994, 5995, 5996, 5997, 5998, 5999, 6000,
    ]);
    expect(feed.events(6000)).toEqual([]);
    expect(notified).toBeGreaterThan(6000);
    const last = feed.rollouts[0]!.recorder.record;
    expect(last.outcome).toBe("converged");
    expect(last.steps[0]!.waits).toMatchObject([{ kind: "operation", address: "HealthCheck/hc" }]);
  });

  it("names what happened in words, and leaves steady passes to /metrics", () => {
    const feed = new DashboardFeed({ clock: new ManualClock() });
    for (const e of pass(1, 1)) feed.observer(e);
    const steady: ControllerEvent = {
      type: "pass-finished",
      summary: {
        id: 2,
        startedAt: "",
        finishedAt: "",
        outcome: "converged",
        message: "1 up to date",
        calls: 4,
      },
    };
    feed.observer({ type: "pass-started", pass: 2, leader: true });
    feed.observer(steady);
    expect(feed.events().map((e) => [e.type, e.level, e.message])).toEqual([
      ["drift", "warning", "drift found in checkIntervalSec: correcting it"],
      ["step", "info", "step 1/1 started: 1 change(s) to HealthCheck/hc"],
      ["step", "info", "step 1 done"],
      ["rollout", "info", "rollout converged: ok"],
      ["applied", "info", "Progressing → DriftCorrected: put back checkIntervalSec"],
      ["pass", "info", "pass 1 converged: 1 up to date (4 API calls)"],
    ]);
  });

  it("checks its options", () => {
    expect(() => new DashboardFeed({ clock: new ManualClock(), capacity: 0 })).toThrow(
      "Expected `capacity` to be an integer >= 1, got `0`",
    );
  });
});
