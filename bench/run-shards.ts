// `capstan run` on a fleet of 10,000 resources over 20 projects (per project, one region:
// 350 Cloud Run services, 50 Cloud SQL instances, 50 VPC connectors, 50 backend
// services), all as their specs say, in one process and split over 4 shards
// (`--shard I/4`, rendezvous hashing on the project id). Each configuration runs in a
// process of its own, one after another, with the NODE_OPTIONS the Dockerfile ships, and
// the simulator serves the fleet from a child process so its work is not counted. Prints
// per configuration and shard: projects and resources owned, API calls per pass, CPU and
// wall time of a steady-state pass (median of the passes after the first), RSS after the
// passes (each followed by capstan run's memory release) and at its peak.
// Targets: one process, 10,000 resources: RSS < 300 MB and a steady pass < 5 s of CPU;
// 4 shards: each shard's share within 1.2× of an even quarter.
// Run: node bench/run-shards.ts [passes]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ScaledClock } from "../src/clock/index.ts";
import { Controller } from "../src/controller/controller.ts";
import { releaseMemory } from "../src/controller/memory.ts";
import { ControllerMetrics } from "../src/controller/metrics.ts";
import { type Shard, ShardedSource, shardOf } from "../src/controller/shard.ts";
import { DirSource } from "../src/controller/source.ts";
import { gcpAccess } from "../src/gcp/access.ts";
import { GcpCaller } from "../src/gcp/call.ts";
import { createClients } from "../src/gcp/clients.ts";
import { RateLimiter } from "../src/gcp/ratelimit.ts";
import { FileLeaseStore, LeaderElector } from "../src/lease/index.ts";
import { RECONCILERS } from "../src/reconcilers/index.ts";
import { fleet, startSimProcess, timedPass, UNLIMITED_APIS } from "./lib/fleet.ts";

const ROOT = join(import.meta.dirname, "..");
const PROJECTS = Array.from({ length: 20 }, (_, i) => `acme-fleet-${String(i).padStart(2, "0")}`);
const PER_SCOPE = { run: 350, sql: 50, vpc: 50, bs: 50 };
const SHARDS = 4;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface Measured {
  readonly shard: string;
  readonly resources: number;
  readonly projects: number;
  readonly callsPerPass: number;
  readonly cpuMs: number[];
  readonly wallMs: number[];
  readonly rss: number;
  readonly heap: number;
  readonly peakRss: number;
}

/** Runs `passes` passes of one shard (or of the whole fleet) in this process. */
async function measure(endpoint: string, specsDir: string, shard: Shard | undefined, passes: number) {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const clock = new ScaledClock();
  const dir = await mkdtemp(join(tmpdir(), "capstan-bench-shard-"));
  const clients = createClients({ endpoint });
  const metrics = new ControllerMetrics({ processMetrics: false });
  let calls = 0;
  const caller = new GcpCaller({
    clock,
    limiter: new RateLimiter({ clock, limits: UNLIMITED_APIS }),
    observer: (meta, outcome) => {
      metrics.observer(meta, outcome);
      calls += 1;
    },
  });
  const dirSource = new DirSource({ paths: [specsDir] });
  const controller = new Controller({
    source: shard ? new ShardedSource(dirSource, shard) : dirSource,
    gcp: gcpAccess(clients, caller),
    reconcilers: RECONCILERS,
    clock,
    gates: async () => undefined,
    lease: new LeaderElector({ store: new FileLeaseStore({ path: join(dir, "lease.json") }), clock }),
    metrics,
    shard,
    stateFile: join(dir, "state.json"),
    afterPass: releaseMemory,
  });
  if (!(await controller.settleLease())) throw new Error("could not take the lease");
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  const perPass: number[] = [];
  for (let i = 0; i < passes; i++) {
    calls = 0;
    const t = await timedPass(controller, `pass ${i + 1}`);
    cpuMs.push(t.cpuMs);
    wallMs.push(t.wallMs);
    perPass.push(calls);
  }
  gc();
  const status = controller.status();
  const out: Measured = {
    shard: shard ? `${shard.index}/${shard.count}` : "all",
    resources: status.resources.length,
    projects: new Set(status.resources.map((r) => r.gcpName.split("/")[1])).size,
    callsPerPass: median(perPass.slice(1)),
    cpuMs,
    wallMs,
    rss: process.memoryUsage().rss,
    heap: process.memoryUsage().heapUsed,
    peakRss: process.resourceUsage().maxRSS * 1024,
  };
  await clients.close();
  await rm(dir, { recursive: true, force: true });
  return out;
}

const SHIPPED =
  process.env["CAPSTAN_BENCH_NODE_OPTIONS"] ??
  /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1];
if (!SHIPPED) throw new Error("the Dockerfile sets no NODE_OPTIONS");

if (process.argv[2] === "--child") {
  const [, , , endpoint, specsDir, shardArg, passes] = process.argv;
  const [i, n] = shardArg === "all" ? [] : shardArg!.split("/").map(Number);
  const shard = i === undefined ? undefined : { index: i, count: n! };
  process.stdout.write(`${JSON.stringify(await measure(endpoint!, specsDir!, shard, Number(passes)))}\n`);
  process.exit(0);
}

const PASSES = Number(process.argv[2] ?? 5);
const { fixture, files, count } = fleet({
  projects: PROJECTS,
  regions: ["europe-west1"],
  perScope: PER_SCOPE,
});
const dir = await mkdtemp(join(tmpdir(), "capstan-bench-shards-"));
const specsDir = join(dir, "specs");
await mkdir(specsDir);
for (const [name, docs] of Object.entries(files)) await writeFile(join(specsDir, name), docs.join("---\n"));
await writeFile(join(dir, "fixture.json"), JSON.stringify(fixture));
const { endpoint, child } = await startSimProcess(join(dir, "fixture.json"));

function inChild(shard: string): Measured {
  const r = spawnSync(
    process.execPath,
    [
      ...SHIPPED!.split(/\s+/),
      ...(process.env["CAPSTAN_BENCH_PROFILE"] && shard === "all"
        ? ["--cpu-prof", "--cpu-prof-dir=/tmp/capstan-prof"]
        : []),
      import.meta.filename,
      "--child",
      endpoint,
      specsDir,
      shard,
      String(PASSES),
    ],
    { stdio: ["ignore", "pipe", "inherit"], maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`shard ${shard} failed with ${r.status}`);
  return JSON.parse(r.stdout.toString("utf8").trim().split("\n").at(-1)!) as Measured;
}

// CAPSTAN_BENCH_WHOLE=1 measures only the whole fleet in one process (with
// CAPSTAN_BENCH_PROFILE=1: under --cpu-prof, into /tmp/capstan-prof).
const whole = inChild("all");
const shards = process.env["CAPSTAN_BENCH_WHOLE"]
  ? []
  : Array.from({ length: SHARDS }, (_, i) => inChild(`${i}/${SHARDS}`));
child.kill("SIGTERM");
await rm(dir, { recursive: true, force: true });

const steadyCpu = (m: Measured) => median(m.cpuMs.slice(1));
const steadyWall = (m: Measured) => median(m.wallMs.slice(1));
const line = (m: Measured, share?: number) =>
  `  ${m.shard.padEnd(5)} ${String(m.projects).padStart(8)} ${String(m.resources).padStart(9)} ${String(m.callsPerPass).padStart(10)} ${`${(steadyCpu(m) / 1000).toFixed(2)} s`.padStart(9)} ${`${(steadyWall(m) / 1000).toFixed(2)} s`.padStart(9)} ${mb(m.rss).padStart(8)} ${mb(m.peakRss).padStart(9)}${share === undefined ? "" : `  ${share.toFixed(2)}×`}`;

console.log(
  `capstan run on ${count} resources over ${PROJECTS.length} projects, ${PASSES} passes each (NODE_OPTIONS="${SHIPPED}")`,
);
console.log(
  "  shard projects resources calls/pass  CPU/pass wall/pass      RSS  peak RSS  share of an even quarter (resources, CPU)",
);
console.log(line(whole));
if (shards.length === 0) {
  console.log(`  heap after the passes ${mb(whole.heap)}`);
  process.exit(0);
}
const quarter = count / SHARDS;
const cpuQuarter = shards.reduce((n, m) => n + steadyCpu(m), 0) / SHARDS;
for (const m of shards) {
  console.log(`${line(m, m.resources / quarter)}, ${(steadyCpu(m) / cpuQuarter).toFixed(2)}×`);
}
const worst = Math.max(...shards.map((m) => m.resources / quarter));
/** The largest shard's share of an even split when `n` projects are hashed like these. */
const spread = (n: number) => {
  const counts = new Array<number>(SHARDS).fill(0);
  for (let i = 0; i < n; i++) counts[shardOf(`acme-fleet-${String(i).padStart(4, "0")}`, SHARDS)]! += 1;
  return (Math.max(...counts) / (n / SHARDS)).toFixed(2);
};
console.log(
  `  one process: RSS ${mb(whole.rss)} (target < 300 MB), steady pass ${(steadyCpu(whole) / 1000).toFixed(2)} s of CPU (target < 5 s)`,
);
console.log(
  `  4 shards: the largest holds ${worst.toFixed(2)}× an even quarter of the resources (target ≤ 1.2×); projects per shard ${shards.map((m) => m.projects).join(", ")} (rendezvous: ${PROJECTS.map((p) => shardOf(p, SHARDS)).join("")})`,
);
console.log(
  `  the hash spreads projects evenly only in number: the largest of 4 shards would hold ${spread(100)}× an even share of 100 projects named alike, ${spread(1000)}× of 1,000`,
);
process.exit(0);
