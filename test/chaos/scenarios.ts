/**
 * Chaos scenarios: what a run starts from (a simulator fixture) and what it converges to
 * (a spec set). The Golden Path is the staging remediation exactly as committed; random
 * spec sets start from a base (staging or the examples) and draw new desired values
 * within the platform's ranges, some of which the capacity model must refuse. Every
 * fixture is seeded with sentinels the specs do not manage, which must survive the run.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { defaultMaxConnections, sqlFlagLimits } from "../../src/gcp/catalog/sql.ts";
import { connectorCapacityMbps } from "../../src/gcp/catalog/vpcaccess.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { loadSpecs, parseSpecSet } from "../../src/spec/load.ts";
import type { SpecSet } from "../../src/spec/types.ts";
import { hex, type Rng } from "./rng.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** BaseName names a base a scenario is drawn from. */
export type BaseName = "staging" | "examples";

/** BASES are the committed spec directories and the live fixtures behind them. */
const BASES: Readonly<Record<BaseName, { readonly specs: string; readonly fixture: string }>> = {
  staging: { specs: "specs/staging", fixture: "fixtures/staging-degraded.yaml" },
  examples: { specs: "specs/examples", fixture: "test/fixtures/e2e/examples-live.yaml" },
};

/** POOL_ENV is the env var both bases' services read their connection pool size from. */
export const POOL_ENV = "DB_POOL_SIZE";

/** SENTINEL_FLAG is a database flag no spec of any base manages; it must survive every run. */
export const SENTINEL_FLAG = "log_lock_waits";

/** Scenario is one run's starting point and target. */
export interface Scenario {
  /** `golden-path`, or `random/<base>`. */
  readonly name: string;
  readonly base: BaseName;
  readonly fixture: Fixture;
  readonly specs: SpecSet;
  /** What was drawn, for the run's log: `field=value` per changed desired value. */
  readonly drawn: readonly string[];
}

// biome-ignore lint/suspicious/noExplicitAny: spec documents are YAML trees edited in place.
type Doc = Record<string, any>;

interface SpecFile {
  readonly file: string;
  readonly docs: Doc[];
}

async function readBase(base: BaseName): Promise<SpecFile[]> {
  const dir = join(ROOT, BASES[base].specs);
  const out: SpecFile[] = [];
  for (const file of (await readdir(dir)).sort()) {
    if (!file.endsWith(".yaml") || file === "capstan.yaml") continue;
    const text = await readFile(join(dir, file), "utf8");
    out.push({ file, docs: parseAllDocuments(text).map((d) => d.toJS() as Doc) });
  }
  return out;
}

/**
 * withSentinels returns the fixture with values no spec manages added to every resource
 * that can carry them: a label and an env var on each Cloud Run service, a user label and
 * a database flag on each SQL instance, a description on each backend service and health
 * check. (Connectors already carry their network and range, which no spec may touch.)
 */
export function withSentinels(fixture: Fixture, seed: number): Fixture {
  const f = structuredClone(fixture) as Record<string, Doc>;
  const tag = `s${hex(seed).slice(2)}`;
  for (const s of (f["run"]?.["services"] ?? []) as Doc[]) {
    s["labels"] = { ...(s["labels"] ?? {}), "chaos-sentinel": tag };
    const c = s["template"]?.["containers"]?.[0];
    if (c) c["env"] = [...(c["env"] ?? []), { name: "CHAOS_SENTINEL", value: tag }];
  }
  for (const i of (f["sql"]?.["instances"] ?? []) as Doc[]) {
    i["settings"] ??= {};
    i["settings"]["userLabels"] = { ...(i["settings"]["userLabels"] ?? {}), "chaos-sentinel": tag };
    i["settings"]["databaseFlags"] = [
      ...(i["settings"]["databaseFlags"] ?? []),
      { name: SENTINEL_FLAG, value: "on" },
    ];
  }
  for (const key of ["backendServices", "healthChecks"]) {
    for (const r of (f["compute"]?.[key] ?? []) as Doc[]) r["description"] = `chaos sentinel ${tag}`;
  }
  return f as Fixture;
}

/**
 * slowDurations returns the fixture with the named operation types taking `factor` times
 * as long (slow operations; a factor large enough outlasts capstan's operation timeout).
 */
export function slowDurations(fixture: Fixture, slow: Readonly<Record<string, number>>): Fixture {
  const durations = { ...(fixture.durations ?? {}) };
  for (const [type, factor] of Object.entries(slow)) {
    durations[type] = Math.round((durations[type] ?? DEFAULT_DURATIONS[type] ?? 30) * factor);
  }
  return { ...fixture, durations };
}

/** DEFAULT_DURATIONS are the simulator's defaults, for operation types a fixture does not name. */
const DEFAULT_DURATIONS: Readonly<Record<string, number>> = {
  "run.deploy": 30,
  "sql.update": 30,
  "sql.restart": 180,
  "vpcaccess.update": 120,
  "compute.update": 8,
};

/** OPERATION_TYPES are the operation types a slow-operation fault can stretch. */
export const OPERATION_TYPES: readonly string[] = Object.keys(DEFAULT_DURATIONS);

/** goldenPath is fixtures/staging-degraded.yaml and specs/staging/ exactly as committed. */
export async function goldenPath(): Promise<Scenario> {
  const specs = await loadSpecs([join(ROOT, BASES.staging.specs)], { cwd: ROOT });
  const fixture = await loadFixture(join(ROOT, BASES.staging.fixture));
  return { name: "golden-path", base: "staging", fixture, specs, drawn: [] };
}

/**
 * randomScenario draws a spec set from a base: new desired values for Cloud Run scaling,
 * concurrency, timeouts, startup probe and connect timeout, SQL tier and flags within the
 * catalog's ranges, connector capacity (upward only, as GCP allows in place), load
 * balancer and health check settings. Most draws are made to fit the capacity policy;
 * the rest are free, so some spec sets break an invariant and must be refused.
 */
export async function randomScenario(rng: Rng, base: BaseName): Promise<Scenario> {
  const files = await readBase(base);
  const fixture = await loadFixture(join(ROOT, BASES[base].fixture));
  const all = files.flatMap((f) => f.docs);
  const find = (kind: string) => all.find((d) => d["kind"] === kind);
  const drawn: string[] = [];
  const set = (doc: Doc, path: string[], value: unknown) => {
    let o = doc["spec"] as Doc;
    for (const k of path.slice(0, -1)) o = o[k] ??= {};
    o[path.at(-1)!] = value;
    drawn.push(`${doc["kind"]}/${doc["metadata"]["name"]} ${path.join(".")}=${JSON.stringify(value)}`);
  };
  const policy = find("CapacityPolicy")?.["spec"] as Doc;
  const member = policy["members"][0] as Doc;
  const live = fixture as Record<string, Doc>;

  // Providers first: what the service may then consume.
  const sql = find("SqlInstance");
  let maxConnections = 100;
  if (sql) {
    const liveTier = String(live["sql"]?.["instances"]?.[0]?.["settings"]?.["tier"] ?? "db-custom-2-7680");
    const tier = rng.chance(0.3)
      ? rng.pick(["db-custom-1-3840", "db-custom-2-7680", "db-custom-4-15360"])
      : String(sql["spec"]["tier"] ?? liveTier);
    if (tier !== sql["spec"]["tier"]) set(sql, ["tier"], tier);
    maxConnections = defaultMaxConnections(tier) ?? 100;
    if (rng.chance(0.7)) {
      maxConnections = rng.int(40, 400);
      set(sql, ["databaseFlags", "max_connections"], maxConnections);
    } else if (sql["spec"]["databaseFlags"]?.["max_connections"] !== undefined) {
      maxConnections = Number(sql["spec"]["databaseFlags"]["max_connections"]);
    }
    if (rng.chance(0.4)) {
      const limits = sqlFlagLimits("shared_buffers", tier)!;
      set(sql, ["databaseFlags", "shared_buffers"], rng.int(limits.min, limits.max));
    }
    if (rng.chance(0.4)) {
      set(sql, ["databaseFlags", "idle_in_transaction_session_timeout"], rng.int(0, 600) * 1000);
    }
  }
  const connector = find("VpcConnector");
  let throughput = Number.POSITIVE_INFINITY;
  if (connector) {
    const liveConnector = live["vpcaccess"]?.["connectors"]?.[0] as Doc;
    const liveMax = Number(liveConnector?.["maxInstances"] ?? 3);
    // Instance counts only grow in place; shrinking needs a replacement capstan never does.
    const max = rng.chance(0.7) ? rng.int(liveMax, 10) : Number(connector["spec"]["maxInstances"] ?? liveMax);
    if (max !== connector["spec"]["maxInstances"]) set(connector, ["maxInstances"], max);
    const machine = rng.chance(0.15)
      ? "e2-standard-4"
      : String(connector["spec"]["machineType"] ?? "e2-micro");
    if (machine !== connector["spec"]["machineType"]) set(connector, ["machineType"], machine);
    throughput = connectorCapacityMbps(machine, max);
  }
  const hc = find("HealthCheck");
  if (hc && rng.chance(0.6)) {
    const interval = rng.int(1, 30);
    set(hc, ["checkIntervalSec"], interval);
    set(hc, ["timeoutSec"], rng.int(1, interval));
    set(hc, ["healthyThreshold"], rng.int(1, 5));
    set(hc, ["unhealthyThreshold"], rng.int(1, 5));
  }
  const bs = find("BackendService");
  if (bs && rng.chance(0.6)) set(bs, ["logConfig", "sampleRate"], rng.pick([0, 0.1, 0.5, 1]));
  if (bs && rng.chance(0.3)) set(bs, ["connectionDraining", "drainingTimeoutSec"], rng.int(0, 300));

  // The consumer: fitting draws stay within what the providers above allow.
  const run = find("CloudRunService");
  if (run) {
    const pool = Number(member["connectionsPerInstance"] ?? 0);
    const egress = Number(member["egressMbpsPerInstance"] ?? 0);
    const reserved = Number(policy["sql"]?.["reservedConnections"] ?? 0);
    const fitsDb = pool > 0 ? Math.floor((policy["sql"]["ceiling"] * maxConnections - reserved) / pool) : 100;
    const fitsConnector =
      egress > 0 && Number.isFinite(throughput)
        ? Math.floor((policy["connector"]["ceiling"] * throughput) / egress)
        : 100;
    const fit = Math.min(fitsDb, fitsConnector, 60);
    const fitting = rng.chance(0.75);
    const maxInstances = fitting && fit >= 1 ? rng.int(Math.max(1, Math.ceil(fit / 2)), fit) : rng.int(1, 60);
    set(run, ["template", "scaling", "maxInstances"], maxInstances);
    if (rng.chance(0.5))
      set(run, ["template", "scaling", "minInstances"], rng.int(0, Math.min(2, maxInstances)));
    if (rng.chance(0.7)) set(run, ["template", "maxConcurrency"], rng.int(1, 80));
    if (rng.chance(0.7)) {
      // Timeouts: connect < request and startup budget >= connect when fitting.
      const request = rng.pick([10, 30, 45, 60, 120, 300, 900]);
      const connect = fitting ? rng.int(2, Math.min(60, request - 1)) : rng.int(2, 90);
      const period = rng.int(fitting ? Math.max(1, Math.ceil(connect / 24)) : 1, 10);
      const threshold = fitting ? rng.int(Math.ceil(connect / period), 24) : rng.int(1, 24);
      set(run, ["template", "timeout"], `${request}s`);
      set(run, ["template", "env", member["dbConnectTimeoutEnv"] ?? "DB_CONNECT_TIMEOUT"], connect);
      set(run, ["template", "startupProbe", "period"], `${period}s`);
      set(run, ["template", "startupProbe", "timeout"], `${rng.int(1, period)}s`);
      set(run, ["template", "startupProbe", "failureThreshold"], threshold);
    }
  }

  const sources = files.map((f) => ({
    path: `specs/chaos-${base}/${f.file}`,
    text: f.docs.map((d) => stringify(d)).join("---\n"),
  }));
  const specs = parseSpecSet(sources, [], {
    cwd: ROOT,
    defaults: { project: "acme-staging", region: "europe-west1" },
  });
  return { name: `random/${base}`, base, fixture, specs, drawn };
}

/**
 * drawScenario picks a run's scenario: a third of runs take the Golden Path, the rest
 * random spec sets from either base.
 */
export async function drawScenario(rng: Rng): Promise<Scenario> {
  const which = rng.weighted({ golden: 1, staging: 1, examples: 1 });
  if (which === "golden") return goldenPath();
  return randomScenario(rng, which);
}
