/**
 * The chaos suite's lease mode (`npm run chaos -- --lease gs` or `--lease k8s`): three
 * `capstan run` processes share one lease on the simulator while a seeded schedule
 * kills the leader with SIGKILL (a fresh process replaces it), cuts the leader off the
 * lease (503 on its lease calls only) and heals it, throws 503 storms at everyone's lease
 * calls, and edits the live resources out of band. Then it lets them settle and judges:
 * - split-brain writes: GCP writes, in the simulator's request log, by anyone but the
 *   holder of the term in force when the write arrived (target 0);
 * - leaders: the most instances claiming to lead in one sample of every `/status`
 *   (target 1);
 * - the survivors converge: one leader, every resource up to date.
 */
import { join } from "node:path";
import type { RequestLogEntry } from "../../src/sim/index.ts";
import { readiness, tempDir, writeSpecs } from "../controller/harness.ts";
import { startSim } from "../helpers/sim.ts";
import {
  CLUSTER_FIXTURE,
  CLUSTER_PROJECT,
  CLUSTER_SPECS,
  Cluster,
  LEASE_APIS,
  type Member,
  Sampler,
  splitBrainWrites,
  terms,
} from "../lease/cluster.ts";
import { hex, Rng } from "./rng.ts";

/** Options of {@link runLeaseChaos}. */
export interface LeaseChaosOptions {
  readonly scheme: "gs" | "k8s";
  readonly seed: number;
  /** Faults in the schedule. @default 6 */
  readonly events?: number;
  /** @default 10 */
  readonly timeScale?: number;
  /** Called with each line of the run's log. */
  readonly onLine?: (line: string) => void;
}

/** LeaseChaosResult is what one lease-chaos run did and found. */
export interface LeaseChaosResult {
  readonly scheme: "gs" | "k8s";
  readonly seed: number;
  readonly injected: Readonly<Record<string, number>>;
  /** Changes of holder in the lease's log (a release is not one). */
  readonly takeovers: number;
  readonly splitBrain: readonly RequestLogEntry[];
  readonly maxLeaders: number;
  readonly samples: number;
  readonly converged: boolean;
  readonly log: readonly string[];
}

const LEASE_S = 30;
const RENEW_S = 3;

/** runLeaseChaos runs one seeded schedule of kills and lease faults against three processes. */
export async function runLeaseChaos(options: LeaseChaosOptions): Promise<LeaseChaosResult> {
  const scale = options.timeScale ?? 10;
  const rng = new Rng(options.seed);
  const log: string[] = [];
  const injected: Record<string, number> = {};
  const t = await tempDir(`capstan-lease-chaos-${options.scheme}-`);
  const h = await startSim(CLUSTER_FIXTURE, { timeScale: scale });
  const sim = h.sim;
  const say = (line: string) => {
    const entry = `[${((sim.clock.now() - start) / 1000).toFixed(1).padStart(6)}s] ${line}`;
    log.push(entry);
    options.onLine?.(entry);
  };
  const start = sim.clock.now();
  const specsDir = join(t.dir, "specs");
  await writeSpecs(specsDir, CLUSTER_SPECS);
  const cluster = new Cluster({
    sim,
    endpoint: h.endpoint,
    scheme: options.scheme,
    dir: t.dir,
    specsDir,
    timeScale: scale,
    leaseDurationS: LEASE_S,
    renewIntervalS: RENEW_S,
    intervalS: 10,
  });
  /** Simulated seconds, waited in real time. */
  const pause = (s: number) => new Promise((r) => setTimeout(r, (s * 1000) / scale));
  const count = (k: string) => {
    injected[k] = (injected[k] ?? 0) + 1;
  };
  const until = async (what: string, ok: () => Promise<boolean>, simSeconds: number): Promise<boolean> => {
    const deadline = Date.now() + (simSeconds * 1000) / scale + 5_000;
    while (Date.now() < deadline) {
      if (await ok()) return true;
      await pause(1);
    }
    say(`gave up waiting for ${what}`);
    return false;
  };
  const leader = async (): Promise<Member | undefined> => {
    const l = await cluster.leaders();
    return l.length === 1 ? l[0] : undefined;
  };
  let sampler: Sampler | undefined;
  let converged = false;
  try {
    for (let i = 0; i < 3; i++) await cluster.start();
    sampler = new Sampler(cluster);
    await until("a first leader", async () => (await leader()) !== undefined, 120);
    for (let e = 0; e < (options.events ?? 6); e++) {
      await pause(rng.int(2, 12));
      const kind = rng.weighted({ kill: 3, partition: 3, storm: 2, drift: 2 });
      // A kill or a partition is of the leader: wait for one after the last fault.
      let l = await leader();
      if (!l && (kind === "kill" || kind === "partition")) {
        await until(
          "a leader",
          async () => {
            l = await leader();
            return l !== undefined;
          },
          LEASE_S + 2 * RENEW_S,
        );
      }
      switch (kind) {
        case "kill": {
          if (!l) break;
          count("kill");
          say(`kill -9 leader ${l.identity}`);
          l.child.proc.kill("SIGKILL");
          await l.child.exited;
          await cluster.start();
          break;
        }
        case "partition": {
          if (!l) break;
          count("partition");
          const s = rng.int(5, LEASE_S + 2 * RENEW_S);
          say(`cut leader ${l.identity} off the lease for ${s}s`);
          cluster.partition(l);
          await pause(s);
          sim.faults.clear();
          say("healed");
          break;
        }
        case "storm": {
          count("storm");
          const s = rng.int(2, 25);
          say(`503 storm on every lease call for ${s}s`);
          sim.faults.add({
            match: { api: options.scheme === "gs" ? "storage.googleapis.com" : "coordination.k8s.io" },
            error: { status: "UNAVAILABLE", message: "injected lease storm" },
          });
          await pause(s);
          sim.faults.clear();
          break;
        }
        case "drift": {
          count("drift");
          say("out-of-band edit of a-hc");
          sim.edit("compute", {
            kind: "healthCheck",
            name: `projects/${CLUSTER_PROJECT}/global/healthChecks/a-hc`,
            patch: { checkIntervalSec: rng.int(6, 12) },
          });
          break;
        }
      }
    }
    sim.faults.clear();
    converged = await until(
      "convergence",
      async () => {
        const statuses = await cluster.statuses();
        const leaders = statuses.filter((s) => s.status.instance.role === "leader");
        return (
          leaders.length === 1 &&
          leaders[0]!.status.resources.length > 0 &&
          leaders[0]!.status.resources.every((r) => readiness(r) === "True/UpToDate")
        );
      },
      LEASE_S * 4 + 120,
    );
  } finally {
    await sampler?.stop();
    await cluster.stop();
  }
  const requests = sim.requests();
  const held = terms(requests).filter((x) => x.holder !== "");
  const takeovers = held.filter((x, i) => i > 0 && x.holder !== held[i - 1]!.holder).length;
  const splitBrain = splitBrainWrites(requests);
  say(
    `${requests.filter((r) => LEASE_APIS.has(r.api)).length} lease calls, ${held.length} term(s), ${takeovers} takeover(s), ${splitBrain.length} split-brain write(s)`,
  );
  await h.close();
  await t.remove();
  return {
    scheme: options.scheme,
    seed: options.seed,
    injected,
    takeovers,
    splitBrain,
    maxLeaders: sampler?.maxLeaders ?? 0,
    samples: sampler?.samples ?? 0,
    converged,
    log,
  };
}

/** formatLeaseChaos prints one lease-chaos run's summary. */
export function formatLeaseChaos(r: LeaseChaosResult): string {
  const faults = Object.entries(r.injected)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const lines = [
    "",
    `lease chaos summary (${r.scheme}://, seed ${hex(r.seed)}, 3 processes)`,
    `  faults injected:   ${faults || "none"}`,
    `  takeovers:         ${r.takeovers}`,
    `  split-brain writes: ${r.splitBrain.length} (target 0)`,
    `  most leaders seen: ${r.maxLeaders} in ${r.samples} samples of every /status (target 1)`,
    `  converged:         ${r.converged ? "yes" : "no"}`,
  ];
  for (const w of r.splitBrain.slice(0, 10)) {
    lines.push(`    #${w.seq} ${w.method} ${w.path} by ${w.principal}`);
  }
  return `${lines.join("\n")}\n`;
}
