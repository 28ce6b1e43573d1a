// Lists 1,000 simulated Cloud Run services through the real @google-cloud/run client, to
// show the simulator is not what makes observing a big estate slow. Seeds 2 projects × 2
// regions × 250 services, then per region: listServices with autoPaginate, the same with
// explicit pages, and for comparison one getService per service. Run: node bench/sim-list.ts
import { createClients } from "../src/gcp/clients.ts";
import { createSimulator } from "../src/sim/index.ts";

const PROJECTS = ["acme-prod", "acme-staging"];
const REGIONS = ["us-central1", "europe-west1"];
const PER_REGION = 250;
const PAGE_SIZE = 100;

const parents = PROJECTS.flatMap((p) => REGIONS.map((r) => `projects/${p}/locations/${r}`));
const services = parents.flatMap((parent) =>
  Array.from({ length: PER_REGION }, (_, i) => ({
    name: `${parent}/services/svc-${String(i).padStart(3, "0")}`,
    labels: { team: `team-${i % 7}` },
    template: {
      containers: [
        {
          image: `us-docker.pkg.dev/acme/app/svc-${i}:1`,
          resources: { limits: { cpu: "1", memory: "512Mi" }, cpuIdle: true },
          env: [
            { name: "MODE", value: "prod" },
            {
              name: "DB_PASSWORD",
              valueSource: { secretKeyRef: { secret: "db-password", version: "latest" } },
            },
          ],
        },
      ],
      vpcAccess: { connector: `${parent}/connectors/run-egress`, egress: "PRIVATE_RANGES_ONLY" },
      scaling: { minInstanceCount: 1, maxInstanceCount: 20 },
    },
  })),
);

const t0 = performance.now();
// Read quota is lifted: the bench measures the simulator, not GCP's 1,000 reads/minute.
const sim = createSimulator({
  fixture: { run: { services }, quotas: { "run.googleapis.com": { readPerMinute: 1e9 } } },
});
const seeded = performance.now() - t0;
const gcp = createClients({ endpoint: await sim.listen(0) });
// Time spent inside the simulator, to tell its share from the client's (HTTP, JSON, protobuf).
let simMs = 0;
const handle = sim.handle.bind(sim);
sim.handle = async (...args: Parameters<typeof handle>) => {
  const start = performance.now();
  try {
    return await handle(...args);
  } finally {
    simMs += performance.now() - start;
  }
};

function line(what: string, pages: number, count: number, r: { ms: number; simMs: number }): void {
  console.log(
    `${what.padEnd(30)} ${String(count).padStart(5)} services ${String(pages).padStart(5)} requests ${r.ms.toFixed(0).padStart(6)} ms total ${(r.ms / count).toFixed(3)} ms/service, simulator ${r.simMs.toFixed(0)} ms`,
  );
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; simMs: number }> {
  simMs = 0;
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start, simMs };
}

try {
  console.log(
    `seeded ${services.length} services in ${seeded.toFixed(0)} ms (fixture load: defaults and validation)`,
  );
  // One warm-up call so client initialisation is not counted.
  await gcp.run.services.listServices({ parent: parents[0]!, pageSize: 1 }, { autoPaginate: false });

  let before = sim.requests().length;
  const auto = await timed(async () => {
    let n = 0;
    // No pageSize: the server's default page (100) applies, and gax does not warn that a
    // pageSize with autoPaginate still fetches every page.
    for (const parent of parents) n += (await gcp.run.services.listServices({ parent }))[0].length;
    return n;
  });
  line("listServices autoPaginate", sim.requests().length - before, auto.value, auto);

  before = sim.requests().length;
  const pages = await timed(async () => {
    let n = 0;
    for (const parent of parents) {
      let pageToken = "";
      do {
        const [page, next] = await gcp.run.services.listServices(
          { parent, pageSize: PAGE_SIZE, pageToken },
          { autoPaginate: false },
        );
        n += page.length;
        pageToken = next?.pageToken ?? "";
      } while (pageToken);
    }
    return n;
  });
  line("listServices explicit pages", sim.requests().length - before, pages.value, pages);

  before = sim.requests().length;
  const gets = await timed(async () => {
    for (const s of services) await gcp.run.services.getService({ name: s.name });
    return services.length;
  });
  line("getService each", sim.requests().length - before, gets.value, gets);

  if (auto.value !== services.length || pages.value !== services.length) {
    throw new Error(`listed ${auto.value}/${pages.value} services, expected ${services.length}`);
  }
} finally {
  await gcp.close();
  await sim.close();
}
