import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { execute } from "../../src/apply/execute.ts";
import { monitoringGateReader } from "../../src/apply/gates.ts";
import type { ProgressEvent } from "../../src/apply/progress.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CONNECTOR_SERIES = (value: number) => ({
  series: [
    {
      metricType: "vpcaccess.googleapis.com/connector/cpu/utilizations",
      resource: {
        type: "vpc_access_connector",
        labels: { resource_container: "acme-staging", location: "europe-west1", connector_name: "vpc-main" },
      },
      value,
    },
  ],
  replace: true,
});

/** The examples' live state with the connector already at its target, so step 1 is reversible. */
function fixture(): Fixture {
  const f = parseYaml(readFileSync(join(ROOT, "test/fixtures/e2e/examples-live.yaml"), "utf8")) as Fixture & {
    vpcaccess: { connectors: { maxInstances: number }[] };
  };
  f.vpcaccess.connectors[0]!.maxInstances = 6;
  return f;
}

describe("metric gates during apply", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  async function run(onEvent: (e: ProgressEvent) => void) {
    h = await startSim(fixture());
    const clock = h.sim.clock;
    const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const specs = await loadSpecs([join(ROOT, "specs/examples")]);
    const result = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
    expect(result.plan.problems).toEqual([]);
    return execute({
      result,
      gcp,
      reconcilers: RECONCILERS,
      clock,
      gates: monitoringGateReader(gcp, clock),
      progress: onEvent,
    });
  }

  it("rolls a step back, newest first, when its change makes a gated metric fail and worse", async () => {
    const events: ProgressEvent[] = [];
    const report = await run((e) => {
      events.push(e);
      // The connector saturates while the first step settles.
      if (e.type === "settle" && events.filter((x) => x.type === "settle").length === 1) {
        void h.sim.handle(
          "PUT",
          "/__sim/services/monitoring/series",
          undefined,
          JSON.stringify(CONNECTOR_SERIES(0.97)),
        );
      }
    });
    expect(report.outcome).toBe("rolled-back");
    expect(report.message).toContain(
      "gate vpcaccess.googleapis.com/connector/cpu/utilizations on VpcConnector/vpc-main failed 3 sample(s) in a row",
    );
    expect(events.filter((e) => e.type === "gate" && !e.ok)).toHaveLength(3);
    expect(report.rolledBack.length).toBeGreaterThan(0);
    // Every field the first step wrote is back to its value before the step.
    const hc = (h.sim.dump()["compute"] as { healthChecks: { name: string; checkIntervalSec: number }[] })
      .healthChecks;
    expect(hc.find((x) => x.name === "legacy-web-hc")?.checkIntervalSec).toBe(5);
    expect(report.steps.at(-1)?.outcome).toBe("rolled-back");
  });

  it("converges and verifies every gate at the end when the metrics hold", async () => {
    const report = await run(() => {});
    expect(report.outcome).toBe("converged");
    expect(report.message).toContain("applied and verified");
  });
});
