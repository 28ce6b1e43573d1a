import { describe, expect, it } from "vitest";
import { parseSpecSet } from "./load.ts";
import { checkAgainstLive } from "./rules.ts";
import type { AnyResource, Kind, Resource } from "./types.ts";
import { formatProblem } from "./validate.ts";

const HEAD = "apiVersion: capstan.dev/v1alpha1\n";

function spec<K extends Kind>(kind: K, body: string, meta = "region: europe-west1"): Resource<K> {
  const text = `${HEAD}kind: ${kind}\nmetadata:\n  name: x1\n  project: acme-staging\n  ${meta}\nspec:\n${body}`;
  const set = parseSpecSet([{ path: "specs/x.yaml", text }], [], { cwd: "/repo" });
  expect(set.problems.map(formatProblem)).toEqual([]);
  const r = set.resources[0] as AnyResource;
  expect(r.kind).toBe(kind);
  return r as Resource<K>;
}

describe("checks against the live resource", () => {
  const liveConnector = { machineType: "e2-micro", minInstances: 3, maxInstances: 6 };

  it("refuses lowering connector instances without consent, at the line of the field", () => {
    const r = spec("VpcConnector", "  minInstances: 2\n  maxInstances: 6\n");
    const check = checkAgainstLive(r, liveConnector);
    expect(check.disruptions).toEqual([]);
    expect(check.problems.map(formatProblem)).toEqual([
      "specs/x.yaml:8:17  VpcConnector/x1  spec.minInstances: lowering minInstances from 3 to 2 cannot be done in place: GCP only raises connector instances, so the connector is deleted and recreated, and traffic through it stops meanwhile; set spec.allowReplacement: true to allow that, or keep minInstances at 3 or more",
    ]);
  });

  it("shows a consented decrease as a replacement instead of refusing it", () => {
    const r = spec("VpcConnector", "  maxInstances: 4\n  allowReplacement: true\n");
    const check = checkAgainstLive(r, liveConnector);
    expect(check.problems).toEqual([]);
    expect(check.disruptions).toEqual([
      {
        kind: "replace",
        path: "/spec/maxInstances",
        reason:
          "lowering maxInstances from 6 to 4 cannot be done in place: GCP only raises connector instances, so the connector is deleted and recreated, and traffic through it stops meanwhile",
      },
    ]);
  });

  it("lets connector instances and machine type change in place when they grow", () => {
    const r = spec("VpcConnector", "  machineType: e2-standard-4\n  minInstances: 4\n  maxInstances: 10\n");
    expect(checkAgainstLive(r, liveConnector)).toEqual({ problems: [], disruptions: [] });
  });

  it("judges min below max with the live half when the spec states only one", () => {
    const r = spec("VpcConnector", "  minInstances: 7\n");
    expect(checkAgainstLive(r, liveConnector).problems.map((p) => p.message)).toEqual([
      "spec.maxInstances: maxInstances (6) must be greater than minInstances (7)",
    ]);
  });

  it("refuses a different connector range without consent: it only changes by replacement", () => {
    const r = spec("VpcConnector", "  ipCidrRange: 10.9.0.0/28\n");
    const check = checkAgainstLive(r, { ...liveConnector, ipCidrRange: "10.8.0.0/28" });
    expect(check.problems.map((p) => p.message)).toEqual([
      "spec.ipCidrRange: ipCidrRange is 10.8.0.0/28 live and cannot change in place; the connector is deleted and recreated with 10.9.0.0/28, and traffic through it stops meanwhile; set spec.allowReplacement: true to allow that, or keep 10.8.0.0/28",
    ]);
  });

  const liveDb = {
    databaseVersion: "POSTGRES_16",
    tier: "db-custom-2-7680",
    dataDiskSizeGb: 100,
    databaseFlags: { max_connections: "100", work_mem: "4096" },
  };

  it("refuses a tier or restart-flag change without allowRestart, and lets other flags through", () => {
    const r = spec(
      "SqlInstance",
      "  tier: db-custom-4-15360\n  databaseFlags:\n    max_connections: 200\n    work_mem: 8192\n",
    );
    const check = checkAgainstLive(r, liveDb);
    expect(check.problems.map((p) => `${p.line}:${p.col} ${p.message}`)).toEqual([
      "8:9 spec.tier: changing tier from db-custom-2-7680 to db-custom-4-15360 restarts the instance; set spec.allowRestart: true to allow the restart (open connections are dropped)",
      "10:22 spec.databaseFlags.max_connections: changing max_connections from 100 to 200 restarts the instance; set spec.allowRestart: true to allow the restart (open connections are dropped)",
    ]);
  });

  it("shows consented restarts as disruptions, and none when nothing restarting changes", () => {
    const r = spec(
      "SqlInstance",
      "  databaseFlags:\n    max_connections: 200\n    huge_pages: null\n  allowRestart: true\n",
    );
    expect(checkAgainstLive(r, liveDb).disruptions.map((d) => [d.kind, d.path])).toEqual([
      ["restart", "/spec/databaseFlags/max_connections"],
    ]);
    expect(checkAgainstLive(r, { ...liveDb, databaseFlags: { max_connections: "200" } })).toEqual({
      problems: [],
      disruptions: [],
    });
  });

  it("refuses shrinking the disk and changing the database version", () => {
    const r = spec("SqlInstance", "  databaseVersion: POSTGRES_15\n  dataDiskSizeGb: 50\n");
    expect(checkAgainstLive(r, liveDb).problems.map((p) => p.message)).toEqual([
      "spec.databaseVersion: the instance runs POSTGRES_16; capstan does not upgrade database versions, so set databaseVersion: POSTGRES_16 or remove it",
      "spec.dataDiskSizeGb: 50 GB is below the live 100 GB; Cloud SQL disks can grow but never shrink, so use 100 or more",
    ]);
  });

  it("judges memory-relative flag ranges against the live tier when the spec states none", () => {
    const r = spec("SqlInstance", "  databaseFlags:\n    shared_buffers: 700000\n  allowRestart: true\n");
    expect(checkAgainstLive(r, liveDb).problems.map((p) => p.message)).toEqual([
      "spec.databaseFlags.shared_buffers: `shared_buffers` must be an integer between 13107 and 589824 (8kB) for tier db-custom-2-7680, got 700000",
    ]);
  });

  it("refuses a health check timeout longer than the live interval", () => {
    const r = spec("HealthCheck", "  timeoutSec: 10\n", "labels: {}");
    expect(
      checkAgainstLive(r, { checkIntervalSec: 5, timeoutSec: 5 }).problems.map((p) => p.message),
    ).toEqual([
      "spec.timeoutSec: timeoutSec 10 is longer than checkIntervalSec 5 (live checkIntervalSec); use a timeoutSec of at most 5. GCP says: Invalid value for field 'resource.timeoutSec': '10'. TimeoutSec should be less than checkIntervalSec.",
    ]);
    expect(checkAgainstLive(r, { checkIntervalSec: 30, timeoutSec: 5 }).problems).toEqual([]);
  });

  it("refuses a timeout on a backend service whose live backends are serverless NEGs", () => {
    const r = spec("BackendService", "  timeoutSec: 60\n", "labels: {}");
    const serverless = {
      backends: [
        {
          serverlessNeg: {
            service: {
              kind: "CloudRunService" as const,
              text: "api",
              name: "projects/acme-staging/locations/europe-west1/services/api",
              id: "CloudRunService:projects/acme-staging/locations/europe-west1/services/api",
              managed: false,
              region: "europe-west1",
            },
            region: "europe-west1",
          },
        },
      ],
    };
    expect(checkAgainstLive(r, serverless).problems.map((p) => p.message.split(":")[0])).toEqual([
      "spec.timeoutSec",
    ]);
    expect(checkAgainstLive(r, { backends: [{ group: "https://example.test/ig" }] }).problems).toEqual([]);
  });

  it("judges Cloud Run memory against the live cpu when the spec states only memory", () => {
    const r = spec("CloudRunService", "  template:\n    resources:\n      memory: 8Gi\n");
    const live = (cpu: number) => ({ template: { resources: { cpu, memory: 2 ** 30 } } });
    expect(checkAgainstLive(r, live(1)).problems.map((p) => p.message)).toEqual([
      "spec.template.resources.memory: 8Gi of memory with 1 vCPU is refused by Cloud Run; with 1 vCPU use 128Mi to 4Gi (the other value is the live one). GCP says: Invalid value specified for container memory. For 1.0 CPU, memory must be between 128Mi and 4Gi inclusive.",
    ]);
    expect(checkAgainstLive(r, live(2)).problems).toEqual([]);
  });

  it("does not repeat a problem the offline checks already reported", () => {
    const r = spec("VpcConnector", "  minInstances: 3\n  maxInstances: 6\n");
    expect(checkAgainstLive(r, liveConnector)).toEqual({ problems: [], disruptions: [] });
  });
});
