import { describe, expect, it } from "vitest";
import { checkInvariants, type PolicyModel, regressions } from "./invariants.ts";

const policy: PolicyModel = {
  address: "CapacityPolicy/backend",
  services: ["CloudRunService/backend"],
  sqlInstance: "SqlInstance/db",
  connector: "VpcConnector/vpc",
  reservedConnections: 10,
  connectionCeiling: 0.8,
  connectorCeiling: 0.7,
};

describe("checkInvariants", () => {
  it("shows the connection arithmetic of the remediation plan's contradiction", () => {
    const [db] = checkInvariants([policy], {
      services: {
        "CloudRunService/backend": { maxInstances: 20, connectionsPerInstance: 5, egressMbpsPerInstance: 0 },
      },
      sql: { "SqlInstance/db": { maxConnections: 120 } },
      connectors: {},
    });
    expect(db).toMatchObject({ id: "db-connections", ok: false, lhs: 110, rhs: 96 });
    expect(db?.explanation).toContain("20 × 5 + 10 = 110 > 0.8 × 120 = 96");
  });

  it("checks connector throughput against the ceiling of its documented capacity", () => {
    const results = checkInvariants([policy], {
      services: {
        "CloudRunService/backend": { maxInstances: 10, connectionsPerInstance: 1, egressMbpsPerInstance: 50 },
      },
      sql: {},
      connectors: { "VpcConnector/vpc": { maxThroughputMbps: 1000, derivation: "10 × e2-micro (100 Mbps)" } },
    });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ id: "connector-throughput", ok: true, lhs: 500, rhs: 700 });
  });

  it("requires the startup probe budget to cover the connect timeout and the connect timeout to be below the request timeout", () => {
    const results = checkInvariants([policy], {
      services: {
        "CloudRunService/backend": {
          maxInstances: 1,
          connectionsPerInstance: 1,
          egressMbpsPerInstance: 1,
          startupBudgetSeconds: 30,
          dbConnectTimeoutSeconds: 45,
          requestTimeoutSeconds: 45,
        },
      },
      sql: {},
      connectors: {},
    });
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      ["startup-covers-connect", false],
      ["connect-below-request", false],
    ]);
    expect(results[0]?.explanation).toBe(
      "startup probe budget 30s < database connect timeout 45s: the probe gives up before the database connection can time out",
    );
  });

  it("counts an existing violation as a regression only when a later state makes it worse", () => {
    const at = (maxInstances: number) =>
      checkInvariants([policy], {
        services: {
          "CloudRunService/backend": { maxInstances, connectionsPerInstance: 5, egressMbpsPerInstance: 0 },
        },
        sql: { "SqlInstance/db": { maxConnections: 120 } },
        connectors: {},
      });
    expect(regressions(at(20), at(20))).toEqual([]);
    expect(regressions(at(20), at(19))).toEqual([]);
    expect(regressions(at(20), at(21))).toHaveLength(1);
    expect(regressions(at(10), at(18))).toHaveLength(1);
  });
});
