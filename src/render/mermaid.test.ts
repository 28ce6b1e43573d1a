import { describe, expect, it } from "vitest";
import { expectGolden } from "../../test/helpers/golden.ts";
import type { InvariantResult } from "../capacity/invariants.ts";
import { diffManaged } from "../diff/index.ts";
import { PLAN_FORMAT_VERSION, type Plan, type ResourceKind, summarize } from "../plan/model.ts";
import type { Phase, Step } from "../plan/steps.ts";
import { renderMarkdown } from "./markdown.ts";
import { renderMermaid } from "./mermaid.ts";

const inv = (ok: boolean, explanation: string): InvariantResult => ({
  id: "db-connections",
  policy: "CapacityPolicy/backend-capacity",
  subject: "SqlInstance/staging-db",
  ok,
  lhs: 0,
  rhs: 0,
  explanation,
});

function step(
  index: number,
  phase: Phase,
  changes: readonly [string, ResourceKind, Record<string, unknown>, Record<string, unknown>][],
  disruption?: Step["disruption"],
): Step {
  return {
    index,
    phase,
    changes: changes.flatMap(([address, kind, desired, live]) =>
      diffManaged(desired, live).map((change) => ({ address, kind, change })),
    ),
    disruption,
    invariants: [inv(index === 3, `step ${index}: 25 × 5 + 10 = 135 > 0.8 × 120 = 96 "quoted" <b>`)],
  };
}

const steps: Step[] = [
  step(
    1,
    "raise-providers",
    [
      [
        "SqlInstance/staging-db",
        "SqlInstance",
        { databaseFlags: { max_connections: "120", shared_buffers: "196608" } },
        { databaseFlags: {} },
      ],
    ],
    {
      kind: "restart",
      reason: "setting max_connections to 120 restarts the instance",
      fields: ["databaseFlags.max_connections"],
      expectedDowntimeSeconds: 60,
    },
  ),
  step(2, "raise-providers", [
    [
      "VpcConnector/staging-egress",
      "VpcConnector",
      { minInstances: 3, maxInstances: 6 },
      { minInstances: 2, maxInstances: 3 },
    ],
    [
      "BackendService/backend-bs",
      "BackendService",
      { logConfig: { sampleRate: 1 } },
      { logConfig: { sampleRate: 0.1 } },
    ],
  ]),
  step(3, "consumers", [
    [
      "CloudRunService/backend",
      "CloudRunService",
      {
        template: { maxConcurrency: 16, timeout: 60, scaling: { maxInstances: 17 }, env: { A: "1", B: "2" } },
      },
      { template: { maxConcurrency: 10, timeout: 300, scaling: { maxInstances: 25 }, env: {} } },
    ],
  ]),
];

const plan: Plan = {
  formatVersion: PLAN_FORMAT_VERSION,
  observedAt: "2026-01-01T00:00:00.000Z",
  resources: [],
  problems: [],
  summary: summarize([], []),
  rollout: { start: [inv(false, "25 × 5 + 10 = 135 > 0.8 × 100 = 80")], steps },
};

describe("the rollout as a Mermaid flowchart", () => {
  it("draws one box per step in order, grouped by phase, with the disruptive step marked", () => {
    const chart = renderMermaid(plan);
    expect(chart.startsWith("```mermaid\nflowchart TD\n")).toBe(true);
    expect(chart).toContain("  live --> step1 --> step2 --> step3\n");
    expect(chart).toContain('subgraph phase1["raise capacity providers, infrastructure settings"]');
    expect(chart).toContain('subgraph phase2["application settings, raise consumer demand"]');
    expect(chart).toContain("⚠️ SQL restart (expected downtime ~60s)");
    expect(chart).toContain("class step1 disruptive");
    expect(chart).toContain(
      "CloudRunService/backend: template.maxConcurrency, template.timeout, template.scaling.maxInstances +2 more",
    );
    expectGolden("render/plan-rollout.md", renderMarkdown(plan));
  });

  it("escapes what Mermaid would read as syntax", () => {
    const odd: Plan = {
      ...plan,
      rollout: {
        start: [],
        steps: [step(1, "consumers", [['CloudRunService/a"b<c>#d', "CloudRunService", { x: 1 }, { x: 2 }]])],
      },
    };
    const chart = renderMermaid(odd);
    expect(chart).toContain("CloudRunService/a#quot;b#lt;c#gt;#35;d: x");
    expect(chart).not.toContain('a"b');
  });

  it("is left out when the plan has no steps", () => {
    expect(renderMermaid({ ...plan, rollout: { start: [], steps: [] } })).toBe("");
    expect(renderMarkdown({ ...plan, rollout: undefined })).not.toContain("mermaid");
  });
});
