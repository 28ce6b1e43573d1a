import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatProblem, KINDS, loadSpecs } from "../../src/spec/index.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("valid spec sets", () => {
  it("loads the copyable examples in specs/examples without a problem, one spec of every kind", async () => {
    const set = await loadSpecs(["specs/examples"], { cwd: ROOT });
    expect(set.problems.map(formatProblem)).toEqual([]);
    expect(new Set(set.resources.map((r) => r.kind))).toEqual(new Set(KINDS));
    for (const r of set.resources) {
      expect(r.metadata.project).toBe("acme-staging");
    }
  });

  it("loads the valid fixtures, nested defaults and external references included, without a problem", async () => {
    const set = await loadSpecs(["test/fixtures/specs/valid"], { cwd: ROOT });
    expect(set.problems.map(formatProblem)).toEqual([]);
    expect(set.resources.map((r) => `${r.kind}/${r.metadata.name}`).sort()).toEqual([
      "BackendService/billing-web",
      "CapacityPolicy/orders",
      "CloudRunService/billing",
      "CloudRunService/orders",
      "SqlInstance/orders-db",
      "VpcConnector/vpc-us",
    ]);
  });

  it("resolves the policy member's SQL instance and connector from the service's own spec", async () => {
    const set = await loadSpecs(["test/fixtures/specs/valid/nested"], { cwd: ROOT });
    const policy = set.resources.find((r) => r.kind === "CapacityPolicy");
    expect(policy?.kind).toBe("CapacityPolicy");
    if (policy?.kind !== "CapacityPolicy") return;
    const [member] = policy.spec.members;
    expect(member?.sqlInstance?.name).toBe("projects/acme-prod/instances/orders-db");
    expect(member?.connector?.name).toBe("projects/acme-prod/locations/us-central1/connectors/vpc-us");
    expect(member?.dbConnectTimeoutEnv).toBe("DB_CONNECT_TIMEOUT");
    expect(policy.spec.sql).toEqual({ reservedConnections: 0, ceiling: 0.8 });
  });
});
