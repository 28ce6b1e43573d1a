import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { runValidate } from "../../src/cli/validate.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const LITERAL = join(ROOT, "test/fixtures/golden-path/literal-plan");

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe("the remediation plan with its literal numbers", () => {
  it("is refused offline: no load balancer timeout and no health check on a serverless NEG backend", async () => {
    let text = "";
    const out = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    await expect(runValidate([LITERAL], { out })).rejects.toThrow(
      "2 problems in 1 file (5 spec files checked); nothing was sent to GCP",
    );
    const lines = text.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /literal-plan\/load-balancer\.yaml:9:15 {2}BackendService\/backend-bs {2}spec\.timeoutSec: /,
    );
    expect(lines[0]).toContain(
      "the service's own request timeout (CloudRunService spec.template.timeout) applies",
    );
    expect(lines[0]).toContain(
      "Timeout sec is not supported for a backend service with Serverless network endpoint groups.",
    );
    expect(lines[1]).toMatch(
      /literal-plan\/load-balancer\.yaml:10:17 {2}BackendService\/backend-bs {2}spec\.healthChecks: /,
    );
    expect(lines[1]).toContain("use the CloudRunService's startupProbe and livenessProbe instead");
  });

  it("is refused by plan with the arithmetic: 20 instances × 5 connections + 10 reserved exceed 80% of 120", async () => {
    h = await startSim((await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture);
    const clock = h.sim.clock;
    const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const specs = await loadSpecs([LITERAL]);
    const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
    const errors = plan.problems.filter((p) => p.severity === "error").map((p) => p.message);
    expect(errors).toContain(
      "the desired state violates db-connections for SqlInstance/staging-db: 20 × 5 + 10 = 110 > 0.8 × 120 = 96 (database connections at full scale vs. 80% of max_connections)",
    );
    expect(errors.some((m) => m.includes("spec.timeoutSec: not allowed with serverless NEG backends"))).toBe(
      true,
    );
    expect(
      errors.some((m) => m.includes("spec.healthChecks: not allowed with serverless NEG backends")),
    ).toBe(true);
    expect(plan.summary.errors).toBe(errors.length);
  });

  it("fits once the instance count is corrected to floor((0.8 × 120 − 10) / 5) = 17", async () => {
    const specs = await loadSpecs([join(ROOT, "specs/staging")]);
    const backend = specs.resources.find((r) => r.kind === "CloudRunService");
    const policy = specs.resources.find((r) => r.kind === "CapacityPolicy");
    expect(backend?.kind === "CloudRunService" && backend.spec.template?.scaling?.maxInstances).toBe(
      Math.floor((0.8 * 120 - 10) / 5),
    );
    expect(policy?.kind === "CapacityPolicy" && policy.spec.members[0]?.connectionsPerInstance).toBe(5);
  });
});
