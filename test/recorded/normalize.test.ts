import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScaledClock } from "../../src/clock/index.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients, type GcpClients } from "../../src/gcp/clients.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { loadCorpus, RecordedServer } from "./corpus.ts";

/**
 * SPECS states, for each recorded resource, the managed fields with the values the
 * recording shows, as a user would write them from the console. Planned against the
 * recorded body, served to the real client libraries, each must plan no change.
 */
const SPECS: readonly {
  file: string;
  kind: string;
  name: string;
  region: string;
  project?: string;
  spec: string;
}[] = [
  {
    file: "sql/instance-postgres.json",
    kind: "SqlInstance",
    name: "sqlinstance-postgres-direct-abc123",
    region: "us-central1",
    spec: `databaseVersion: POSTGRES_9_6
tier: db-custom-1-3840
availabilityType: REGIONAL
dataDiskSizeGb: 100
databaseFlags:
  cloudsql.iam_authentication: "on"
  max_connections: 1000
  max_worker_processes: 8`,
  },
  {
    file: "sql/instance-postgres-minimal.json",
    kind: "SqlInstance",
    name: "sqlinstance-postgres-minimal-direct-abc123",
    region: "us-central1",
    spec: `databaseVersion: POSTGRES_15
tier: db-custom-1-3840
availabilityType: ZONAL
dataDiskSizeGb: 10`,
  },
  {
    file: "sql/instance-databaseflags.json",
    kind: "SqlInstance",
    name: "sqlinstance-databaseflags-direct-abc123",
    region: "us-central1",
    spec: `databaseFlags:
  log_connections: "on"
  log_timezone: America/Los_Angeles
  max_connections: null`,
  },
  {
    file: "sql/instance-maintenancewindow.json",
    kind: "SqlInstance",
    name: "sqlinstance-maintenancewindow-direct-abc123",
    region: "us-central1",
    spec: `maintenanceWindow:
  day: 3
  hour: 12
  updateTrack: stable`,
  },
  {
    file: "vpcaccess/connector-cidr.json",
    kind: "VpcConnector",
    name: "vpcacabc123",
    region: "us-central1",
    spec: `machineType: e2-micro
minInstances: 3
maxInstances: 4
ipCidrRange: 10.2.0.0/28`,
  },
  {
    file: "vpcaccess/connector-subnet.json",
    kind: "VpcConnector",
    name: "vpcacabc123",
    project: "example-project-02",
    region: "us-west2",
    spec: `machineType: e2-micro
minInstances: 2
maxInstances: 3
subnet:
  name: connector-subnet
  projectId: example-project-02`,
  },
  {
    file: "run/service-basic.json",
    kind: "CloudRunService",
    name: "runservice-abc123",
    region: "us-central1",
    spec: `ingress: INGRESS_TRAFFIC_ALL
template:
  scaling:
    maxInstances: 3
  maxConcurrency: 80
  timeout: 300s
  executionEnvironment: gen2
  resources:
    cpu: 1
    memory: 512Mi
  env:
    FOO: "[barbar"`,
  },
  {
    file: "compute/health-check-tcp.json",
    kind: "HealthCheck",
    name: "healthcheckid",
    region: "global",
    spec: `type: TCP
port: 88
checkIntervalSec: 15
timeoutSec: 5
healthyThreshold: 2
unhealthyThreshold: 2
logConfig:
  enable: false`,
  },
  {
    file: "compute/backend-service-instance-groups.json",
    kind: "BackendService",
    name: "backendserviceid",
    region: "global",
    spec: `loadBalancingScheme: EXTERNAL
protocol: HTTP
timeoutSec: 5
connectionDraining:
  drainingTimeoutSec: 300`,
  },
];

/** Run probes are planned on their own: the recording's service has its own name. */
const PROBES = {
  file: "run/service-probes.json",
  kind: "CloudRunService",
  name: "runservice-abc123",
  region: "us-central1",
  spec: `template:
  startupProbe:
    tcpSocket: { port: 8080 }
    initialDelay: 5s
    period: 10s
    timeout: 10s
    failureThreshold: 2
  livenessProbe:
    httpGet: { path: / }
    period: 10s
    timeout: 1s
    failureThreshold: 3`,
};

describe("capstan's normalisation of real GCP bodies", () => {
  const corpus = loadCorpus();
  let server: RecordedServer;
  let clients: GcpClients;

  async function plan(c: (typeof SPECS)[number]) {
    const recorded = corpus.filter(
      (r) => r.file === c.file || (r.status === 200 && !r.file.startsWith(c.file.split("/")[0]!)),
    );
    server = new RecordedServer(recorded);
    clients = createClients({ endpoint: await server.listen() });
    const clock = new ScaledClock({ scale: 1 });
    const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
    const text = `apiVersion: capstan.dev/v1alpha1\nkind: ${c.kind}\nmetadata:\n  name: ${c.name}\n${c.region === "global" ? "" : `  region: ${c.region}\n`}spec:\n${c.spec
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n")}\n`;
    const specs = parseSpecSet([{ path: "specs/recorded.yaml", text }], [], {
      cwd: "/",
      defaults: {
        project: c.project ?? "example-project",
        ...(c.region === "global" ? {} : { region: c.region }),
      },
    });
    expect(specs.problems.map((p) => p.message)).toEqual([]);
    return buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
  }

  afterAll(async () => {
    await clients?.close();
    await server?.close();
  });
  beforeAll(() => {
    expect(new Set(SPECS.map((s) => s.file)).size).toBe(SPECS.length);
  });

  it.each([...SPECS, PROBES].map((c) => [c.file, c] as const))(
    "%s plans no change against the spec it shows",
    async (_f, c) => {
      const { plan: p } = await plan(c);
      await clients.close();
      await server.close();
      expect(p.problems.map((x) => x.message)).toEqual([]);
      expect(
        p.resources.map((r) => [
          r.address,
          r.action,
          r.changes.map((ch) => `${ch.field}: ${JSON.stringify(ch.before)} → ${JSON.stringify(ch.after)}`),
        ]),
      ).toEqual([[`${c.kind}/${c.name}`, "no-op", []]]);
    },
  );
});
