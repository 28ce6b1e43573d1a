import { describe, expect, it } from "vitest";
import { expectGolden } from "../../test/helpers/golden.ts";
import { diffManaged } from "../diff/index.ts";
import { PLAN_FORMAT_VERSION, type Plan, type ResourcePlan, summarize } from "../plan/model.ts";
import { renderJson, renderMarkdown, renderText, useColor } from "./index.ts";

const resources: ResourcePlan[] = [
  {
    address: "SqlInstance/main-db",
    kind: "SqlInstance",
    name: "projects/acme/instances/main-db",
    action: "update",
    changes: diffManaged(
      { tier: "db-custom-4-16384", databaseFlags: { max_connections: "120", shared_buffers: "1048576" } },
      { tier: "db-custom-2-7680", databaseFlags: { max_connections: "100" } },
    ),
    disruptions: [
      {
        kind: "restart",
        reason: "tier and max_connections require a restart",
        fields: ["tier", "databaseFlags.max_connections"],
        expectedDowntimeSeconds: 60,
      },
    ],
    notes: [],
    source: { file: "specs/sql.yaml", line: 3, col: 1 },
  },
  {
    address: "CloudRunService/backend",
    kind: "CloudRunService",
    name: "projects/acme/locations/europe-west1/services/backend",
    action: "no-op",
    changes: [],
    disruptions: [],
    notes: ["env DB_PASSWORD: secret db-password version latest resolves to 3"],
  },
  {
    address: "VpcConnector/egress",
    kind: "VpcConnector",
    name: "projects/acme/locations/europe-west1/connectors/egress",
    action: "missing",
    changes: [],
    disruptions: [],
    notes: [],
  },
];
const plan: Plan = {
  formatVersion: PLAN_FORMAT_VERSION,
  observedAt: "2026-01-01T00:00:00.000Z",
  resources,
  problems: [],
  summary: summarize(resources, []),
};

describe("plan rendering", () => {
  it("prints a terraform-like text plan with old → new values, costs and a summary line", () => {
    const text = renderText(plan);
    expect(text).toContain('~ tier:                          "db-custom-2-7680" → "db-custom-4-16384"');
    expect(text).toContain('+ databaseFlags.shared_buffers:  (unset) → "1048576"');
    expect(text).toContain("SQL restart (expected downtime ~60s)");
    expect(text).toContain(
      "Plan: 1 to update, 0 to replace, 1 unchanged, 1 missing. Costs: 1 SQL restart(s).",
    );
    expect(text).not.toContain("\x1b[");
    expectGolden("render/plan.txt", text);
  });

  it("colours the text only when asked", () => {
    expect(renderText(plan, { color: true })).toContain("\x1b[33m~\x1b[0m");
  });

  it("decides on colour from the terminal and NO_COLOR", () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(useColor({ isTTY: false }, {})).toBe(false);
  });

  it("prints markdown for a pull request comment", () => {
    expectGolden("render/plan.md", renderMarkdown(plan));
  });

  it("prints JSON with unset values as null and the format version", () => {
    const doc = JSON.parse(renderJson(plan)) as Plan;
    expect(doc.formatVersion).toBe("capstan.dev/plan/v1");
    expect(doc.resources[0]?.changes[2]).toMatchObject({ before: null, after: "1048576" });
  });
});

describe("plan JSON schema", () => {
  it("accepts the JSON rendering of a plan", async () => {
    const { compileSchema } = await import("../spec/validate.ts");
    const { readFileSync } = await import("node:fs");
    const schema = JSON.parse(
      readFileSync(new URL("../../schemas/plan.schema.json", import.meta.url), "utf8"),
    );
    const validate = compileSchema(schema);
    const ok = validate(JSON.parse(renderJson(plan)));
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(validate({ ...JSON.parse(renderJson(plan)), formatVersion: "v0" })).toBe(false);
  });
});
