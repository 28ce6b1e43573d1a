// `capstan run` in steady state: 1,000 resources (700 Cloud Run services, 100 Cloud SQL
// instances, 100 VPC connectors, 100 backend services over 2 projects × 2 regions), all
// already as their specs say. Drives 100 passes of the controller (load, observe, diff,
// plan, decide, nothing to execute) and prints:
// - API calls per pass, by method (target: list calls and their pages only), the same
//   for a 250-resource fleet (target: the same calls, however many resources), and any
//   non-list call with the file and line that makes it;
// - CPU time per pass of the capstan process (the simulator runs in a child process so
//   its work is not counted);
// - RSS and heap after 1 to 100 passes, run back to back (target: flat, under 200 MB),
//   each pass followed, as in `capstan run`, by a memory-reducing collection
//   (src/controller/memory.ts), and the peak RSS during passes; twice: with the
//   NODE_OPTIONS the Dockerfile ships (heap limits for the 512 MiB container of
//   deploy/), and with V8's defaults for this host, which size the heap from the
//   machine's memory (nodejs/node#27508). capstan turns off gax's own per-call deadline
//   timers, which kept every finished call's request and response reachable for 60 s
//   (600 s for Compute) and piled up ~10 MB a pass here (see gaxCallOptions in
//   src/gcp/call.ts);
// - calls per hour at the default 5-minute interval against Config Connector's default
//   of one read per resource every ~10 minutes
//   (https://cloud.google.com/config-connector/docs/concepts/reconciliation: each
//   resource is reconciled after a jittered default interval; 600 s, see
//   GoogleCloudPlatform/k8s-config-connector#315).
// Run: node bench/run-steady.ts [passes]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ScaledClock } from "../src/clock/index.ts";
import { Controller } from "../src/controller/controller.ts";
import { releaseMemory } from "../src/controller/memory.ts";
import { ControllerMetrics } from "../src/controller/metrics.ts";
import { DirSource } from "../src/controller/source.ts";
import { gcpAccess } from "../src/gcp/access.ts";
import { GcpCaller } from "../src/gcp/call.ts";
import { createClients } from "../src/gcp/clients.ts";
import { RateLimiter } from "../src/gcp/ratelimit.ts";
import { FileLeaseStore, LeaderElector } from "../src/lease/index.ts";
import { buildPlan } from "../src/plan/build.ts";
import { RECONCILERS } from "../src/reconcilers/index.ts";
import { loadSpecs } from "../src/spec/load.ts";
import {
  fleet as makeFleet,
  type PerScope,
  startSimProcess,
  timedPass,
  UNLIMITED_APIS,
} from "./lib/fleet.ts";

// `--fleet NAME PASSES` measures one fleet in this process and prints JSON; without it the
// script runs each fleet in a process of its own (so RSS figures do not mix) and reports.
const FLEET = process.argv[2] === "--fleet" ? process.argv[3] : undefined;
const PASSES = Number((FLEET ? process.argv[4] : process.argv[2]) ?? 100);
const ROOT = join(import.meta.dirname, "..");
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
gc();
const rssAtStart = process.memoryUsage().rss;

const PROJECTS = ["acme-prod-eu", "acme-prod-us"];
const REGIONS = ["europe-west1", "us-central1"];
const fleet = (perScope: PerScope) => makeFleet({ projects: PROJECTS, regions: REGIONS, perScope });

/** Where a method is called from, as `file:line`, to name any per-resource read. */
function whereCalled(method: string): string[] {
  const out: string[] = [];
  for (const dir of ["src/reconcilers", "src/gcp", "src/apply"]) {
    for (const f of readdirSync(join(ROOT, dir))) {
      if (!f.endsWith(".ts") || f.endsWith(".test.ts")) continue;
      readFileSync(join(ROOT, dir, f), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (line.includes(`method: "${method}"`)) out.push(`${dir}/${f}:${i + 1}`);
        });
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

async function measure(perScope: PerScope, passes: number) {
  const { fixture, files, count } = fleet(perScope);
  const dir = await mkdtemp(join(tmpdir(), "capstan-bench-run-"));
  const specsDir = join(dir, "specs");
  await mkdir(specsDir);
  for (const [name, docs] of Object.entries(files)) await writeFile(join(specsDir, name), docs.join("---\n"));
  await writeFile(join(dir, "fixture.json"), JSON.stringify(fixture));
  const { endpoint, child } = await startSimProcess(join(dir, "fixture.json"));
  const clock = new ScaledClock();
  const clients = createClients({ endpoint });
  gc();
  const withClients = process.memoryUsage();
  const limiter = new RateLimiter({ clock, limits: UNLIMITED_APIS });
  const metrics = new ControllerMetrics({ processMetrics: false });
  let perPass = new Map<string, number>();
  const caller = new GcpCaller({
    clock,
    limiter,
    observer: (meta, outcome) => {
      metrics.observer(meta, outcome);
      const key = `${meta.api.replace(".googleapis.com", "")} ${meta.method}`;
      perPass.set(key, (perPass.get(key) ?? 0) + 1);
    },
  });
  const gcp = gcpAccess(clients, caller);
  const controller = new Controller({
    source: new DirSource({ paths: [specsDir] }),
    gcp,
    reconcilers: RECONCILERS,
    clock,
    gates: async () => undefined,
    lease: new LeaderElector({ store: new FileLeaseStore({ path: join(dir, "lease.json") }), clock }),
    metrics,
    stateFile: join(dir, "state.json"),
    // As `capstan run` does (src/cli/run.ts): give back what each pass used.
    afterPass: releaseMemory,
  });
  if (!(await controller.settleLease())) throw new Error("could not take the lease");

  const calls: Map<string, number>[] = [];
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  const memory = new Map<number, { rss: number; heap: number; heapTotal: number; external: number }>();
  for (let i = 1; i <= passes; i++) {
    perPass = new Map();
    const t = await timedPass(controller, `pass ${i}`);
    cpuMs.push(t.cpuMs);
    wallMs.push(t.wallMs);
    calls.push(perPass);
    if ([1, 10, 25, 50, 75, 100].includes(i) || i === passes) {
      gc();
      const m = process.memoryUsage();
      memory.set(i, { rss: m.rss, heap: m.heapUsed, heapTotal: m.heapTotal, external: m.external });
    }
  }
  const status = controller.status();
  const ready = status.resources.filter(
    (r) => r.conditions.find((c) => c.type === "Ready")?.status === "True",
  ).length;

  // For comparison: a `capstan plan` of the same fleet runs every reconciler's server-side
  // checks on every resource, changed or not.
  perPass = new Map();
  const specs = await loadSpecs([specsDir]);
  await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
  const planCalls = perPass;

  await clients.close();
  child.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
  return {
    count,
    calls: calls.map((m) => Object.fromEntries(m)),
    cpuMs,
    wallMs,
    memory: Object.fromEntries(memory),
    ready,
    planCalls: Object.fromEntries(planCalls),
    rssAtStart,
    withClients: { rss: withClients.rss, heap: withClients.heapUsed },
    peakRss: process.resourceUsage().maxRSS * 1024,
  };
}

type Measured = Awaited<ReturnType<typeof measure>>;

const FLEETS = {
  big: { size: { run: 175, sql: 25, vpc: 25, bs: 25 }, passes: PASSES },
  small: { size: { run: 44, sql: 6, vpc: 6, bs: 6 }, passes: Math.min(10, PASSES) },
};

/** The V8 options the image runs capstan with: the Dockerfile's `ENV NODE_OPTIONS`. */
const SHIPPED = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1];
if (!SHIPPED) throw new Error("the Dockerfile sets no NODE_OPTIONS");

if (FLEET) {
  const f = FLEETS[FLEET as keyof typeof FLEETS];
  if (!f) throw new Error(`unknown fleet ${FLEET}`);
  process.stdout.write(`${JSON.stringify(await measure(f.size, f.passes))}\n`);
  process.exit(0);
}

function inChild(name: keyof typeof FLEETS, v8Options: readonly string[] = []): Measured {
  const r = spawnSync(
    process.execPath,
    [...v8Options, import.meta.filename, "--fleet", name, String(PASSES)],
    {
      stdio: ["ignore", "pipe", "inherit"],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (r.status !== 0) throw new Error(`fleet ${name} failed with ${r.status}`);
  return JSON.parse(r.stdout.toString("utf8").trim().split("\n").at(-1)!) as Measured;
}

const asMap = (o: Record<string, number>) => new Map(Object.entries(o));
const shipped0 = inChild("big", SHIPPED.split(/\s+/));
const big0 = inChild("big");
const small0 = inChild("small");
const big = {
  ...big0,
  calls: big0.calls.map(asMap),
  planCalls: asMap(big0.planCalls),
};
const small = { ...small0, calls: small0.calls.map(asMap) };

const steady = big.calls.slice(1);
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const callsPerPass = median(steady.map(total));
const methods = new Map<string, number>();
for (const m of steady) for (const [k, v] of m) methods.set(k, Math.max(methods.get(k) ?? 0, v));
const nonList = [...methods.keys()].filter((k) => !/\.list$|\blist[A-Z]\w*$/.test(k.split(" ")[1]!));
const smallPerPass = median(small.calls.slice(1).map(total));

console.log(`capstan run, steady state: ${big.count} resources, no drift, ${PASSES} passes`);
console.log(`  resources Ready           ${big.ready} of ${big.count}`);
console.log(
  `  API calls per pass        ${callsPerPass} (min ${Math.min(...steady.map(total))}, max ${Math.max(...steady.map(total))})`,
);
for (const [k, v] of [...methods].sort((a, b) => b[1] - a[1]))
  console.log(`      ${String(v).padStart(5)}  ${k}`);
console.log(
  `  same, ${small.count} resources     ${smallPerPass} per pass (the difference is list pages only: ${
    small.calls.slice(1)[0] ? [...small.calls.slice(1)[0]!].map(([k, v]) => `${k} ${v}`).join(", ") : ""
  })`,
);
if (nonList.length === 0) console.log("  non-list calls            none (target: none)");
else {
  console.log("  NON-LIST CALLS in a pass without changes (per-resource reads):");
  for (const k of nonList)
    console.log(
      `      ${k}: ${methods.get(k)} per pass, at ${whereCalled(k.split(" ")[1]!).join(", ") || "?"}`,
    );
}
const planTotal = total(big.planCalls);
const planNonList = [...big.planCalls].filter(([k]) => !/\.list$|\blist[A-Z]\w*$/.test(k.split(" ")[1]!));
console.log(
  `  capstan plan, same fleet  ${planTotal} calls; beyond lists: ${
    planNonList.length
      ? planNonList.map(([k, v]) => `${k} ${v} (${whereCalled(k.split(" ")[1]!).join(", ")})`).join("; ")
      : "none"
  }`,
);
console.log(
  `    (the controller runs server-side checks only for resources with changes, so a steady pass skips them)`,
);
console.log(
  `  CPU per pass              median ${median(big.cpuMs.slice(1)).toFixed(0)} ms, p95 ${p95(big.cpuMs.slice(1)).toFixed(0)} ms (first pass ${big.cpuMs[0]!.toFixed(0)} ms)`,
);
console.log(`  wall time per pass        median ${median(big.wallMs.slice(1)).toFixed(0)} ms`);
const memoryLines = (label: string, m: Measured) => {
  const at = Object.entries(m.memory);
  console.log(`  ${label}`);
  console.log(`      RSS                   ${at.map(([i, x]) => `${i}: ${mb(x.rss)}`).join(", ")}`);
  console.log(`      heap used             ${at.map(([i, x]) => `${i}: ${mb(x.heap)}`).join(", ")}`);
  const first = m.memory["1"];
  const last = m.memory[String(PASSES)];
  if (first && last && PASSES > 1)
    console.log(
      `      heap kept per pass    ${((last.heap - first.heap) / (PASSES - 1) / 1024).toFixed(1)} KB`,
    );
  console.log(
    `      peak RSS              ${mb(m.peakRss)} (during a pass, before its memory is given back)`,
  );
  console.log(
    `      before the first pass libraries loaded: RSS ${mb(m.rssAtStart)}; clients made: RSS ${mb(m.withClients.rss)}, heap ${mb(m.withClients.heap)}`,
  );
};
console.log(
  "  memory after N passes, back to back, each followed by capstan run's memory release (target: flat, RSS < 200 MB)",
);
memoryLines(`as shipped (NODE_OPTIONS="${SHIPPED}")`, shipped0);
memoryLines("V8 defaults for this host", big0);
const perHour = (3600 / 300) * callsPerPass;
const jittered = (3600 / (300 * 1.05)) * callsPerPass;
const kcc = big.count * (3600 / 600);
console.log(
  `  calls per hour            capstan at 5m ±10% jitter: ~${Math.round(jittered)} (${Math.round(perHour)} without jitter)`,
);
console.log(
  `                            Config Connector default (1 read/resource/10 min): ${kcc} — ${(kcc / jittered).toFixed(0)}× more`,
);
process.exit(0);
