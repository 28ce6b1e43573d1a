import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Gcp, gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { classify, GcpCallError } from "../../src/gcp/errors.ts";
import { explain } from "../../src/gcp/explain.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type AccessFixture, type FaultType, type Fixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs } from "../../src/spec/load.ts";
import type { SpecSet } from "../../src/spec/types.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const P = "acme-staging";
const SA = "serviceAccount:capstan@acme-staging.iam.gserviceaccount.com";
const VIEWER_ROLES = [
  "roles/run.viewer",
  "roles/cloudsql.viewer",
  "roles/vpcaccess.viewer",
  "roles/compute.viewer",
  "roles/secretmanager.viewer",
];

let live: Fixture;
let specs: SpecSet;

/** planFailure plans specs/examples against the simulator and returns what it failed with. */
async function planFailure(gcp: Gcp, h: SimHarness): Promise<GcpCallError> {
  const err = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock: h.sim.clock }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GcpCallError);
  return err as GcpCallError;
}

describe("every GCP failure on the real path is classified and explained, through the real clients", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h?.close();
  });

  async function start(access?: AccessFixture, extra: Partial<Fixture> = {}) {
    live ??= await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml"));
    specs ??= await loadSpecs([join(ROOT, "specs/examples")]);
    h = await startSim({ ...live, ...(access ? { access } : {}), ...extra });
    const clock = h.sim.clock;
    // Backoff of 1 clock ms: retries are counted, not waited for.
    return gcpAccess(h.gcp, new GcpCaller({ clock, limiter: new RateLimiter({ clock }), backoffMs: 1 }));
  }

  it("names a disabled API and the gcloud command that enables it (ErrorInfo SERVICE_DISABLED)", async () => {
    const gcp = await start({
      projects: {
        [P]: { number: "123456789012", services: ["run.googleapis.com", "compute.googleapis.com"] },
      },
    });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("service-disabled");
    expect(err.errorInfoMetadata).toMatchObject({ consumer: "projects/123456789012" });
    const e = explain(err)!;
    expect(e.summary).toMatch(/is not enabled in projects\/123456789012/);
    expect(e.fix).toMatch(
      /^gcloud services enable (sqladmin|vpcaccess|secretmanager)\.googleapis\.com --project acme-staging$/,
    );
  });

  it("reads Cloud SQL's and Compute's disabled API from the legacy accessNotConfigured as well", async () => {
    const gcp = await start();
    for (const rpc of ["SqlInstancesService.List", "BackendServices.List"]) {
      h.sim.faults.add({ match: { rpc }, times: 1, error: { type: "SERVICE_DISABLED" } });
    }
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("service-disabled");
    expect(err.facts.legacyReasons).toEqual(["accessNotConfigured"]);
    expect(explain(err)!.fix).toMatch(
      /^gcloud services enable (sqladmin|compute)\.googleapis\.com --project acme-staging$/,
    );
  });

  it("tells a user without a quota project to set one when an API answers SERVICE_DISABLED", async () => {
    const gcp = await start();
    h.sim.faults.add({ match: { rpc: "ListServices" }, error: { type: "SERVICE_DISABLED" } });
    const err = await planFailure(gcp, h);
    const e = explain(err, {
      credentials: {
        type: "authorized_user",
        email: "me@example.com",
        principal: "user:me@example.com",
        quotaProject: undefined,
        source: "adc",
      },
    })!;
    expect(e.fix).toContain("gcloud auth application-default set-quota-project acme-staging");
  });

  it("names the missing permission and the role deploy/iam.md grants it with (IAM_PERMISSION_DENIED)", async () => {
    const gcp = await start({
      identities: { "capstan-sim-token": SA },
      projects: { [P]: { bindings: [{ role: "roles/cloudsql.viewer", members: [SA] }] } },
    });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("permission-denied");
    const e = explain(err, {
      credentials: {
        type: "service_account",
        email: SA.slice(15),
        principal: SA,
        quotaProject: undefined,
        source: "key",
      },
    })!;
    expect(e.summary).toMatch(/lacks (run\.services\.list|vpcaccess\.connectors\.list|compute\.\w+\.list)/);
    expect(e.fix).toMatch(
      /grant roles\/(run|vpcaccess|compute)\.viewer \(deploy\/iam\.md\): `gcloud projects add-iam-policy-binding acme-staging --member=serviceAccount:capstan@acme-staging\.iam\.gserviceaccount\.com --role=roles\/\w+\.viewer`/,
    );
  });

  it("finds the permission of Cloud SQL's legacy notAuthorized and Compute's forbidden from the call", async () => {
    const gcp = await start({
      identities: { "capstan-sim-token": SA },
      projects: {
        [P]: {
          bindings: [
            { role: "roles/run.viewer", members: [SA] },
            { role: "roles/vpcaccess.viewer", members: [SA] },
            { role: "roles/secretmanager.viewer", members: [SA] },
          ],
        },
      },
    });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("permission-denied");
    expect(err.facts.legacyReasons.length).toBe(1);
    const e = explain(err)!;
    if (err.call.api === "sqladmin.googleapis.com") {
      expect(err.facts.legacyReasons).toEqual(["notAuthorized"]);
      expect(e.summary).toContain("cloudsql.instances.list");
      expect(e.fix).toContain("--role=roles/cloudsql.viewer");
    } else {
      expect(err.facts.legacyReasons).toEqual(["forbidden"]);
      expect(e.summary).toMatch(/compute\.(backendServices|healthChecks)\.list/);
      expect(e.fix).toContain("--role=roles/compute.viewer");
    }
  });

  it("skips plan's validateOnly check with a note when the identity may only read (run.services.update)", async () => {
    const gcp = await start({
      identities: { "capstan-sim-token": SA },
      projects: { [P]: { bindings: VIEWER_ROLES.map((role) => ({ role, members: [SA] })) } },
    });
    const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock: h.sim.clock });
    expect(plan.problems).toEqual([]);
    expect(plan.resources.find((r) => r.address === "CloudRunService/api")!.notes).toContain(
      "server-side validation skipped: this identity may not update the service (run.services.update)",
    );
  });

  it("says a project that does not exist is one (ErrorInfo CONSUMER_INVALID)", async () => {
    const gcp = await start({ projects: { "another-project": {} } });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("project-invalid");
    expect(explain(err)!.fix).toContain("gcloud projects describe acme-staging");
  });

  it("says which credentials a 401 refused and how to renew them", async () => {
    const gcp = await start();
    h.sim.faults.add({ match: { rpc: "ListServices" }, error: { type: "ACCESS_TOKEN_EXPIRED" } });
    h.sim.faults.add({ match: { rpc: "SqlInstancesService.List" }, error: { type: "ACCESS_TOKEN_EXPIRED" } });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("unauthenticated");
    expect(err.httpStatusCode).toBe(401);
    expect(explain(err)!.fix).toContain("gcloud auth application-default login");
  });

  it("says a list's 404 means the project or location does not exist", async () => {
    const gcp = await start();
    h.sim.faults.add({ match: { rpc: "ListConnectors" }, error: { type: "NOT_FOUND" } });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("not-found");
    expect(explain(err)!.summary).toContain("the project or location does not exist");
  });

  it("reads Cloud SQL's and Compute's 404 from their legacy reasons, without a status", async () => {
    const gcp = await start();
    for (const [rpc, reason] of [
      ["SqlInstancesService.Get", "instanceDoesNotExist"],
      ["BackendServices.Get", "notFound"],
    ] as const) {
      h.sim.faults.add({ match: { rpc }, times: 1, error: { type: "NOT_FOUND" } });
      const got = rpc.startsWith("Sql")
        ? h.gcp.sql.instances.get({ project: P, instance: "main-db" }, { retry: null })
        : h.gcp.compute.backendServices.get({ project: P, backendService: "api-backend" }, { retry: null });
      const err = await got.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(classify(err)).toBe("not-found");
      expect(new GcpCallError(err, { api: "x", method: "y.get" }, 1, 0).facts).toMatchObject({
        legacyReasons: [reason],
        status: undefined,
        httpStatus: 404,
      });
    }
    await gcp.clients.close();
  });

  it("explains a 400 a list answers with the field GCP names", async () => {
    const gcp = await start();
    h.sim.faults.add({
      match: { rpc: "ListServices" },
      error: { type: "INVALID_ARGUMENT", message: "Invalid value for field 'pageSize'" },
    });
    const err = await planFailure(gcp, h);
    expect(err.failure).toBe("invalid");
    expect(explain(err)!.summary).toContain("Invalid value for field 'pageSize'");
  });

  it("turns Cloud Run's 400 to a validateOnly update into a plan problem, not a crash", async () => {
    const gcp = await start();
    h.sim.faults.add({
      match: { rpc: "UpdateService" },
      error: {
        type: "INVALID_ARGUMENT",
        message: "spec.template.containers[0].resources.limits.cpu: Invalid value",
      },
    });
    const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock: h.sim.clock });
    expect(plan.problems.map((p) => p.message).join("\n")).toContain(
      "Cloud Run refuses the change (validateOnly)",
    );
  });

  it("retries 5xx a bounded number of times, then explains it as GCP's side", async () => {
    const gcp = await start();
    h.sim.faults.add({ match: { rpc: "ListConnectors" }, error: { type: "UNAVAILABLE" } });
    const err = await planFailure(gcp, h);
    expect(err).toMatchObject({ failure: "unavailable", attempts: 6 });
    const listed = h.sim.requests().filter((r) => r.rpc.endsWith("ListConnectors"));
    expect(listed).toHaveLength(6);
    expect(explain(err)!.summary).toContain("after 6 attempts");
  });

  it.each<[string, string, number]>([
    ["compute.googleapis.com", "BackendServices.List", 403],
    ["sqladmin.googleapis.com", "SqlInstancesService.List", 429],
    ["run.googleapis.com", "ListServices", 429],
  ])(
    "recognises %s's throttling answer (HTTP %s) and waits for the quota instead of failing",
    async (api, rpc, http) => {
      const gcp = await start();
      h.sim.faults.add({ match: { api, rpc }, times: 2, error: { type: "RATE_LIMIT_EXCEEDED" } });
      const raw = await (api === "compute.googleapis.com"
        ? h.gcp.compute.backendServices.list({ project: P }, { retry: null, autoPaginate: false })
        : api === "sqladmin.googleapis.com"
          ? h.gcp.sql.instances.list({ project: P }, { retry: null })
          : h.gcp.run.services.listServices(
              { parent: `projects/${P}/locations/europe-west1` },
              { retry: null, autoPaginate: false },
            )
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(classify(raw)).toBe("throttled");
      expect((raw as { httpStatusCode?: number }).httpStatusCode).toBe(http);
      // The second answer is throttled too; capstan waits and then gets through.
      const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock: h.sim.clock });
      expect(plan.problems).toEqual([]);
      const throttled = h.sim.requests().filter((r) => r.status === http && r.rpc.endsWith(rpc));
      expect(throttled).toHaveLength(2);
    },
  );

  it("gives up on an endpoint that accepts but never answers once the retry window is spent", async () => {
    h = await startSim(live ?? (await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml"))));
    // 10 simulated minutes: 600 ms at 1000×, longer than the 100 ms deadline below.
    h.sim.faults.add({ match: { rpc: "ListServices" }, latencyMs: 600_000 });
    const clock = h.sim.clock;
    const gcp = gcpAccess(
      h.gcp,
      new GcpCaller({ clock, limiter: new RateLimiter({ clock }), backoffMs: 1, retryWindowMs: 0 }),
    );
    const parent = `projects/${P}/locations/europe-west1`;
    const err = await gcp
      .call(
        {
          api: "run.googleapis.com",
          method: "services.list",
          write: false,
          resource: parent,
          deadlineMs: 100,
        },
        () =>
          h.gcp.run.services.listServices(
            { parent },
            { retry: null, autoPaginate: false, timeout: Number.POSITIVE_INFINITY },
          ),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ failure: "deadline", attempts: 1 });
    const e = explain(err, { endpoint: h.endpoint })!;
    expect(e.summary).toContain(`${new URL(h.endpoint).host} did not answer services.list`);
    expect(e.fix).toContain(`serves at ${h.endpoint}`);
  });

  it("names the unreachable endpoint after bounded retries (ECONNREFUSED, ENOTFOUND)", async () => {
    h = await startSim({});
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    for (const [endpoint, code] of [
      [`http://127.0.0.1:${port}`, "ECONNREFUSED"],
      ["http://capstan-unreachable.invalid", "ENOTFOUND"],
    ] as const) {
      const clients = createClients({ endpoint });
      const clock = h.sim.clock;
      const gcp = gcpAccess(
        clients,
        new GcpCaller({ clock, limiter: new RateLimiter({ clock }), backoffMs: 1 }),
      );
      const err = await RECONCILERS.CloudRunService.list(gcp, { project: P, location: "europe-west1" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      await clients.close();
      expect(err).toMatchObject({ failure: "network", attempts: 6 });
      const e = explain(err, { endpoint })!;
      expect(e.summary).toContain(`(${code})`);
      expect(e.summary).toContain(new URL(endpoint).host);
      expect(e.summary).toContain(
        "services.list of Cloud Run Admin API (run.googleapis.com) on projects/acme-staging/locations/europe-west1",
      );
    }
  });
});

describe("credentials are resolved before the first call, and their failures explained", () => {
  let server: Server | undefined;
  const saved = { ...process.env };
  afterEach(async () => {
    process.env = { ...saved };
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it("says a refused refresh token is expired or revoked (OAuth 2.0 invalid_grant)", async () => {
    // A token endpoint on loopback answering as Google's does for a revoked token.
    server = createServer((_req, res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({ error: "invalid_grant", error_description: "Token has been expired or revoked." }),
      );
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const { GoogleAuth } = await import("google-auth-library");
    const { resolveCredentials, CredentialsError } = await import("../../src/gcp/credentials.ts");
    const auth = new GoogleAuth({
      credentials: {
        type: "authorized_user",
        client_id: "c",
        client_secret: "s",
        refresh_token: "r",
      } as never,
      clientOptions: { endpoints: { oauth2TokenUrl: url } },
    });
    const err = await resolveCredentials(auth).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toMatchObject({ code: "REFUSED", oauthError: "invalid_grant" });
    expect(explain(err)!.fix).toContain("gcloud auth application-default login");
  });

  it("says GOOGLE_APPLICATION_CREDENTIALS names a file that is not there", async () => {
    process.env["GOOGLE_APPLICATION_CREDENTIALS"] = "/nonexistent/capstan-key.json";
    const { GoogleAuth } = await import("google-auth-library");
    const { resolveCredentials } = await import("../../src/gcp/credentials.ts");
    const err = await resolveCredentials(new GoogleAuth()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "FILE_MISSING" });
    expect(explain(err)!.summary).toContain("/nonexistent/capstan-key.json");
  });
});

describe("the simulator's fault API renders each failure in its API's format", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  it("refuses an unknown fault type with the list of known ones", async () => {
    h = await startSim({});
    expect(() => h.sim.faults.add({ match: {}, error: { type: "NOPE" as FaultType } })).toThrow(
      /Expected `error.type` to be one of CREDENTIALS_MISSING, .*INTERNAL, got `NOPE`/,
    );
  });
});
