// The dashboard's memory over a long run: 1,000 passes of `capstan run`, each finding and
// correcting drift (an out-of-band edit of one of 50 health checks before every pass), so
// every pass feeds the dashboard a handful of events (drift, step started and done, the
// rollout, the applied condition, the pass), with the dashboard open through one SSE
// client on /events/stream and the page loaded every 100 passes. Prints the events
// produced and kept, what the SSE client received, and RSS and heap after 1 to 1,000
// passes, each after a full collection; then the same run without the dashboard, in a
// process of its own, for the ratio. The simulator runs in a child process so its memory
// is not counted.
// Run: node bench/dashboard.ts [passes]
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { GateHistoryCache } from "../src/apply/gate-history.ts";
import { simulatorTime } from "../src/cli/runtime.ts";
import { ScaledClock } from "../src/clock/index.ts";
import { Controller } from "../src/controller/controller.ts";
import { StatusServer } from "../src/controller/http.ts";
import { DirSource } from "../src/controller/source.ts";
import { Dashboard, DashboardFeed } from "../src/dashboard/index.ts";
import { gcpAccess } from "../src/gcp/access.ts";
import { GcpCaller } from "../src/gcp/call.ts";
import { createClients } from "../src/gcp/clients.ts";
import { RateLimiter } from "../src/gcp/ratelimit.ts";
import { FileLeaseStore, LeaderElector } from "../src/lease/index.ts";
import { RECONCILERS } from "../src/reconcilers/index.ts";
import { startSimProcess } from "./lib/fleet.ts";

const MODE = process.argv[2] === "--mode" ? process.argv[3] : undefined;
const PASSES = Number((MODE ? process.argv[4] : process.argv[2]) ?? 1000);
const P = "acme-bench";
const CHECKS = 50;
const SCALE = 1000;
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** Measures one mode in this process and prints one JSON line. */
async function measure(withDashboard: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "capstan-bench-dashboard-"));
  const specs = join(dir, "specs");
  await mkdir(specs);
  const names = Array.from({ length: CHECKS }, (_, i) => `hc-${i}`);
  await writeFile(join(specs, "capstan.yaml"), `project: ${P}\n`);
  await writeFile(
    join(specs, "checks.yaml"),
    names
      .map(
        (n) =>
          `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: ${n}\nspec:\n  checkIntervalSec: 10\n  timeoutSec: 5\n`,
      )
      .join("---\n"),
  );
  const fixture = {
    durations: { "compute.update": 8 },
    compute: {
      project: P,
      healthChecks: names.map((name) => ({
        name,
        checkIntervalSec: 10,
        timeoutSec: 5,
        httpHealthCheck: { port: 8080, requestPath: "/healthz" },
      })),
    },
  };
  await writeFile(join(dir, "fixture.json"), JSON.stringify(fixture));
  const { endpoint, child } = await startSimProcess(join(dir, "fixture.json"), [
    "--time-scale",
    String(SCALE),
  ]);
  const epoch = (await simulatorTime(endpoint))?.now;
  const clock = new ScaledClock({ scale: SCALE, ...(epoch === undefined ? {} : { epoch }) });
  const clients = createClients({ endpoint });
  const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
  const feed = withDashboard ? new DashboardFeed({ clock }) : undefined;
  const controller = new Controller({
    source: new DirSource({ paths: [specs] }),
    gcp,
    reconcilers: RECONCILERS,
    clock,
    gates: async () => undefined,
    lease: new LeaderElector({ store: new FileLeaseStore({ path: join(dir, "lease.json") }), clock }),
    observer: feed?.observer,
  });
  if (!(await controller.settleLease())) throw new Error("could not take the lease");
  const dashboard = feed
    ? new Dashboard({
        feed,
        status: () => controller.status(),
        history: new GateHistoryCache({ gcp, clock }),
        clock,
      })
    : undefined;
  const server = new StatusServer({ source: controller, port: 0, host: "127.0.0.1", routes: dashboard });
  const base = `http://127.0.0.1:${await server.listen()}`;

  // The dashboard open: one SSE client reading the stream as a browser does.
  let sseEvents = 0;
  let sseBytes = 0;
  const abort = new AbortController();
  const reading = withDashboard
    ? fetch(`${base}/events/stream?since=0`, { signal: abort.signal })
        .then(async (res) => {
          const reader = res.body!.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return;
            sseBytes += value.byteLength;
            sseEvents += (decoder.decode(value).match(/^event: event$/gm) ?? []).length;
          }
        })
        .catch(() => {})
    : Promise.resolve();

  const memory: Record<number, { rss: number; heap: number }> = {};
  let pageBytes = 0;
  const t0 = performance.now();
  for (let i = 1; i <= PASSES; i++) {
    // Drift: someone changes one health check in the console before each pass.
    const edit = await fetch(`${endpoint}/__sim/edit`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        service: "compute",
        kind: "healthCheck",
        name: `projects/${P}/global/healthChecks/${names[i % CHECKS]}`,
        patch: { checkIntervalSec: 30 },
      }),
    });
    if (!edit.ok) throw new Error(`edit failed: ${edit.status} ${await edit.text()}`);
    const summary = await controller.pass();
    if (i > 1 && summary.outcome !== "converged")
      throw new Error(`pass ${i}: ${summary.outcome}: ${summary.message}`);
    if (withDashboard && i % 100 === 0) pageBytes = (await (await fetch(`${base}/`)).text()).length;
    if ([1, 10, 100, 250, 500, 750, 1000].includes(i) || i === PASSES) {
      gc();
      const m = process.memoryUsage();
      memory[i] = { rss: m.rss, heap: m.heapUsed };
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  // Let the client read what is still on its way before hanging up.
  for (let i = 0; withDashboard && i < 100 && sseEvents < (feed?.latestSeq ?? 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  abort.abort();
  await reading;
  await server.close();
  await clients.close();
  child.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
  const drifted = controller.status().resources.reduce((n, r) => n + r.driftCount, 0);
  process.stdout.write(
    `${JSON.stringify({
      memory,
      seconds,
      drifted,
      events: feed?.latestSeq ?? 0,
      kept: feed?.events().length ?? 0,
      capacity: feed?.capacity ?? 0,
      rollouts: feed?.rollouts.length ?? 0,
      sseEvents,
      sseBytes,
      pageBytes,
    })}\n`,
  );
}

if (MODE) {
  await measure(MODE === "dashboard");
} else {
  const results: Record<string, ReturnType<typeof JSON.parse>> = {};
  for (const mode of ["dashboard", "none"]) {
    const r = spawnSync(process.execPath, [import.meta.filename, "--mode", mode, String(PASSES)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (r.status !== 0) throw new Error(`${mode} run failed`);
    results[mode] = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  }
  const d = results["dashboard"];
  const n = results["none"];
  console.log(`capstan run, ${CHECKS} health checks, ${PASSES} passes, drift corrected on every pass`);
  console.log(
    `  dashboard: ${d.events} events produced, ${d.kept} kept (ring of ${d.capacity}), ${d.rollouts} rollout records kept`,
  );
  console.log(
    `  SSE client: ${d.sseEvents} of the ${d.events} events received (${mb(d.sseBytes)}); the page: ${(d.pageBytes / 1024).toFixed(0)} KiB`,
  );
  console.log(`  drift found and corrected: ${d.drifted} (dashboard) / ${n.drifted} (without)`);
  console.log("  after pass   RSS with dashboard + SSE   heap      RSS without   heap");
  for (const pass of Object.keys(d.memory)) {
    const a = d.memory[pass];
    const b = n.memory[pass];
    console.log(
      `  ${pass.padStart(10)}   ${mb(a.rss).padStart(24)}   ${mb(a.heap).padStart(8)}   ${mb(b.rss).padStart(11)}   ${mb(b.heap).padStart(7)}`,
    );
  }
  const last = String(PASSES);
  const from = PASSES >= 100 ? "100" : "10";
  const growth = (m: Record<string, { heap: number }>) => m[last]!.heap - m[from]!.heap;
  console.log(
    `  heap growth from pass ${from} to ${PASSES}: ${mb(growth(d.memory))} with the dashboard, ${mb(growth(n.memory))} without; ` +
      `RSS with/without at pass ${PASSES}: ${(d.memory[last].rss / n.memory[last].rss).toFixed(2)}`,
  );
  console.log(`  wall time: ${d.seconds.toFixed(1)} s with, ${n.seconds.toFixed(1)} s without`);
}
