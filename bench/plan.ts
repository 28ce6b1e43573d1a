// Plans 1,000 resources (700 Cloud Run services, 100 Cloud SQL instances, 100 VPC
// connectors, 100 backend services over 2 projects × 2 regions) against the simulator
// and prints: API read calls made (against the one get per resource that Terraform's
// refresh and Config Connector make), wall time of `buildPlan` excluding process start
// and simulator seeding (target < 2 s), and peak RSS. One in ten resources differs
// from its spec, so the plan has real changes to compute, check and render.
// Run: node bench/plan.ts
import { gcpAccess } from "../src/gcp/access.ts";
import { GcpCaller } from "../src/gcp/call.ts";
import { createClients } from "../src/gcp/clients.ts";
import { RateLimiter } from "../src/gcp/ratelimit.ts";
import { buildPlan } from "../src/plan/build.ts";
import { RECONCILERS } from "../src/reconcilers/index.ts";
import { renderText } from "../src/render/index.ts";
import { createSimulator } from "../src/sim/index.ts";
import { parseSpecSet } from "../src/spec/load.ts";

const PROJECTS = ["acme-prod-eu", "acme-prod-us"];
const REGIONS = ["europe-west1", "us-central1"];
const scopes = PROJECTS.flatMap((project) => REGIONS.map((region) => ({ project, region })));
const RUN_PER_SCOPE = 175;
const SQL_PER_SCOPE = 25;
const VPC_PER_SCOPE = 25;
const BS_PER_SCOPE = 25;

const run: object[] = [];
const sql: object[] = [];
const connectors: object[] = [];
const negs: object[] = [];
const backendServices: object[] = [];
const secrets: object[] = [];
const docs: string[] = [];
const doc = (kind: string, name: string, project: string, region: string | undefined, spec: string) =>
  docs.push(
    `apiVersion: capstan.dev/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  project: ${project}\n${
      region ? `  region: ${region}\n` : ""
    }spec:\n${spec}`,
  );

for (const { project, region } of scopes) {
  const loc = `projects/${project}/locations/${region}`;
  if (region === REGIONS[0])
    secrets.push({ name: `projects/${project}/secrets/db-password`, versions: [{ state: "ENABLED" }] });
  for (let i = 0; i < VPC_PER_SCOPE; i++) {
    const name = `vpc-${region}-${i}`;
    connectors.push({
      name: `${loc}/connectors/${name}`,
      network: "default",
      ipCidrRange: `10.${i}.0.0/28`,
      machineType: "e2-micro",
      minInstances: 2,
      maxInstances: i % 10 === 0 ? 4 : 6,
    });
    doc(
      "VpcConnector",
      name,
      project,
      region,
      "  machineType: e2-micro\n  minInstances: 2\n  maxInstances: 6\n",
    );
  }
  for (let i = 0; i < SQL_PER_SCOPE; i++) {
    const name = `db-${region}-${i}`;
    sql.push({
      project,
      name,
      region,
      databaseVersion: "POSTGRES_15",
      settings: {
        tier: "db-custom-2-7680",
        databaseFlags: [
          { name: "max_connections", value: "200" },
          { name: "work_mem", value: i % 10 === 0 ? "4096" : "8192" },
        ],
      },
    });
    doc(
      "SqlInstance",
      name,
      project,
      region,
      "  tier: db-custom-2-7680\n  databaseFlags:\n    max_connections: 200\n    work_mem: 8192\n",
    );
  }
  for (let i = 0; i < RUN_PER_SCOPE; i++) {
    const name = `svc-${region}-${i}`;
    run.push({
      name: `${loc}/services/${name}`,
      template: {
        maxInstanceRequestConcurrency: 80,
        scaling: { maxInstanceCount: i % 10 === 0 ? 10 : 20 },
        containers: [
          {
            image: `europe-docker.pkg.dev/${project}/apps/${name}:1`,
            resources: { limits: { cpu: "1", memory: "512Mi" } },
            env: [
              { name: "DB_POOL_SIZE", value: "5" },
              {
                name: "DB_PASSWORD",
                valueSource: { secretKeyRef: { secret: "db-password", version: "latest" } },
              },
            ],
          },
        ],
      },
    });
    doc(
      "CloudRunService",
      name,
      project,
      region,
      "  template:\n    scaling:\n      maxInstances: 20\n    maxConcurrency: 80\n    env:\n      DB_POOL_SIZE: 5\n      DB_PASSWORD:\n        secret: { name: db-password, version: latest }\n",
    );
  }
  for (let i = 0; i < BS_PER_SCOPE; i++) {
    const name = `bs-${region}-${i}`;
    const svc = `svc-${region}-${i}`;
    negs.push({ project, name: `neg-${svc}`, region, cloudRun: { service: svc } });
    backendServices.push({
      project,
      name,
      loadBalancingScheme: "EXTERNAL_MANAGED",
      protocol: "HTTPS",
      backends: [{ group: `regions/${region}/networkEndpointGroups/neg-${svc}` }],
      logConfig: { enable: true, sampleRate: i % 10 === 0 ? 1 : 0.5 },
    });
    doc(
      "BackendService",
      name,
      project,
      undefined,
      `  logConfig:\n    enable: true\n    sampleRate: 0.5\n  backends:\n    - serverlessNeg:\n        service: projects/${project}/locations/${region}/services/${svc}\n        region: ${region}\n`,
    );
  }
}

const specs = parseSpecSet([{ path: "bench/plan-specs.yaml", text: docs.join("---\n") }]);
if (specs.problems.length) throw new Error(JSON.stringify(specs.problems.slice(0, 3), null, 2));

const unlimited = { readPerMinute: 1e9, writePerMinute: 1e9 };
const sim = createSimulator({
  fixture: {
    quotas: Object.fromEntries(
      ["run", "sqladmin", "vpcaccess", "compute", "secretmanager", "monitoring"].map((a) => [
        `${a}.googleapis.com`,
        unlimited,
      ]),
    ),
    run: { services: run },
    sql: { instances: sql },
    vpcaccess: { connectors },
    secretmanager: { secrets },
    compute: { networkEndpointGroups: negs, backendServices },
  },
});

const clients = createClients({ endpoint: await sim.listen(0) });
const clock = sim.clock;
const gcp = gcpAccess(
  clients,
  new GcpCaller({
    clock,
    limiter: new RateLimiter({
      clock,
      limits: {
        "run.googleapis.com": unlimited,
        "compute.googleapis.com": unlimited,
        "sqladmin.googleapis.com": unlimited,
        "vpcaccess.googleapis.com": unlimited,
        "secretmanager.googleapis.com": unlimited,
      },
    }),
  }),
);

const runOnce = async () => {
  sim.clearRequests();
  const t0 = performance.now();
  const result = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock, concurrency: 8 });
  const text = renderText(result.plan);
  return { ms: performance.now() - t0, result, text, log: sim.requests() };
};
// The first run pays for loading and JIT-compiling the client libraries' protos.
const cold = await runOnce();
const warm = await runOnce();
const reads = warm.log.filter((r) => !r.write);
const byRpc = new Map<string, number>();
for (const r of reads)
  byRpc.set(r.rpc.split(".").slice(-2).join("."), (byRpc.get(r.rpc.split(".").slice(-2).join(".")) ?? 0) + 1);
const s = warm.result.plan.summary;

console.log(
  `plan of ${specs.resources.length} resources (${PROJECTS.length} projects × ${REGIONS.length} regions)`,
);
console.log(
  `  changes found             ${s.changes} in ${s.update} resources, ${s.noop} unchanged, ${s.errors} errors`,
);
console.log(
  `  API read calls            ${reads.length}  (one get per resource would be ${specs.resources.length})`,
);
for (const [rpc, n] of [...byRpc].sort((a, b) => b[1] - a[1]))
  console.log(`      ${String(n).padStart(5)}  ${rpc}`);
console.log(
  `  validate-only requests    ${warm.log.filter((r) => r.write).length}  (one per changed Cloud Run service)`,
);
console.log(
  `  plan wall time            ${warm.ms.toFixed(0)} ms warm, ${cold.ms.toFixed(0)} ms cold (target < 2000 ms)`,
);
console.log(`  rendered plan             ${warm.text.split("\n").length} lines`);
console.log(
  `  peak RSS                  ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (process, simulator included)`,
);
await clients.close();
await sim.close();
