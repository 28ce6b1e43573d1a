import { join } from "node:path";
import { protos } from "@google-cloud/run";
import { afterEach, describe, expect, it } from "vitest";
import { checkRunResources, checkRunService, RUN_LIMITS } from "../../src/gcp/catalog/run.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import { runOperationPoller } from "../../src/gcp/run.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

type Service = protos.google.cloud.run.v2.IService;
const longrunning = protos.google.longrunning;

const LOC = "projects/acme/locations/us-central1";
const API = `${LOC}/services/api`;
const WORKER = `${LOC}/services/worker`;

function fixture(extra: Partial<Fixture> = {}): Fixture {
  return {
    run: {
      services: [
        { name: API, labels: { team: "web" }, template: { containers: [{ image: "gcr.io/acme/api:1" }] } },
        {
          name: WORKER,
          template: {
            containers: [
              { image: "gcr.io/acme/worker:1", resources: { limits: { cpu: "2", memory: "2Gi" } } },
            ],
          },
        },
      ],
    },
    ...extra,
  };
}

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(
  f: Fixture = fixture(),
  options: { captureResponses?: boolean } = {},
): Promise<SimHarness> {
  h = await startSim(f, options);
  return h;
}

async function get(sim: SimHarness, name = API): Promise<Service> {
  const [svc] = await sim.gcp.run.services.getService({ name });
  return svc;
}

/** update reads the service, lets `change` edit it, and sends it back whole, as a reconciler does. */
async function update(sim: SimHarness, change: (s: Service) => void, extra: { validateOnly?: boolean } = {}) {
  const svc = await get(sim);
  change(svc);
  const [op] = await sim.gcp.run.services.updateService({ service: svc, ...extra });
  return op;
}

function container(s: Service): protos.google.cloud.run.v2.IContainer {
  return s.template!.containers![0]!;
}

async function settle(sim: SimHarness, operationName: string) {
  return waitForOperation(runOperationPoller(connect(sim), operationName), {
    clock: sim.sim.clock,
    timeoutMs: 3_600_000,
    maxIntervalMs: 60_000,
    what: `Cloud Run operation ${operationName}`,
  });
}

describe("simulated Cloud Run Admin API v2: services", () => {
  it("fills the server-side defaults GCP fills when a service is stored", async () => {
    const sim = await start();
    const s = await get(sim);
    const c = container(s);
    expect(c.resources?.limits).toEqual({ cpu: "1000m", memory: "512Mi" });
    expect(c.resources?.cpuIdle).toBe(true);
    expect(c.ports).toMatchObject([{ name: "http1", containerPort: 8080 }]);
    expect(c.startupProbe).toMatchObject({
      timeoutSeconds: 240,
      periodSeconds: 240,
      failureThreshold: 1,
      tcpSocket: { port: 8080 },
    });
    expect(s.template?.maxInstanceRequestConcurrency).toBe(80);
    expect(Number(s.template?.timeout?.seconds)).toBe(300);
    expect(s.template?.scaling?.maxInstanceCount).toBe(100);
    expect(s.template?.serviceAccount).toMatch(/^\d{12}-compute@developer\.gserviceaccount\.com$/);
    expect(s.ingress).toBe("INGRESS_TRAFFIC_ALL");
    expect(s.launchStage).toBe("GA");
    expect(s.traffic).toMatchObject([{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 100 }]);
    expect(s.trafficStatuses).toMatchObject([
      { type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 100 },
    ]);
    expect(String(s.generation)).toBe("1");
    expect(String(s.observedGeneration)).toBe("1");
    expect(s.reconciling).toBe(false);
    expect(s.terminalCondition).toMatchObject({ type: "Ready", state: "CONDITION_SUCCEEDED" });
    expect(s.conditions?.map((x) => [x.type, x.state])).toEqual([
      ["RoutesReady", "CONDITION_SUCCEEDED"],
      ["ConfigurationsReady", "CONDITION_SUCCEEDED"],
    ]);
    expect(s.latestReadyRevision).toMatch(new RegExp(`^${API}/revisions/api-00001-[a-z0-9]{3}$`));
    expect(s.latestCreatedRevision).toBe(s.latestReadyRevision);
    expect(s.uri).toMatch(/^https:\/\/api-\d{12}\.us-central1\.run\.app$/);
    expect(s.urls).toEqual([s.uri]);
    expect(s.uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(s.etag).toMatch(/^"[A-Za-z0-9+/]+\/[A-Za-z0-9+/]+"$/);
    expect(s.creator).toBe(s.lastModifier);
    // A service asking for 2 vCPU keeps what it asked for.
    expect(container(await get(sim, WORKER)).resources?.limits).toEqual({ cpu: "2", memory: "2Gi" });
  });

  it("answers a missing service with NOT_FOUND in GCP's words", async () => {
    const sim = await start();
    await expect(get(sim, `${LOC}/services/nope`)).rejects.toMatchObject({
      code: 5,
      message: `service "${LOC}/services/nope" not found`,
    });
  });

  it("lists the services of one region, following page tokens", async () => {
    const names = ["a", "b", "c", "d", "e"].map((n) => `${LOC}/services/${n}`);
    const sim = await start({
      run: {
        services: [
          ...names.map((name) => ({ name, template: { containers: [{ image: "gcr.io/acme/x:1" }] } })),
          {
            name: "projects/acme/locations/europe-west1/services/z",
            template: { containers: [{ image: "i" }] },
          },
          {
            name: "projects/other/locations/us-central1/services/y",
            template: { containers: [{ image: "i" }] },
          },
        ],
      },
    });
    const [all] = await sim.gcp.run.services.listServices({ parent: LOC, pageSize: 2 });
    expect(all.map((s) => s.name)).toEqual(names);
    expect(sim.sim.requests().filter((r) => r.rpc.endsWith("ListServices"))).toHaveLength(3);

    const [page, next] = await sim.gcp.run.services.listServices(
      { parent: LOC, pageSize: 2 },
      { autoPaginate: false },
    );
    expect(page).toHaveLength(2);
    expect(next?.pageToken).toBeTruthy();
    const [rest] = await sim.gcp.run.services.listServices(
      { parent: LOC, pageSize: 10, pageToken: next!.pageToken! },
      { autoPaginate: false },
    );
    expect(rest.map((s) => s.name)).toEqual(names.slice(2));
  });

  it("refuses the `-` wildcard location in ListServices, as v2 documents", async () => {
    const sim = await start();
    await expect(
      sim.gcp.run.services.listServices({ parent: "projects/acme/locations/-" }),
    ).rejects.toMatchObject({ code: 3, message: expect.stringContaining('cannot be the "-" wildcard') });
  });

  it("deploys a template change as a new revision while the service reconciles", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 2400 } }));
    const before = await get(sim);
    const op = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:2";
    });
    expect(op.done).toBe(false);
    expect(op.name).toMatch(new RegExp(`^${LOC}/operations/[0-9a-f-]{36}$`));
    expect((op.metadata as Service).reconciling).toBe(true);

    const during = await get(sim);
    expect(String(during.generation)).toBe("2");
    expect(String(during.observedGeneration)).toBe("1");
    expect(during.reconciling).toBe(true);
    expect(during.terminalCondition).toMatchObject({ type: "Ready", state: "CONDITION_RECONCILING" });
    expect(during.latestCreatedRevision).toMatch(new RegExp(`^${API}/revisions/api-00002-[a-z0-9]{3}$`));
    expect(during.latestReadyRevision).toBe(before.latestReadyRevision);
    expect(during.etag).not.toBe(before.etag);
    const [rev] = await sim.gcp.run.revisions.getRevision({ name: during.latestCreatedRevision! });
    expect(rev.reconciling).toBe(true);
    expect(rev.conditions?.find((c) => c.type === "Ready")?.state).toBe("CONDITION_RECONCILING");

    await settle(sim, op.name!);
    const after = await get(sim);
    expect(after.reconciling).toBe(false);
    expect(String(after.observedGeneration)).toBe("2");
    expect(after.latestReadyRevision).toBe(during.latestCreatedRevision);
    expect(after.terminalCondition?.state).toBe("CONDITION_SUCCEEDED");
    expect(after.etag).toBe(during.etag);
    const [ready] = await sim.gcp.run.revisions.getRevision({ name: after.latestReadyRevision! });
    expect(ready.containers?.[0]?.image).toBe("gcr.io/acme/api:2");
    expect(ready.conditions?.map((c) => [c.type, c.state])).toEqual([
      ["Ready", "CONDITION_SUCCEEDED"],
      ["ContainerHealthy", "CONDITION_SUCCEEDED"],
      ["ResourcesAvailable", "CONDITION_SUCCEEDED"],
    ]);
  });

  it("applies a service-level change without a new revision", async () => {
    const sim = await start();
    const before = await get(sim);
    const op = await update(sim, (s) => {
      s.labels = { team: "payments" };
      s.scaling = { minInstanceCount: 2 };
    });
    await settle(sim, op.name!);
    const after = await get(sim);
    expect(after.labels).toEqual({ team: "payments" });
    expect(after.scaling?.minInstanceCount).toBe(2);
    expect(String(after.generation)).toBe("2");
    expect(after.latestCreatedRevision).toBe(before.latestCreatedRevision);
    expect(after.etag).not.toBe(before.etag);
    const [revisions] = await sim.gcp.run.revisions.listRevisions({ parent: API });
    expect(revisions).toHaveLength(1);
  });

  it("treats sending back an unchanged service as no change", async () => {
    const sim = await start();
    const before = await get(sim);
    const op = await update(sim, () => {});
    await settle(sim, op.name!);
    const after = await get(sim);
    expect(String(after.generation)).toBe("1");
    expect(after.etag).toBe(before.etag);
    expect(after.latestCreatedRevision).toBe(before.latestCreatedRevision);
  });

  it("applies only the fields named in an update mask", async () => {
    const sim = await start();
    const svc = await get(sim);
    svc.labels = { team: "ignored" };
    svc.scaling = { minInstanceCount: 3 };
    const [op] = await sim.gcp.run.services.updateService({
      service: svc,
      updateMask: { paths: ["scaling.min_instance_count"] },
    });
    await settle(sim, op.name!);
    const after = await get(sim);
    expect(after.scaling?.minInstanceCount).toBe(3);
    expect(after.labels).toEqual({ team: "web" });
  });

  it("refuses a stale etag with 409 ABORTED", async () => {
    const sim = await start();
    const stale = await get(sim);
    await settle(
      sim,
      (
        await update(sim, (s) => {
          s.labels = { team: "x" };
        })
      ).name!,
    );
    stale.labels = { team: "y" };
    await expect(sim.gcp.run.services.updateService({ service: stale })).rejects.toMatchObject({
      code: 10,
      reason: "ETAG_MISMATCH",
      message: expect.stringContaining("does not match the current etag"),
    });
    expect((await get(sim)).labels).toEqual({ team: "x" });
  });

  it("refuses to update a missing service unless allowMissing creates it", async () => {
    const sim = await start();
    const service: Service = {
      name: `${LOC}/services/new`,
      template: { containers: [{ image: "gcr.io/acme/new:1" }] },
    };
    await expect(sim.gcp.run.services.updateService({ service })).rejects.toMatchObject({ code: 5 });
    const [op] = await sim.gcp.run.services.updateService({ service, allowMissing: true });
    await settle(sim, op.name!);
    const created = await get(sim, `${LOC}/services/new`);
    expect(created.latestReadyRevision).toMatch(/\/revisions\/new-00001-[a-z0-9]{3}$/);
  });

  it("creates a service once and refuses a second create with ALREADY_EXISTS", async () => {
    const sim = await start();
    const [op] = await sim.gcp.run.services.createService({
      parent: LOC,
      serviceId: "jobs",
      service: { template: { containers: [{ image: "gcr.io/acme/jobs:1" }] } },
    });
    await settle(sim, op.name!);
    expect((await get(sim, `${LOC}/services/jobs`)).terminalCondition?.state).toBe("CONDITION_SUCCEEDED");
    await expect(
      sim.gcp.run.services.createService({
        parent: LOC,
        serviceId: "jobs",
        service: { template: { containers: [{ image: "gcr.io/acme/jobs:1" }] } },
      }),
    ).rejects.toMatchObject({ code: 6 });
  });

  it("validates without persisting anything when validateOnly is set", async () => {
    const sim = await start();
    const before = await get(sim);
    const op = await update(
      sim,
      (s) => {
        container(s).image = "gcr.io/acme/api:9";
      },
      {
        validateOnly: true,
      },
    );
    expect(op.done).toBe(true);
    const [wouldBe] = await op.promise();
    expect(container(wouldBe).image).toBe("gcr.io/acme/api:9");
    expect(String(wouldBe.generation)).toBe("2");
    const after = await get(sim);
    expect(container(after).image).toBe("gcr.io/acme/api:1");
    expect(after.etag).toBe(before.etag);
    const [revisions] = await sim.gcp.run.revisions.listRevisions({ parent: API });
    expect(revisions).toHaveLength(1);
    await expect(
      update(
        sim,
        (s) => {
          s.template!.maxInstanceRequestConcurrency = 5000;
        },
        { validateOnly: true },
      ),
    ).rejects.toMatchObject({ code: 3 });
  });

  it("validates a change while an earlier deploy is still running", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 2400 } }));
    await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:2";
    });
    const op = await update(
      sim,
      (s) => {
        s.labels = { team: "dry-run" };
      },
      { validateOnly: true },
    );
    expect(op.done).toBe(true);
    expect((await get(sim)).labels).toEqual({ team: "web" });
  });

  it("refuses a revision name that exists with a different configuration", async () => {
    const sim = await start();
    const current = await get(sim);
    const taken = current.latestCreatedRevision!.split("/").at(-1)!;
    await expect(
      update(sim, (s) => {
        s.template!.revision = taken;
        container(s).image = "gcr.io/acme/api:3";
      }),
    ).rejects.toMatchObject({
      code: 6,
      message: `Revision named '${taken}' with different configuration already exists.`,
    });
  });
});

describe("simulated Cloud Run Admin API v2: validation with GCP's messages", () => {
  const cases: [string, (s: Service) => void, string][] = [
    [
      "1 vCPU with 8Gi",
      (s) => {
        container(s).resources = { limits: { cpu: "1", memory: "8Gi" }, cpuIdle: true };
      },
      "template.containers[0].resources.limits.memory: Invalid value specified for container memory. For 1.0 CPU, memory must be between 128Mi and 4Gi inclusive.",
    ],
    [
      "3 vCPU",
      (s) => {
        container(s).resources = { limits: { cpu: "3", memory: "4Gi" }, cpuIdle: true };
      },
      "Invalid value specified for cpu. Must be equal to one of [.08-1], 2, 4, 6, 8",
    ],
    [
      "4 vCPU with 1Gi",
      (s) => {
        container(s).resources = { limits: { cpu: "4", memory: "1Gi" }, cpuIdle: true };
      },
      "For 4.0 CPU, memory must be between 2Gi and 16Gi inclusive.",
    ],
    [
      "0.5 vCPU with 2Gi",
      (s) => {
        container(s).resources = { limits: { cpu: "500m", memory: "2Gi" }, cpuIdle: true };
        s.template!.maxInstanceRequestConcurrency = 1;
      },
      "For 0.5 CPU, memory must be between 128Mi and 1Gi inclusive.",
    ],
    [
      "0.25 vCPU with 768Mi",
      (s) => {
        container(s).resources = { limits: { cpu: "0.25", memory: "768Mi" }, cpuIdle: true };
        s.template!.maxInstanceRequestConcurrency = 1;
      },
      "For 0.25 CPU, memory must be between 128Mi and 512Mi inclusive.",
    ],
    [
      "less than 1 vCPU with concurrency 80",
      (s) => {
        container(s).resources = { limits: { cpu: "0.5", memory: "512Mi" }, cpuIdle: true };
        s.template!.maxInstanceRequestConcurrency = 80;
      },
      "Total cpu < 1 is not supported with concurrency > 1",
    ],
    [
      "less than 1 vCPU always allocated",
      (s) => {
        container(s).resources = { limits: { cpu: "0.5", memory: "512Mi" } };
        s.template!.maxInstanceRequestConcurrency = 1;
      },
      "Total cpu < 1 is not supported with cpu always allocated",
    ],
    [
      "256Mi in the second generation",
      (s) => {
        container(s).resources = { limits: { cpu: "1", memory: "256Mi" }, cpuIdle: true };
        s.template!.executionEnvironment = "EXECUTION_ENVIRONMENT_GEN2";
      },
      "For 1.0 CPU, memory must be between 512Mi and 4Gi inclusive.",
    ],
    [
      "concurrency 1001",
      (s) => {
        s.template!.maxInstanceRequestConcurrency = 1001;
      },
      "template.max_instance_request_concurrency: Must be a number between 0 and 1000",
    ],
    [
      "a 3601 s request timeout",
      (s) => {
        s.template!.timeout = { seconds: 3601 };
      },
      "template.timeout: maximum allowed time is one hour",
    ],
    [
      "a startup probe period of 241 s",
      (s) => {
        container(s).startupProbe = { periodSeconds: 241, httpGet: { path: "/ready" } };
      },
      "period_seconds must be a number between 0 and 240",
    ],
    [
      "a startup probe initial delay of 241 s",
      (s) => {
        container(s).startupProbe = { initialDelaySeconds: 241, httpGet: { path: "/ready" } };
      },
      "initial_delay_seconds must be a number between 0 and 240",
    ],
    [
      "a TCP liveness probe",
      (s) => {
        container(s).livenessProbe = { tcpSocket: { port: 8080 } };
      },
      "does not support TCP socket in liveness probe",
    ],
    [
      "a liveness probe initial delay of 3601 s",
      (s) => {
        container(s).livenessProbe = { initialDelaySeconds: 3601, httpGet: { path: "/" } };
      },
      "initial_delay_seconds must be a number between 0 and 3600",
    ],
    [
      "a negative failure threshold",
      (s) => {
        container(s).livenessProbe = { failureThreshold: -1, httpGet: { path: "/" } };
      },
      "failure_threshold: Must be a positive number if set",
    ],
    [
      "a probe without an action",
      (s) => {
        container(s).livenessProbe = { periodSeconds: 10 };
      },
      "Exactly one probe action must be set",
    ],
    [
      "template min instances above max",
      (s) => {
        s.template!.scaling = { minInstanceCount: 5, maxInstanceCount: 2 };
      },
      "template.scaling.max_instance_count: must be greater than or equal to min_instance_count",
    ],
    [
      "service min instances above max",
      (s) => {
        s.scaling = { minInstanceCount: 5, maxInstanceCount: 2 };
      },
      "scaling.max_instance_count: must be greater than or equal to min_instance_count",
    ],
    [
      "a connector without its full name",
      (s) => {
        s.template!.vpcAccess = { connector: "db-connector", egress: "ALL_TRAFFIC" };
      },
      "connector: must be in form projects/{project}/locations/{location}/connectors/{connector}",
    ],
    [
      "an unknown egress value",
      (s) => {
        s.template!.vpcAccess = { connector: `${LOC}/connectors/c`, egress: 9 as never };
      },
      "Invalid value at 'service.template.vpc_access.egress' (type.googleapis.com/google.cloud.run.v2.VpcAccess.VpcEgress), 9",
    ],
    [
      "the reserved PORT variable",
      (s) => {
        container(s).env = [{ name: "PORT", value: "9090" }];
      },
      "reserved env names were provided: PORT",
    ],
    [
      "a secret reference without a version",
      (s) => {
        container(s).env = [
          { name: "DB_PASSWORD", valueSource: { secretKeyRef: { secret: "db-password" } } },
        ];
      },
      "secret_key_ref.version: should have only alphanumeric characters",
    ],
    [
      "traffic that adds up to 90%",
      (s) => {
        s.traffic = [{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 90 }];
      },
      "should be 100",
    ],
    [
      "a label in Cloud Run's namespace",
      (s) => {
        s.labels = { "run.googleapis.com/ingress": "all" };
      },
      "system labels are not supported",
    ],
  ];

  it.each(cases)("refuses %s with 400 INVALID_ARGUMENT", async (_what, change, message) => {
    const sim = await start();
    const before = await get(sim);
    const err = await update(sim, change).then(
      () => undefined,
      (e: unknown) => e as { code: number; message: string },
    );
    expect(err).toMatchObject({ code: 3, message: expect.stringContaining(message) });
    expect((await get(sim)).etag).toBe(before.etag);
  });

  it("reports the violations as BadRequest field violations", async () => {
    const sim = await start();
    await expect(
      update(sim, (s) => {
        container(s).resources = { limits: { cpu: "1", memory: "8Gi" }, cpuIdle: true };
      }),
    ).rejects.toMatchObject({
      statusDetails: [
        {
          fieldViolations: [
            {
              field: "template.containers[0].resources.limits.memory",
              description: expect.stringContaining("must be between 128Mi and 4Gi"),
            },
          ],
        },
      ],
    });
  });

  it("accepts what GCP's API accepts though the docs advise against it", async () => {
    const sim = await start();
    const op = await update(sim, (s) => {
      container(s).env = [
        { name: "MODE", value: "a" },
        { name: "MODE", value: "b" },
      ];
      container(s).startupProbe = { timeoutSeconds: 11, periodSeconds: 10, httpGet: { path: "/ready" } };
    });
    await expect(settle(sim, op.name!)).resolves.toMatchObject({ done: true });
  });

  it("accepts a valid fractional CPU configuration", async () => {
    const sim = await start();
    const op = await update(sim, (s) => {
      container(s).resources = { limits: { cpu: "0.5", memory: "1Gi" }, cpuIdle: true };
      s.template!.maxInstanceRequestConcurrency = 1;
      s.template!.executionEnvironment = "EXECUTION_ENVIRONMENT_GEN1";
    });
    await settle(sim, op.name!);
    expect(container(await get(sim)).resources?.limits).toEqual({ cpu: "0.5", memory: "1Gi" });
  });

  it("refuses a malformed duration the way GCP's front end does", async () => {
    const sim = await start();
    const answer = await sim.sim.handle(
      "PATCH",
      `/v2/${API}`,
      "Bearer t",
      JSON.stringify({ template: { timeout: "2m", containers: [{ image: "i" }] } }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain("Illegal duration format");
  });
});

describe("simulated Cloud Run Admin API v2: failed deploys", () => {
  it("fails the operation, reports it on the service and keeps traffic on the last ready revision", async () => {
    const sim = await start();
    const before = await get(sim);
    sim.sim.faults.add({
      match: { api: "run.googleapis.com", rpc: "UpdateService" },
      failOperation: { message: "The user-provided container failed the configured startup probe checks." },
      times: 1,
    });
    const op = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:broken";
    });
    const err = await settle(sim, op.name!).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationError);
    const failed = err as OperationError;
    expect(failed.code).toBe("OPERATION_FAILED");
    expect(failed.status?.error?.code).toBe(9);
    expect(failed.status?.error?.message).toMatch(
      /^Revision 'api-00002-[a-z0-9]{3}' is not ready and cannot serve traffic\. The user-provided container failed the configured startup probe checks\.$/,
    );

    const after = await get(sim);
    expect(after.reconciling).toBe(false);
    expect(after.terminalCondition).toMatchObject({
      type: "Ready",
      state: "CONDITION_FAILED",
      message: failed.status?.error?.message,
    });
    expect(after.conditions?.find((c) => c.type === "ConfigurationsReady")?.state).toBe("CONDITION_FAILED");
    expect(after.conditions?.find((c) => c.type === "RoutesReady")?.state).toBe("CONDITION_SUCCEEDED");
    expect(after.latestReadyRevision).toBe(before.latestReadyRevision);
    expect(after.latestCreatedRevision).not.toBe(before.latestCreatedRevision);
    expect(String(after.observedGeneration)).toBe("1");
    expect(after.trafficStatuses).toEqual(before.trafficStatuses);

    const [rev] = await sim.gcp.run.revisions.getRevision({ name: after.latestCreatedRevision! });
    const ready = rev.conditions?.find((c) => c.type === "Ready");
    expect(ready).toMatchObject({
      state: "CONDITION_FAILED",
      message: "The user-provided container failed the configured startup probe checks.",
    });

    // The next good deploy recovers.
    const fix = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:3";
    });
    await settle(sim, fix.name!);
    const healed = await get(sim);
    expect(healed.terminalCondition?.state).toBe("CONDITION_SUCCEEDED");
    expect(healed.latestReadyRevision).toMatch(/api-00003-[a-z0-9]{3}$/);
  });

  it("lets a later template change supersede one still deploying", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 1200 } }));
    const first = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:2";
    });
    const second = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:3";
    });
    await settle(sim, first.name!);
    await settle(sim, second.name!);
    const after = await get(sim);
    expect(after.latestReadyRevision).toMatch(/api-00003-[a-z0-9]{3}$/);
    expect(String(after.observedGeneration)).toBe("3");
    expect(after.reconciling).toBe(false);
  });
});

describe("simulated Cloud Run Admin API v2: revisions and operations", () => {
  it("lists a service's revisions newest first, in pages, and across services with `-`", async () => {
    const sim = await start();
    await settle(
      sim,
      (
        await update(sim, (s) => {
          container(s).image = "gcr.io/acme/api:2";
        })
      ).name!,
    );
    const [revisions] = await sim.gcp.run.revisions.listRevisions({ parent: API, pageSize: 1 });
    expect(revisions.map((r) => r.name?.split("/").at(-1))).toEqual([
      expect.stringMatching(/^api-00002-/),
      expect.stringMatching(/^api-00001-/),
    ]);
    expect(sim.sim.requests().filter((r) => r.rpc.endsWith("ListRevisions"))).toHaveLength(2);
    expect(revisions[0]).toMatchObject({ service: API, generation: expect.anything(), reconciling: false });
    const [everywhere] = await sim.gcp.run.revisions.listRevisions({ parent: `${LOC}/services/-` });
    expect(everywhere.map((r) => r.name?.split("/")[5]).sort()).toEqual(["api", "api", "worker"]);
  });

  it("answers a missing revision with NOT_FOUND", async () => {
    const sim = await start();
    await expect(
      sim.gcp.run.revisions.getRevision({ name: `${API}/revisions/api-00099-zzz` }),
    ).rejects.toMatchObject({ code: 5 });
  });

  it("serves operations through the operations mixin: get, list, wait and delete", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 1200 } }));
    const op = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:2";
    });
    const [got] = await sim.gcp.run.services.getOperation(
      longrunning.GetOperationRequest.create({ name: op.name! }),
    );
    expect(got.done).toBe(false);
    const listed: string[] = [];
    for await (const o of sim.gcp.run.services.listOperationsAsync(
      longrunning.ListOperationsRequest.create({ name: LOC }),
    ))
      listed.push(o.name!);
    expect(listed).toEqual([op.name]);

    // WaitOperation has a REST rule in the client but no method on it; call it over HTTP.
    const waited = await sim.sim.handle(
      "POST",
      `/v2/${op.name}:wait`,
      "Bearer t",
      JSON.stringify({ timeout: "1300s" }),
    );
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({
      done: true,
      response: { latestReadyRevision: expect.stringMatching(/api-00002-/) },
    });

    await sim.gcp.run.services.deleteOperation(longrunning.DeleteOperationRequest.create({ name: op.name! }));
    await expect(
      sim.gcp.run.services.getOperation(longrunning.GetOperationRequest.create({ name: op.name! })),
    ).rejects.toMatchObject({ code: 5 });
  });

  it("reads an operation once per poll and lets waitForOperation wait on the simulator's clock", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 900 } }));
    const op = await update(sim, (s) => {
      container(s).image = "gcr.io/acme/api:2";
    });
    const poll = runOperationPoller(connect(sim), op.name!);
    const seen = sim.sim.requests().length;
    await expect(poll()).resolves.toEqual({ done: false });
    expect(
      sim.sim
        .requests()
        .slice(seen)
        .map((r) => r.rpc),
    ).toEqual(["google.longrunning.Operations.GetOperation"]);
    const started = sim.sim.clock.now();
    await expect(settle(sim, op.name!)).resolves.toEqual({ done: true });
    expect(sim.sim.clock.now() - started).toBeGreaterThanOrEqual(800_000);
    const polls = sim.sim.requests().filter((r) => r.rpc === "google.longrunning.Operations.GetOperation");
    expect(polls.length).toBeGreaterThanOrEqual(3);
    const aborted = new AbortController();
    aborted.abort(new Error("stop"));
    await expect(poll(aborted.signal)).rejects.toThrow("stop");
  });
});

describe("simulated Cloud Run Admin API v2: out-of-band edits", () => {
  it("deploys a console edit of the template as a new revision and moves generation and etag", async () => {
    const sim = await start();
    const before = await get(sim);
    sim.sim.edit("run", {
      kind: "service",
      name: API,
      patch: { template: { containers: [{ image: "gcr.io/acme/api:hotfix" }] } },
    });
    const during = await get(sim);
    expect(String(during.generation)).toBe("2");
    expect(during.etag).not.toBe(before.etag);
    expect(during.lastModifier).toBe("console-user@example.com");
    expect(during.reconciling).toBe(true);
    expect(during.latestCreatedRevision).toMatch(/api-00002-[a-z0-9]{3}$/);
    // The stale read a reconciler holds now fails on its etag.
    before.labels = { team: "x" };
    await expect(sim.gcp.run.services.updateService({ service: before })).rejects.toMatchObject({ code: 10 });
  });

  it("keeps the revision when a console edit only touches labels", async () => {
    const sim = await start();
    const before = await get(sim);
    const edited = sim.sim.edit("run", { kind: "service", name: API, patch: { labels: { owner: "ops" } } });
    expect(edited["labels"]).toEqual({ team: "web", owner: "ops" });
    const after = await get(sim);
    expect(after.latestCreatedRevision).toBe(before.latestCreatedRevision);
    expect(String(after.generation)).toBe("2");
  });

  it("dumps its state in fixture form and loads it back", async () => {
    const sim = await start();
    await settle(
      sim,
      (
        await update(sim, (s) => {
          container(s).image = "gcr.io/acme/api:2";
        })
      ).name!,
    );
    const before = await get(sim);
    const dumped = sim.sim.dump();
    sim.sim.load(dumped);
    const after = await get(sim);
    expect(after.latestReadyRevision).toBe(before.latestReadyRevision);
    expect(String(after.generation)).toBe(String(before.generation));
    expect(after.etag).toBe(before.etag);
    const [revisions] = await sim.gcp.run.revisions.listRevisions({ parent: API });
    expect(revisions).toHaveLength(2);
  });
});

describe("Cloud Run catalog (src/gcp/catalog/run.ts)", () => {
  it("accepts the CPU and memory pairs of GCP's table and names the valid range otherwise", () => {
    for (const [cpu, memory] of [
      ["0.08", "512Mi"],
      ["500m", "1Gi"],
      ["1", "4Gi"],
      ["2", "8Gi"],
      ["4", "2Gi"],
      ["6", "24Gi"],
      ["8", "32Gi"],
      ["1000m", "128Mi"],
    ] as const) {
      expect(checkRunResources(cpu, memory), `${cpu}/${memory}`).toBeUndefined();
    }
    expect(checkRunResources("2", "9Gi")).toBe(
      "Invalid value specified for container memory. For 2.0 CPU, memory must be between 128Mi and 8Gi inclusive.",
    );
    expect(checkRunResources("0.07", "128Mi")).toContain("Must be equal to one of [.08-1], 2, 4, 6, 8");
    expect(checkRunResources("1.5", "1Gi")).toContain("Must be equal to one of");
    expect(checkRunResources("one", "1Gi")).toContain("Could not parse Quantity");
    expect(checkRunResources("1", "256Mi", { executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2" })).toContain(
      "between 512Mi and 4Gi",
    );
    expect(RUN_LIMITS.concurrency.max).toBe(1000);
  });

  it("reports documented limits the API accepts as advice, not rejections", () => {
    const violations = checkRunService({
      template: {
        containers: [
          {
            image: "i",
            env: [{ name: "A" }, { name: "A" }],
            startupProbe: { periodSeconds: 100, failureThreshold: 3, timeoutSeconds: 200, httpGet: {} },
          },
        ],
      },
    });
    expect(violations.map((v) => [v.severity, v.field])).toEqual([
      ["advise", "template.containers[0].startup_probe.timeout_seconds"],
      ["advise", "template.containers[0].startup_probe"],
      ["advise", "template.containers[0].env[1].name"],
    ]);
  });
});

describe("simulated Cloud Run Admin API v2: fixtures", () => {
  it("loads the example fixture's run section with its named revision", async () => {
    const example = await loadFixture(join(import.meta.dirname, "..", "..", "fixtures", "example.yaml"));
    const sim = await start({ run: example["run"] });
    const name = "projects/acme-staging/locations/us-central1/services/orders-api";
    const s = await get(sim, name);
    expect(s.latestReadyRevision).toBe(`${name}/revisions/orders-api-00042-abc`);
    expect(String(s.generation)).toBe("42");
    expect(s.template?.vpcAccess?.connector).toBe(
      "projects/acme-staging/locations/us-central1/connectors/orders-egress",
    );
    // A template change continues the numbering.
    const svc = await get(sim, name);
    container(svc).image = "us-docker.pkg.dev/acme-staging/orders/orders-api:1.8.3";
    const [op] = await sim.gcp.run.services.updateService({ service: svc });
    await settle(sim, op.name!);
    expect((await get(sim, name)).latestReadyRevision).toMatch(/orders-api-00043-[a-z0-9]{3}$/);
  });
});

describe("simulated Cloud Run Admin API v2: golden HTTP log", () => {
  it("records get, update, poll and get as a stable log", async () => {
    const sim = await start(fixture({ durations: { "run.deploy": 1200 } }), { captureResponses: true });
    const svc = await get(sim);
    container(svc).image = "gcr.io/acme/api:2";
    svc.template!.maxInstanceRequestConcurrency = 40;
    const [op] = await sim.gcp.run.services.updateService({ service: svc });
    const poll = runOperationPoller(connect(sim), op.name!);
    expect(await poll()).toEqual({ done: false });
    await sim.sim.clock.sleep(1_201_000);
    expect(await poll()).toEqual({ done: true });
    await get(sim);
    expectGolden("sim/run-update-service.json", normalizeLog(sim.sim.requests()));
  });
});
