import { afterEach, describe, expect, it } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { connect } from "../helpers/gcp.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

// Two connectors named vpc-main, one per region: different GCP resources with the same
// kind and name. Each must be planned, named and written as itself.
const REGIONS = ["europe-west1", "us-central1"] as const;
const FIXTURE: Fixture = {
  vpcaccess: {
    connectors: REGIONS.map((region, i) => ({
      name: `projects/acme-staging/locations/${region}/connectors/vpc-main`,
      network: "default",
      ipCidrRange: `10.${i}.0.0/28`,
      machineType: "e2-micro",
      minInstances: 2,
      maxInstances: 3,
    })),
  },
};
const SPEC = REGIONS.map(
  (region, i) => `apiVersion: capstan.dev/v1alpha1
kind: VpcConnector
metadata:
  name: vpc-main
  project: acme-staging
  region: ${region}
spec:
  maxInstances: ${5 + 2 * i}
`,
).join("---\n");

describe("one spec set, two resources of the same kind and name", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  it("names each by where it is, and writes each its own values", async () => {
    h = await startSim(FIXTURE);
    const clock = h.sim.clock;
    const gcp = connect(h);
    const specs = parseSpecSet([{ path: "specs/vpc.yaml", text: SPEC }]);
    expect(specs.problems).toEqual([]);
    const result = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
    expect(result.plan.resources.map((r) => [r.address, r.changes.map((c) => c.after)])).toEqual([
      ["VpcConnector/vpc-main@acme-staging/europe-west1", [5]],
      ["VpcConnector/vpc-main@acme-staging/us-central1", [7]],
    ]);
    // The specs name no CapacityPolicy, so there are no gates to read.
    const report = await execute({
      result,
      gcp,
      reconcilers: RECONCILERS,
      clock,
      gates: async () => undefined,
    });
    expect(report.outcome).toBe("converged");
    const live = await Promise.all(
      REGIONS.map(async (region) => {
        const [c] = await h.gcp.vpcAccess.getConnector({
          name: `projects/acme-staging/locations/${region}/connectors/vpc-main`,
        });
        return c.maxInstances;
      }),
    );
    expect(live).toEqual([5, 7]);
  });
});
