import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ControllerStatus } from "../../src/controller/status.ts";
import type { RequestLogEntry, Simulator } from "../../src/sim/index.ts";
import { type Child, spawnCapstan } from "../helpers/capstan-process.ts";

/** CLUSTER_PROJECT is the project of the cluster tests' specs. */
export const CLUSTER_PROJECT = "acme-staging";

/** CLUSTER_SPECS: a Cloud SQL instance whose change restarts it, and a health check. */
export const CLUSTER_SPECS = {
  "capstan.yaml": `project: ${CLUSTER_PROJECT}\nregion: europe-west1\n`,
  "db.yaml": `apiVersion: capstan.dev/v1alpha1
kind: SqlInstance
metadata:
  name: main-db
spec:
  databaseFlags:
    max_connections: 200
  allowRestart: true
`,
  "hc.yaml": `apiVersion: capstan.dev/v1alpha1
kind: HealthCheck
metadata:
  name: a-hc
spec:
  checkIntervalSec: 15
`,
};

/** CLUSTER_FIXTURE is their live state before: the restart takes 60 s simulated. */
export const CLUSTER_FIXTURE = {
  // A restart of 60 s simulated (6 s real), so the kill lands while it runs.
  durations: { "sql.update": 10, "sql.restart": 60, "compute.update": 1 },
  sql: {
    instances: [
      {
        project: CLUSTER_PROJECT,
        name: "main-db",
        region: "europe-west1",
        databaseVersion: "POSTGRES_16",
        settings: { tier: "db-custom-2-7680", databaseFlags: [{ name: "max_connections", value: "100" }] },
      },
    ],
  },
  compute: {
    project: CLUSTER_PROJECT,
    healthChecks: [{ name: "a-hc", checkIntervalSec: 5, httpHealthCheck: { port: 8080 } }],
  },
  storage: { buckets: [{ name: "capstan-leases" }] },
};

/** LEASE_APIS are the simulated APIs a lease lives in; every other write is a GCP write. */
export const LEASE_APIS = new Set(["storage.googleapis.com", "coordination.k8s.io"]);
const TOKEN = "capstan-sim-token.";

/** ClusterOptions describe N `capstan run` processes sharing one lease on the simulator. */
export interface ClusterOptions {
  readonly sim: Simulator;
  readonly endpoint: string;
  readonly scheme: "gs" | "k8s";
  readonly dir: string;
  readonly specsDir: string;
  readonly timeScale: number;
  /** `capstan run` timing flags, in simulated seconds. */
  readonly leaseDurationS: number;
  readonly renewIntervalS: number;
  readonly intervalS: number;
}

/** Member is one process of the cluster. */
export interface Member {
  readonly index: number;
  readonly child: Child;
  /** Its lease identity, once it logged it. */
  identity: string | undefined;
  /** The principal its lease calls carry (its kubeconfig token for k8s://). */
  readonly leasePrincipal: () => string | undefined;
  alive: boolean;
}

/**
 * Cluster runs `capstan run` processes against one simulator with the same lease, the
 * way a Deployment (k8s://, each pod its own service account token) or Cloud Run
 * instances (gs://) do, each with its own state folder.
 */
export class Cluster {
  readonly members: Member[] = [];
  readonly #o: ClusterOptions;

  constructor(options: ClusterOptions) {
    this.#o = options;
  }

  get leaseUrl(): string {
    return this.#o.scheme === "gs" ? "gs://capstan-leases/cluster/lease" : "k8s://capstan/capstan-leader";
  }

  /** start spawns one more member. */
  async start(): Promise<Member> {
    const index = this.members.length;
    const o = this.#o;
    const env: NodeJS.ProcessEnv = {};
    const kubeToken = `${TOKEN}kube-${index}`;
    if (o.scheme === "k8s") {
      const kubeconfig = join(o.dir, `kubeconfig-${index}`);
      // The simulator is plain HTTP on loopback: the client allows that only with TLS checks off.
      await writeFile(
        kubeconfig,
        `apiVersion: v1
kind: Config
clusters: [{name: sim, cluster: {server: "${o.endpoint}", insecure-skip-tls-verify: true}}]
users: [{name: pod-${index}, user: {token: ${kubeToken}}}]
contexts: [{name: sim, context: {cluster: sim, user: pod-${index}}}]
current-context: sim
`,
      );
      env["KUBECONFIG"] = kubeconfig;
    }
    const state = join(o.dir, `state-${index}`);
    await mkdir(state, { recursive: true });
    const child = spawnCapstan(
      [
        "--endpoint",
        o.endpoint,
        "--time-scale",
        String(o.timeScale),
        "run",
        "--specs",
        o.specsDir,
        "--state-dir",
        state,
        "--lease",
        this.leaseUrl,
        "--lease-duration",
        // capstan reads lease timings as real time and stretches them by --time-scale.
        `${(o.leaseDurationS * 1000) / o.timeScale}ms`,
        "--renew-interval",
        `${(o.renewIntervalS * 1000) / o.timeScale}ms`,
        "--interval",
        `${o.intervalS}s`,
        "--jitter",
        "0",
        "--grace-period",
        "1m",
        "--port",
        "0",
        "--host",
        "127.0.0.1",
      ],
      { env },
    );
    const m: Member = {
      index,
      child,
      identity: undefined,
      leasePrincipal: () =>
        o.scheme === "k8s" ? kubeToken : m.identity ? `${TOKEN}${m.identity}` : undefined,
      alive: true,
    };
    void child.port.then(
      () => {
        m.identity = child.logs.find((l) => l["message"] === "serving status")?.["identity"] as string;
      },
      () => {},
    );
    void child.exited.then(() => {
      m.alive = false;
    });
    this.members.push(m);
    return m;
  }

  /** statuses reads every live member's `/status`; a member that does not answer is left out. */
  async statuses(): Promise<{ member: Member; status: ControllerStatus }[]> {
    const out = await Promise.all(
      this.members
        .filter((m) => m.alive)
        .map(async (member) => {
          try {
            const port = await Promise.race([member.child.port, Promise.reject(new Error("no port"))]);
            const res = await fetch(`http://127.0.0.1:${port}/status`, { signal: AbortSignal.timeout(2000) });
            return { member, status: (await res.json()) as ControllerStatus };
          } catch {
            return undefined;
          }
        }),
    );
    return out.filter((x) => x !== undefined);
  }

  /** leaders are the members whose `/status` says they lead. */
  async leaders(): Promise<Member[]> {
    return (await this.statuses()).filter((s) => s.status.instance.role === "leader").map((s) => s.member);
  }

  /** partition makes every lease call of a member fail with 503, its GCP calls untouched. */
  partition(m: Member): void {
    const principal = m.leasePrincipal();
    if (!principal) throw new Error(`member ${m.index} has no identity yet`);
    this.#o.sim.faults.add({
      match: { api: this.#o.scheme === "gs" ? "storage.googleapis.com" : "coordination.k8s.io", principal },
      error: { status: "UNAVAILABLE", message: "injected partition of the lease" },
    });
  }

  /** stop ends every member: SIGTERM, then SIGKILL for one that does not exit. */
  async stop(): Promise<void> {
    for (const m of this.members) if (m.alive) m.child.proc.kill("SIGTERM");
    const timeout = setTimeout(() => {
      for (const m of this.members) if (m.alive) m.child.proc.kill("SIGKILL");
    }, 15_000);
    await Promise.all(this.members.map((m) => m.child.exited));
    clearTimeout(timeout);
  }
}

/**
 * Sampler polls every member's `/status` until stopped and records the most leaders
 * seen in one sample.
 */
export class Sampler {
  maxLeaders = 0;
  samples = 0;
  readonly #done: Promise<void>;
  #stopped = false;

  constructor(cluster: Cluster, everyMs = 50) {
    this.#done = (async () => {
      while (!this.#stopped) {
        const leaders = await cluster.leaders();
        this.samples += 1;
        this.maxLeaders = Math.max(this.maxLeaders, leaders.length);
        await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/** Term is one holder's hold of the lease, as the lease store's log shows it. */
export interface Term {
  readonly term: number;
  readonly holder: string;
  /** Sequence number and simulated time of the write that started it. */
  readonly seq: number;
  readonly time: number;
}

/**
 * terms reads who held the lease from when, out of the simulator's request log: the
 * successful lease writes in order, each naming its holder and term in its body (a GCS
 * metadata patch, a Kubernetes Lease create or update). A release (empty holder) ends
 * a hold: nobody may write until the next term.
 */
export function terms(log: readonly RequestLogEntry[]): Term[] {
  const out: Term[] = [];
  for (const r of log) {
    if (!LEASE_APIS.has(r.api) || !r.write || r.status >= 300) continue;
    let holder: string | undefined;
    let term: number | undefined;
    if (r.rpc === "storage.objects.insert") {
      // The multipart create's body is not JSON: its caller is its holder, term 0.
      holder = r.principal?.startsWith(TOKEN) ? r.principal.slice(TOKEN.length) : undefined;
      term = 0;
    } else {
      // GCS: the custom metadata of a patch; Kubernetes: the Lease's spec.
      const rec = ((r.api === "coordination.k8s.io" ? r.body?.["spec"] : r.body?.["metadata"]) ??
        {}) as Record<string, unknown>;
      holder = rec["holderIdentity"] === undefined ? undefined : String(rec["holderIdentity"]);
      term = rec["leaseTransitions"] === undefined ? undefined : Number(rec["leaseTransitions"]);
    }
    if (holder === undefined || term === undefined) continue;
    const last = out.at(-1);
    if (last && last.holder === holder && last.term === term) continue;
    out.push({ term, holder, seq: r.seq, time: r.time });
  }
  return out;
}

/** gcpWrites are the real writes to GCP in the log (not the lease's, not validate-only). */
export function gcpWrites(log: readonly RequestLogEntry[]): RequestLogEntry[] {
  return log.filter(
    (r) =>
      r.write &&
      !LEASE_APIS.has(r.api) &&
      !r.query.includes("validateOnly=true") &&
      r.body?.["validateOnly"] !== true,
  );
}

/** writerOf is the instance identity of a GCP write's caller. */
export function writerOf(r: RequestLogEntry): string | undefined {
  return r.principal?.startsWith(TOKEN) ? r.principal.slice(TOKEN.length) : undefined;
}

/**
 * splitBrainWrites are the GCP writes made by anyone but the lease's holder at that
 * moment (the holder of the latest term started before the write reached the
 * simulator): a leader's write after it was taken over, or a standby's. Target: none.
 */
export function splitBrainWrites(log: readonly RequestLogEntry[]): RequestLogEntry[] {
  const held = terms(log);
  return gcpWrites(log).filter((w) => {
    const current = held.filter((t) => t.seq < w.seq).at(-1);
    return current?.holder !== writerOf(w);
  });
}
