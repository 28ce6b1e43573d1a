import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");

describe("plan with read-only roles", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  it("skips Cloud Run's server-side validation with a note instead of failing, and writes nothing", async () => {
    h = await startSim(await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml")));
    // What GCP answers a validateOnly update from an identity without run.services.update.
    h.sim.faults.add({
      match: { rpc: "UpdateService" },
      error: { status: "PERMISSION_DENIED", message: "Permission 'run.services.update' denied on resource" },
    });
    const clock = h.sim.clock;
    const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const specs = await loadSpecs([join(ROOT, "specs/examples")]);
    const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
    expect(plan.problems).toEqual([]);
    const run = plan.resources.find((r) => r.address === "CloudRunService/api")!;
    expect(run.action).toBe("update");
    expect(run.notes).toContain(
      "server-side validation skipped: this identity may not update the service (run.services.update)",
    );
    expect(h.sim.requests().filter((r) => r.write && r.status === 200)).toEqual([]);
  });
});
