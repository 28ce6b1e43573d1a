import { beforeAll, describe, expect, it } from "vitest";
import { ScaledClock } from "../../src/clock/index.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients, type GcpClients } from "../../src/gcp/clients.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { loadCorpus, type Recorded, RecordedServer } from "./corpus.ts";
import { managedOf, specDocument, specOf } from "./spec-of.ts";

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
const PROBES: (typeof SPECS)[number] = {
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

const corpus = loadCorpus();

/**
 * served is what the loopback server holds to plan `file`: that recording, and every
 * recorded resource of the other APIs (the health checks, NEGs and secrets a resource may
 * name). Recordings of the same kind are left out: several hold the same resource name.
 */
function served(file: string): Recorded[] {
  const api = file.split("/")[0]!;
  return corpus.filter((r) => r.file === file || (r.status === 200 && !r.file.startsWith(`${api}/`)));
}

/**
 * Session is one loopback server of recorded bodies with the real client libraries
 * pointed at it, closed after each test.
 */
async function session(file: string) {
  const server = new RecordedServer(served(file));
  const clients: GcpClients = createClients({ endpoint: await server.listen() });
  const clock = new ScaledClock({ scale: 1 });
  const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
  // `serverChecks: false` plans without the validate-only write a change makes Cloud Run
  // check, which a server of recorded reads cannot answer.
  const plan = async (text: string, project: string, serverChecks = true) => {
    const specs = parseSpecSet([{ path: "specs/recorded.yaml", text }], [], {
      cwd: "/",
      defaults: { project },
    });
    expect(
      specs.problems.map((p) => `${p.line}:${p.col} ${p.message}`),
      text,
    ).toEqual([]);
    const { plan: p } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock, serverChecks });
    return p;
  };
  const close = async () => {
    await clients.close();
    await server.close();
  };
  return { server, gcp, plan, close };
}

/** summary is what a plan says of each resource: no problems, and per resource its action and changes. */
function summary(p: Awaited<ReturnType<Awaited<ReturnType<typeof session>>["plan"]>>) {
  return {
    problems: p.problems.map((x) => x.message),
    resources: p.resources.map((r) => [
      r.address,
      r.action,
      r.changes.map((ch) => `${ch.field}: ${JSON.stringify(ch.before)} → ${JSON.stringify(ch.after)}`),
    ]),
  };
}

/** MANAGED are the recorded GETs of resources of a kind capstan manages, told apart by path. */
const MANAGED = corpus.flatMap((r) => {
  const m = r.status === 200 && r.method === "GET" ? managedOf(r.path) : undefined;
  return m ? [{ r, m }] : [];
});

describe("capstan's normalisation of recorded GCP bodies", () => {
  it("covers every managed kind", () => {
    expect(new Set(MANAGED.map(({ m }) => m.kind))).toEqual(
      new Set(["SqlInstance", "VpcConnector", "CloudRunService", "HealthCheck", "BackendService"]),
    );
  });

  it.each(MANAGED.map(({ r, m }) => [r.file, r, m] as const))(
    "%s: the spec its normalised state shows plans no change, read with list calls",
    async (_file, r, m) => {
      const s = await session(r.file);
      try {
        const rec = RECONCILERS[m.kind];
        // Read as plan reads: the list of the resource's scope, page by page.
        const ref = { kind: m.kind, project: m.project, location: m.region || "global", id: m.name };
        const listed = await rec.list(s.gcp, rec.scopeOf(ref));
        const observed = listed.find((o) => o.ref.id === m.name);
        expect(observed, `${r.file} not listed`).toBeDefined();
        const region = m.kind === "SqlInstance" ? String(r.body.region) : m.region;
        const state = rec.normalize(observed!.live);
        const text = specDocument({ ...m, region }, specOf(state, observed!.live));
        expect(summary(await s.plan(text, m.project)), text).toEqual({
          problems: [],
          resources: [[`${m.kind}/${m.name}`, "no-op", []]],
        });
        // Each page was one list request with the page token of the last.
        expect(s.server.requests.some((q) => /[?&]pageToken=/.test(q)) || listed.length === 1).toBe(true);
      } finally {
        await s.close();
      }
    },
  );

  it.each([
    // Real Cloud Run fills a TCP startup probe (period 240 s) in a service created without one.
    ["run/service-created-vcr.json", "runservice-1w5ax8rh1otic", ["template.startupProbe.period: 240 → 10"]],
    // A body without the probe (written by a mock): the probe is unset live, and so is each field.
    [
      "run/service-basic.json",
      "runservice-abc123",
      [
        "template.startupProbe.tcpSocket.port: undefined → 8080",
        "template.startupProbe.period: undefined → 10",
      ],
    ],
  ])(
    "%s: a spec's value against the live default or its absence is a change",
    async (file, name, changes) => {
      const s = await session(file);
      try {
        const text = `apiVersion: capstan.dev/v1alpha1
kind: CloudRunService
metadata: {name: ${name}, region: us-central1}
spec:
  template:
    startupProbe: {tcpSocket: {port: 8080}, period: 10s}
`;
        expect(summary(await s.plan(text, "example-project", false))).toEqual({
          problems: [],
          resources: [[`CloudRunService/${name}`, "update", changes]],
        });
      } finally {
        await s.close();
      }
    },
  );

  beforeAll(() => {
    expect(new Set(SPECS.map((x) => x.file)).size).toBe(SPECS.length);
  });

  it.each([...SPECS, PROBES].map((c) => [c.file, c] as const))(
    "%s plans no change against the spec a user writes from the console",
    async (_f, c) => {
      const s = await session(c.file);
      try {
        const text = `apiVersion: capstan.dev/v1alpha1\nkind: ${c.kind}\nmetadata:\n  name: ${c.name}\n${c.region === "global" ? "" : `  region: ${c.region}\n`}spec:\n${c.spec
          .split("\n")
          .map((l) => `  ${l}`)
          .join("\n")}\n`;
        expect(summary(await s.plan(text, c.project ?? "example-project"))).toEqual({
          problems: [],
          resources: [[`${c.kind}/${c.name}`, "no-op", []]],
        });
      } finally {
        await s.close();
      }
    },
  );
});
