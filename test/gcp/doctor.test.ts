import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderDoctor } from "../../src/cli/doctor.ts";
import { type Gcp, gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { runDoctor } from "../../src/gcp/doctor.ts";
import { PERMISSIONS, requirements } from "../../src/gcp/permissions.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { type AccessFixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const P = "acme-staging";
const SA = "serviceAccount:ci@acme-staging.iam.gserviceaccount.com";

describe("capstan doctor against the simulator's Resource Manager and Service Usage", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  async function doctor(access: AccessFixture | undefined, command: "plan" | "apply" | "run" = "plan") {
    const live = await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml"));
    h = await startSim({ ...live, ...(access ? { access } : {}) });
    const clock = h.sim.clock;
    const gcp: Gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const specs = await loadSpecs([join(ROOT, "specs/examples")]);
    return {
      report: await runDoctor({ gcp, resources: specs.resources, command, endpoint: h.endpoint }),
      specs,
    };
  }

  it("finds everything in place in an open project, and says who it runs as", async () => {
    const { report } = await doctor({ identities: { "capstan-sim-token": SA } });
    expect(report.ok).toBe(true);
    expect(report.identity).toMatchObject({
      principal: SA,
      email: "ci@acme-staging.iam.gserviceaccount.com",
    });
    expect(report.checks.every((c) => c.status === "ok")).toBe(true);
    expect(report.projects).toMatchObject([{ id: P, reachable: true }]);
    expect(report.projects[0]!.apis.map((a) => a.api).sort()).toEqual([
      "compute.googleapis.com",
      "monitoring.googleapis.com",
      "run.googleapis.com",
      "secretmanager.googleapis.com",
      "sqladmin.googleapis.com",
      "vpcaccess.googleapis.com",
    ]);
  });

  it("lists each disabled API with the gcloud command that enables it, and fails only what needs it", async () => {
    const access: AccessFixture = {
      projects: {
        [P]: {
          number: "123456789012",
          services: [
            "run.googleapis.com",
            "sqladmin.googleapis.com",
            "compute.googleapis.com",
            "secretmanager.googleapis.com",
            "vpcaccess.googleapis.com",
          ],
        },
      },
    };
    const { report } = await doctor(access, "plan");
    // Monitoring only matters to apply and run (the gates): plan is fine without it.
    expect(report.ok).toBe(true);
    const monitoring = report.checks.find((c) => c.check === "api monitoring.googleapis.com")!;
    expect(monitoring).toMatchObject({
      status: "missing",
      blocking: false,
      fix: "gcloud services enable monitoring.googleapis.com --project acme-staging",
    });
    h.sim.load({ ...(await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml"))), access });
    const clock = h.sim.clock;
    const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const specs = await loadSpecs([join(ROOT, "specs/examples")]);
    const forApply = await runDoctor({
      gcp,
      resources: specs.resources,
      command: "apply",
      endpoint: h.endpoint,
    });
    expect(forApply.ok).toBe(false);
    expect(renderDoctor(forApply)).toContain(
      "fix: gcloud services enable monitoring.googleapis.com --project acme-staging",
    );
  });

  it("names the permissions a read-only identity lacks per command, grouped by the role that grants them", async () => {
    const viewers = [
      "roles/run.viewer",
      "roles/cloudsql.viewer",
      "roles/vpcaccess.viewer",
      "roles/compute.viewer",
      "roles/secretmanager.viewer",
    ];
    const { report, specs } = await doctor({
      identities: { "capstan-sim-token": SA },
      projects: { [P]: { bindings: viewers.map((role) => ({ role, members: [SA] })) } },
    });
    // plan works: run.services.update is optional for it (validateOnly is skipped).
    expect(report.ok).toBe(true);
    const missing = report.permissions
      .filter((p) => p.granted === false)
      .map((p) => p.permission)
      .sort();
    const needed = new Set(requirements(specs.resources, "apply").map((r) => r.use.permission));
    const granted = new Set(PERMISSIONS.filter((p) => viewers.includes(p.role)).map((p) => p.permission));
    expect(missing).toEqual([...needed].filter((p) => !granted.has(p)).sort());
    const rows = report.checks.filter((c) => c.check.startsWith("role "));
    expect(rows.map((r) => r.check).sort()).toEqual([
      "role roles/cloudsql.editor",
      "role roles/compute.loadBalancerAdmin",
      "role roles/iam.serviceAccountUser",
      "role roles/monitoring.viewer",
      "role roles/run.developer",
      "role roles/vpcaccess.admin",
    ]);
    const run = rows.find((r) => r.check === "role roles/run.developer")!;
    expect(run).toMatchObject({
      status: "missing",
      blocking: false,
      fix: `gcloud projects add-iam-policy-binding ${P} --member=${SA} --role=roles/run.developer`,
    });
    expect(run.detail).toContain(
      "lacks run.services.update (needed by apply, run; used by plan when granted)",
    );
    // actAs is granted on the runtime service accounts, where testIamPermissions on the project cannot see it.
    expect(rows.find((r) => r.check === "role roles/iam.serviceAccountUser")).toMatchObject({
      status: "note",
      blocking: false,
    });
  });

  it("fails apply for an identity that may only read, with one fix per role", async () => {
    const { report } = await doctor(
      {
        identities: { "capstan-sim-token": SA },
        projects: { [P]: { bindings: [{ role: "roles/run.viewer", members: [SA] }] } },
      },
      "apply",
    );
    expect(report.ok).toBe(false);
    const text = renderDoctor(report);
    expect(text).toMatch(
      /^MISSING\s+role roles\/cloudsql\.viewer \(acme-staging\)\s+lacks cloudsql\.instances\.list, cloudsql\.instances\.get/m,
    );
    expect(text).toContain(
      `fix: gcloud projects add-iam-policy-binding ${P} --member=${SA} --role=roles/cloudsql.viewer`,
    );
    expect(text).toMatch(/thing\(s\) `capstan apply` needs are missing/);
  });

  it("says a project that does not exist (or is hidden) is one, and checks nothing in it", async () => {
    const { report } = await doctor({ projects: { "other-project": {} } });
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === "project")).toMatchObject({
      status: "missing",
      fix: expect.stringContaining("gcloud projects describe acme-staging"),
    });
    expect(report.checks.some((c) => c.check.startsWith("api "))).toBe(false);
  });

  it("reports an unreachable endpoint as an error row naming it, not a crash", async () => {
    h = await startSim({});
    const clients = createClients({ endpoint: "http://capstan-unreachable.invalid" });
    const clock = h.sim.clock;
    const gcp = gcpAccess(
      clients,
      new GcpCaller({ clock, limiter: new RateLimiter({ clock }), backoffMs: 1 }),
    );
    const specs = await loadSpecs([join(ROOT, "specs/examples")]);
    const report = await runDoctor({
      gcp,
      resources: specs.resources,
      endpoint: "http://capstan-unreachable.invalid",
    });
    await clients.close();
    expect(report.ok).toBe(false);
    expect(report.checks.find((c) => c.check === "project")).toMatchObject({
      status: "error",
      detail: expect.stringContaining("could not reach capstan-unreachable.invalid (ENOTFOUND)"),
    });
  });
});
