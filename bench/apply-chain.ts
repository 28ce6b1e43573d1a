// Applies a plan whose critical path is a chain of slow operations — a Cloud SQL restart,
// then a connector raised 3 → 10 in bounded steps, then a Cloud Run service raised 5 → 20
// in bounded steps, each waiting for the one before — and prints the simulated wall
// time against the sum of the operations' durations (the best any executor can do),
// with settle times and gates set to zero so only waiting on operations counts.
// Run: node bench/apply-chain.ts
import { execute } from "../src/apply/execute.ts";
import { gcpAccess } from "../src/gcp/access.ts";
import { GcpCaller } from "../src/gcp/call.ts";
import { createClients } from "../src/gcp/clients.ts";
import { RateLimiter } from "../src/gcp/ratelimit.ts";
import { buildPlan } from "../src/plan/build.ts";
import { RECONCILERS } from "../src/reconcilers/index.ts";
import { createSimulator } from "../src/sim/index.ts";
import { parseSpecSet } from "../src/spec/load.ts";

const P = "bench-chain";
const R = "europe-west1";
const DURATIONS = { "sql.restart": 180, "vpcaccess.update": 120, "run.deploy": 30 };

const specs = parseSpecSet([
  {
    path: "bench/chain.yaml",
    text: `apiVersion: capstan.dev/v1alpha1
kind: SqlInstance
metadata: { name: db, project: ${P}, region: ${R} }
spec:
  databaseFlags: { max_connections: 200 }
  allowRestart: true
---
apiVersion: capstan.dev/v1alpha1
kind: VpcConnector
metadata: { name: egress, project: ${P}, region: ${R} }
spec: { maxInstances: 10 }
---
apiVersion: capstan.dev/v1alpha1
kind: CloudRunService
metadata: { name: api, project: ${P}, region: ${R} }
spec:
  template:
    scaling: { maxInstances: 20 }
    vpcAccess: { connector: egress }
---
apiVersion: capstan.dev/v1alpha1
kind: CapacityPolicy
metadata: { name: api, project: ${P}, region: ${R} }
spec:
  members:
    - { service: api, sqlInstance: db, connector: egress, connectionsPerInstance: 5, egressMbpsPerInstance: 10 }
  sql: { reservedConnections: 10, ceiling: 0.8 }
  connector: { ceiling: 0.8 }
  rollout: { maxStepFactor: 2, settleTime: 0s, gates: [] }
`,
  },
]);
if (specs.problems.length) throw new Error(JSON.stringify(specs.problems, null, 2));

const loc = `projects/${P}/locations/${R}`;
const sim = createSimulator({
  timeScale: 200,
  fixture: {
    durations: DURATIONS,
    sql: {
      instances: [
        {
          project: P,
          name: "db",
          region: R,
          databaseVersion: "POSTGRES_15",
          settings: { tier: "db-custom-2-7680", databaseFlags: [{ name: "max_connections", value: "100" }] },
        },
      ],
    },
    vpcaccess: {
      connectors: [
        {
          name: `${loc}/connectors/egress`,
          network: "default",
          ipCidrRange: "10.8.0.0/28",
          minInstances: 2,
          maxInstances: 3,
        },
      ],
    },
    run: {
      services: [
        {
          name: `${loc}/services/api`,
          template: {
            scaling: { maxInstanceCount: 5 },
            vpcAccess: { connector: `${loc}/connectors/egress` },
            containers: [{ image: "europe-docker.pkg.dev/bench/api:1" }],
          },
        },
      ],
    },
  },
});
const clients = createClients({ endpoint: await sim.listen(0) });
const clock = sim.clock;
const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
const result = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock, serverChecks: false });
if (result.plan.summary.errors) throw new Error(JSON.stringify(result.plan.problems, null, 2));

const chain = result.steps.steps.map((s) => {
  const kinds = new Set(s.changes.map((c) => c.kind));
  const d = kinds.has("SqlInstance")
    ? DURATIONS["sql.restart"]
    : kinds.has("VpcConnector")
      ? DURATIONS["vpcaccess.update"]
      : DURATIONS["run.deploy"];
  return {
    step: s.index,
    what: s.changes
      .map((c) => `${c.address} ${c.change.field} ${c.change.before}→${c.change.after}`)
      .join(", "),
    d,
  };
});
const sum = chain.reduce((n, c) => n + c.d, 0);
const start = clock.now();
const report = await execute({ result, gcp, reconcilers: RECONCILERS, clock, gates: async () => undefined });
const elapsed = (clock.now() - start) / 1000;

console.log(`apply a chain of ${chain.length} slow operations (simulated time ×200)`);
for (const c of chain) console.log(`  step ${c.step}: ${String(c.d).padStart(4)} s  ${c.what}`);
console.log(`  outcome                   ${report.outcome}`);
console.log(`  sum of operation times    ${sum} s`);
console.log(`  simulated wall time       ${elapsed.toFixed(0)} s`);
console.log(
  `  ratio                     ${(elapsed / sum).toFixed(3)}× (the rest is polling granularity, readiness and re-reads)`,
);
await clients.close();
await sim.close();
