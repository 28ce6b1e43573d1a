import { parseRunCpu, RUN_LIMITS } from "../../gcp/catalog/run.ts";
import { names } from "../../gcp/names.ts";
import { parseDuration } from "../../spec/units.ts";
import type { Simulator } from "../core/server.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import {
  addMetricSource,
  type DistributionValue,
  distributionOf,
  KNOWN_METRICS,
  type MetricDescriptorInfo,
  type MetricSource,
  type MetricValue,
  SAMPLE_PERIOD_MS,
  type SeriesIdentity,
} from "../monitoring/index.ts";
import { seriesKey } from "../monitoring/time-series.ts";
import type { CloudSqlService } from "../sqladmin/index.ts";
import {
  type ConnectorSettings,
  DEFAULT_POOL_SIZE,
  evaluate,
  type ModelOutput,
  type ServiceOutput,
  type ServiceSettings,
  type SqlSettings,
  sqlSettingsOf,
  type Workload,
} from "./model.ts";

export * from "./model.ts";

/**
 * CUSTOM_METRICS are the figures GCP has no metric for. A real application exports them
 * itself as user-defined metrics (custom.googleapis.com, through the Monitoring API or an
 * OpenTelemetry exporter); the load model plays that application. They are written
 * against the `generic_task` monitored resource (labels project_id, location, namespace,
 * job, task_id; https://cloud.google.com/monitoring/api/resources#tag_generic_task), one
 * of the resource types user-defined metrics may use, with `job` set to the Cloud Run
 * service, so capstan's gates find them by the service's name.
 */
export const CUSTOM_METRICS: Readonly<Record<string, MetricDescriptorInfo>> = Object.fromEntries(
  (
    [
      ["custom.googleapis.com/capstan/db_connection_success_ratio", "DOUBLE", "1"],
      ["custom.googleapis.com/capstan/db_connection_establishment_seconds", "DOUBLE", "s"],
      ["custom.googleapis.com/capstan/db_pool_utilization", "DOUBLE", "1"],
      ["custom.googleapis.com/capstan/db_connections_requested", "INT64", "1"],
    ] as const
  ).map(([type, valueType, unit]) => [
    type,
    {
      type,
      metricKind: "GAUGE",
      valueType,
      unit,
      resourceType: "generic_task",
      resourceLabels: ["project_id", "location", "namespace", "job", "task_id"],
      metricLabels: [],
    } satisfies MetricDescriptorInfo,
  ]),
);

/** TASK_NAMESPACE and TASK_ID are the generic_task labels of the custom series: one task stands for all instances. */
const TASK_NAMESPACE = "cloud-run";
const TASK_ID = "all-instances";

/** The database label of connections held by others (admin tools, monitoring). */
const OTHERS_DATABASE = "postgres";

/**
 * TrafficInput is a service's offered request rate: a constant `rps`, or a `profile` of
 * steps `{at, rps}` (each holding from `at` until the next; `at` is a duration after the
 * traffic was set, `90s`, `10m` or seconds) that repeats every `period` when given.
 */
export interface TrafficInput {
  readonly rps?: number;
  readonly profile?: readonly { readonly at: number | string; readonly rps: number }[];
  readonly period?: number | string;
}

/**
 * LoadServiceInput is one Cloud Run service the model drives: which service, its traffic,
 * how its requests behave ({@link Workload}; defaults in {@link WORKLOAD_DEFAULTS}) and
 * where the app keeps its settings.
 */
export interface LoadServiceInput extends Partial<Workload> {
  /** `projects/P/locations/R/services/S`. */
  readonly service: string;
  readonly traffic: TrafficInput;
  /**
   * `projects/P/instances/I`: the database it connects to. Default: the instance of the
   * serving revision's Cloud SQL volume, if it has one.
   */
  readonly sqlInstance?: string;
  /** The database name its connections show under (num_backends' `database` label). @default "app" */
  readonly database?: string;
  /** Env var holding the pool size per instance. @default "DB_POOL_SIZE" */
  readonly poolSizeEnv?: string;
  /** Env var holding the connect timeout in seconds. @default "DB_CONNECT_TIMEOUT" */
  readonly connectTimeoutEnv?: string;
}

/** LoadSqlInput is what the model needs to know of a database beyond its settings. */
export interface LoadSqlInput {
  /** `projects/P/instances/I`. */
  readonly name: string;
  /** Connections held by others (admin tools, migrations, monitoring). @default 0 */
  readonly otherConnections?: number;
}

/** LoadSection is the fixture section `load`. */
export interface LoadSection {
  readonly services?: readonly LoadServiceInput[];
  readonly sqlInstances?: readonly LoadSqlInput[];
}

/**
 * WORKLOAD_DEFAULTS describe a light web request: the staging fixture replaces them with
 * figures calibrated to what the team measured (fixtures/staging-degraded.yaml).
 */
export const WORKLOAD_DEFAULTS: Readonly<Workload> = {
  appMs: 200,
  cpuBoundShare: 0.5,
  dbQueryMs: 20,
  dbWorkingSetMiB: 1024,
  sentKiB: 4,
  receivedKiB: 16,
  internetKiB: 0,
  handshakeSeconds: 0.05,
  backendSeconds: 0.02,
};

interface CompiledTraffic {
  readonly input: TrafficInput;
  /** Epoch ms the profile's offsets count from. */
  readonly originMs: number;
  /** From when (epoch ms) this traffic applies; -Infinity for the fixture's. */
  readonly fromMs: number;
  readonly steps: readonly { readonly atS: number; readonly rps: number }[];
  readonly periodS: number | undefined;
}

interface Entry {
  readonly input: LoadServiceInput;
  readonly name: { project: string; location: string; service: string };
  readonly workload: Workload;
  traffic: CompiledTraffic[];
}

/** One modelled service as live state had it at a snapshot. */
interface ServiceSnap {
  readonly entry: number;
  readonly revision: string;
  readonly settings: ServiceSettings;
  readonly sql: string | undefined;
  readonly connector: string | undefined;
}

/** Snapshot is the live settings the model reads, as they were from `atMs` on. */
interface Snapshot {
  readonly atMs: number;
  readonly services: readonly ServiceSnap[];
  readonly sql: Readonly<Record<string, SqlSettings>>;
  readonly connectors: Readonly<Record<string, ConnectorSettings>>;
  /** Region of each database, for its series' `region` label. */
  readonly sqlRegions: Readonly<Record<string, string>>;
}

type SeriesFn = (out: ModelOutput, rps: readonly number[]) => MetricValue | undefined;

/** Snapshots kept: with one a minute and only changes stored, weeks of simulated time. */
const HISTORY_LIMIT = 10_000;

/** LoadModelService is the load model as a simulator service: fixture section, control routes, metric source. */
export interface LoadModelService extends SimService {
  /**
   * connect gives the model the simulator whose live state it reads and registers it as
   * a Cloud Monitoring value source. createSimulator calls it.
   */
  connect(sim: Simulator): void;
  /** evaluateNow runs the model on the live state and the traffic of this moment. */
  evaluateNow(): LoadState;
  /** setTraffic replaces a service's traffic from now on (earlier samples keep the old one). */
  setTraffic(service: string, traffic: TrafficInput): void;
  /**
   * control serves `/__sim/services/load/<subpath>`: `GET state` (the model's figures
   * now), `GET traffic`, `PUT traffic` with `{service, rps | profile, period?}`.
   */
  control(method: string, subpath: string, body: JsonObject): unknown;
}

/** LoadState is one evaluation with the request rates it used, for the control API and tests. */
export interface LoadState {
  readonly time: string;
  readonly rps: Readonly<Record<string, number>>;
  readonly output: ModelOutput;
}

/**
 * loadModel is the simulator's load model (fixture section `load`, control routes under
 * `/__sim/services/load/`). Once connected it snapshots the live settings of the Cloud
 * Run, Cloud SQL and VPC Access services at every sample minute (only changes are kept),
 * so a query over a past window sees the settings of that time, and serves the model's
 * figures (src/sim/load/model.ts) through Cloud Monitoring: real GCP metric types where
 * they exist, {@link CUSTOM_METRICS} where GCP has none.
 */
export function loadModel(ctx: SimContext): LoadModelService {
  let sim: Simulator | undefined;
  let entries: Entry[] = [];
  let sqlExtras = new Map<string, LoadSqlInput>();
  let history: { snap: Snapshot; key: string }[] = [];
  let generation = 0;
  const seriesCache = new WeakMap<Snapshot, Map<string, { id: SeriesIdentity; fn: SeriesFn }>>();
  let evalCache = new Map<string, { out: ModelOutput; rps: number[] }>();
  const snapIds = new WeakMap<Snapshot, number>();
  let snapSeq = 0;

  const rpsAt = (e: Entry, t: number): number => {
    let tr = e.traffic[0]!;
    for (const x of e.traffic) if (x.fromMs <= t) tr = x;
    return trafficRps(tr, t);
  };

  const readLive = (): Snapshot | undefined => {
    if (!sim) return undefined;
    const run = sim.service("run").dump();
    const sqlSvc = sim.service<CloudSqlService>("sql");
    const sqlDump = (sqlSvc.dump()["instances"] ?? []) as JsonObject[];
    const connectorDump = (sim.service("vpcaccess").dump()["connectors"] ?? []) as JsonObject[];
    const services: ServiceSnap[] = [];
    const sql: Record<string, SqlSettings> = {};
    const sqlRegions: Record<string, string> = {};
    const connectors: Record<string, ConnectorSettings> = {};
    entries.forEach((e, i) => {
      const live = readService(run, e);
      if (!live) return;
      const sqlKey = e.input.sqlInstance ?? live.volumeSql;
      let sqlRef: string | undefined;
      if (sqlKey) {
        const n = parseSqlRef(sqlKey);
        const inst = n && sqlDump.find((x) => x["project"] === n.project && x["name"] === n.instance);
        if (n && inst) {
          sqlRef = `${n.project}:${n.instance}`;
          sqlRegions[sqlRef] = String(inst["region"] ?? "");
          const settings = (inst["settings"] ?? {}) as JsonObject;
          const flags = Object.fromEntries(
            ((settings["databaseFlags"] ?? []) as JsonObject[]).map((f) => [
              String(f["name"]),
              String(f["value"] ?? ""),
            ]),
          );
          const extra = sqlExtras.get(`projects/${n.project}/instances/${n.instance}`);
          sql[sqlRef] = sqlSettingsOf(
            String(settings["tier"] ?? ""),
            flags,
            sqlSvc.serving(n.project, n.instance),
            extra?.otherConnections ?? 0,
          );
        }
      }
      let connRef: string | undefined;
      if (live.connector) {
        const c = connectorDump.find((x) => x["name"] === live.connector);
        if (c && c["state"] !== "DELETING" && c["state"] !== "CREATING") {
          connRef = live.connector;
          connectors[connRef] = {
            machineType: String(c["machineType"] ?? "e2-micro"),
            minInstances: Number(c["minInstances"] ?? 2),
            maxInstances: Number(c["maxInstances"] ?? 10),
          };
        }
      }
      services.push({
        entry: i,
        revision: live.revision,
        settings: live.settings,
        sql: sqlRef,
        connector: connRef,
      });
    });
    return { atMs: ctx.now(), services, sql, connectors, sqlRegions };
  };

  /**
   * record keeps the live settings as of `atMs`. Events run lazily, in time order, so the
   * state read here is the state at `atMs`, though the clock may have moved on since.
   */
  const record = (atMs: number): void => {
    const live = readLive();
    if (!live) return;
    const { atMs: _readAt, ...settings } = live;
    const key = JSON.stringify(settings);
    if (history.at(-1)?.key === key) return;
    history.push({ snap: { ...settings, atMs }, key });
    if (history.length > HISTORY_LIMIT) history.splice(0, history.length - HISTORY_LIMIT);
  };

  const start = (): void => {
    const gen = ++generation;
    history = [];
    evalCache = new Map();
    if (!sim || entries.length === 0) return;
    record(ctx.now());
    const tick = (at: number): void => {
      ctx.at(at, () => {
        if (gen !== generation) return;
        record(at);
        tick(at + SAMPLE_PERIOD_MS);
      });
    };
    tick(Math.floor(ctx.now() / SAMPLE_PERIOD_MS) * SAMPLE_PERIOD_MS + SAMPLE_PERIOD_MS);
  };

  const snapshotAt = (t: number): Snapshot | undefined => {
    let found = history[0]?.snap;
    for (const h of history) {
      if (h.snap.atMs > t) break;
      found = h.snap;
    }
    return found;
  };

  const evaluateSnap = (snap: Snapshot, t: number): { out: ModelOutput; rps: number[] } => {
    let id = snapIds.get(snap);
    if (id === undefined) {
      id = ++snapSeq;
      snapIds.set(snap, id);
    }
    const key = `${id}|${t}`;
    const hit = evalCache.get(key);
    if (hit) return hit;
    const rps = snap.services.map((s) => rpsAt(entries[s.entry]!, t));
    const out = evaluate({
      services: snap.services.map((s, i) => ({
        key: String(i),
        settings: s.settings,
        workload: entries[s.entry]!.workload,
        rps: rps[i]!,
        sql: s.sql,
        connector: s.connector,
      })),
      sql: snap.sql,
      connectors: snap.connectors,
    });
    if (evalCache.size > 4096) evalCache = new Map();
    const v = { out, rps };
    evalCache.set(key, v);
    return v;
  };

  const seriesOf = (snap: Snapshot): Map<string, { id: SeriesIdentity; fn: SeriesFn }> => {
    let m = seriesCache.get(snap);
    if (!m) {
      m = buildSeries(snap, entries, sqlExtras);
      seriesCache.set(snap, m);
    }
    return m;
  };

  const source: MetricSource = {
    descriptor: (type) => CUSTOM_METRICS[type],
    series(type) {
      const out = new Map<string, SeriesIdentity>();
      for (const h of history) {
        for (const [k, s] of seriesOf(h.snap)) if (s.id.metricType === type) out.set(k, s.id);
      }
      return [...out.values()];
    },
    value(type, resource, metricLabels, t) {
      const snap = snapshotAt(t);
      if (!snap) return undefined;
      const s = seriesOf(snap).get(seriesKey({ metricType: type, resource, metricLabels }));
      if (!s) return undefined;
      const { out, rps } = evaluateSnap(snap, t);
      return s.fn(out, rps);
    },
  };

  const setTraffic = (service: string, traffic: TrafficInput): void => {
    const e = entries.find((x) => x.input.service === service);
    if (!e) {
      throw new TypeError(
        `load: no modelled service \`${service}\`; expected one of ${entries.map((x) => x.input.service).join(", ") || "none"}`,
      );
    }
    const now = ctx.now();
    e.traffic = [...e.traffic, compileTraffic(traffic, now, now, `load: service ${service}: traffic`)];
  };

  const evaluateNow = (): LoadState => {
    sim?.tick();
    const snap = readLive() ?? { atMs: ctx.now(), services: [], sql: {}, connectors: {}, sqlRegions: {} };
    const t = ctx.now();
    const rps = snap.services.map((s) => rpsAt(entries[s.entry]!, t));
    const output = evaluate({
      services: snap.services.map((s, i) => ({
        key: entries[s.entry]!.input.service,
        settings: s.settings,
        workload: entries[s.entry]!.workload,
        rps: rps[i]!,
        sql: s.sql,
        connector: s.connector,
      })),
      sql: snap.sql,
      connectors: snap.connectors,
    });
    return {
      time: new Date(t).toISOString(),
      rps: Object.fromEntries(snap.services.map((s, i) => [entries[s.entry]!.input.service, rps[i]!])),
      output,
    };
  };

  return {
    api: "load.capstan.dev",
    key: "load",
    rpcs: [],
    handlers: {},
    load(section) {
      const sec = (section ?? {}) as LoadSection;
      const now = ctx.now();
      entries = (sec.services ?? []).map((input, i) => compileEntry(input, i, now));
      sqlExtras = new Map(
        (sec.sqlInstances ?? []).map((s, i) => {
          if (!s || !names.sqlInstance.parse(String(s.name))) {
            throw new TypeError(
              `load: sqlInstances[${i}].name must be projects/<project>/instances/<instance>, got ${JSON.stringify(s?.name)}`,
            );
          }
          if (
            s.otherConnections !== undefined &&
            !(Number.isInteger(s.otherConnections) && s.otherConnections >= 0)
          ) {
            throw new TypeError(
              `load: sqlInstances[${i}].otherConnections must be an integer >= 0, got ${JSON.stringify(s.otherConnections)}`,
            );
          }
          return [s.name, s];
        }),
      );
      start();
    },
    dump() {
      if (entries.length === 0 && sqlExtras.size === 0) return {};
      return {
        services: entries.map((e) => ({ ...e.input, traffic: e.traffic.at(-1)!.input })),
        ...(sqlExtras.size ? { sqlInstances: [...sqlExtras.values()] } : {}),
      };
    },
    connect(s) {
      if (sim) throw new TypeError("load: the load model is already connected to a simulator");
      sim = s;
      addMetricSource(s, source);
      start();
    },
    evaluateNow,
    setTraffic,
    control(method, subpath, body) {
      if (method === "GET" && subpath === "state") return evaluateNow();
      if (method === "GET" && subpath === "traffic") {
        return {
          services: entries.map((e) => ({ service: e.input.service, traffic: e.traffic.at(-1)!.input })),
        };
      }
      if (method === "PUT" && subpath === "traffic") {
        const { service, ...traffic } = body as { service?: unknown } & TrafficInput;
        if (typeof service !== "string")
          throw new TypeError("load: PUT traffic needs `service`, a full name");
        setTraffic(service, traffic);
        return { service, traffic };
      }
      throw new TypeError(
        `load: no control route ${method} ${subpath}; expected GET state, GET traffic or PUT traffic`,
      );
    },
  };
}

/**
 * connectLoadModel connects a simulator's load model (if it serves one) to the rest of
 * the simulator; createSimulator calls it once the services exist.
 */
export function connectLoadModel(sim: Simulator): void {
  let svc: LoadModelService;
  try {
    svc = sim.service<LoadModelService>("load");
  } catch {
    return;
  }
  svc.connect(sim);
}

// ---------------------------------------------------------------------------------------
// Fixture input

function compileEntry(input: LoadServiceInput, i: number, now: number): Entry {
  const where = `load: services[${i}]`;
  if (!input || typeof input !== "object") throw new TypeError(`${where}: expected {service, traffic, ...}`);
  const name = names.runService.parse(String(input.service));
  if (!name) {
    throw new TypeError(
      `${where}.service must be projects/<project>/locations/<region>/services/<service>, got ${JSON.stringify(input.service)}`,
    );
  }
  if (input.sqlInstance !== undefined && !parseSqlRef(input.sqlInstance)) {
    throw new TypeError(
      `${where}.sqlInstance must be projects/<project>/instances/<instance>, got ${JSON.stringify(input.sqlInstance)}`,
    );
  }
  const workload: Record<string, number> = { ...WORKLOAD_DEFAULTS };
  for (const k of Object.keys(WORKLOAD_DEFAULTS) as (keyof Workload)[]) {
    const v = input[k];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (k === "cpuBoundShare" && v > 1)) {
      throw new TypeError(
        `${where}.${k} must be a number >= 0${k === "cpuBoundShare" ? " and <= 1" : ""}, got ${JSON.stringify(v)}`,
      );
    }
    workload[k] = v;
  }
  const known = new Set([
    ...Object.keys(WORKLOAD_DEFAULTS),
    "service",
    "traffic",
    "sqlInstance",
    "database",
    "poolSizeEnv",
    "connectTimeoutEnv",
  ]);
  const unknown = Object.keys(input).filter((k) => !known.has(k));
  if (unknown.length) {
    throw new TypeError(
      `${where}: unknown field(s) ${unknown.join(", ")}; expected some of ${[...known].join(", ")}`,
    );
  }
  return {
    input,
    name,
    workload: workload as unknown as Workload,
    traffic: [compileTraffic(input.traffic, now, Number.NEGATIVE_INFINITY, `${where}.traffic`)],
  };
}

function compileTraffic(
  t: TrafficInput | undefined,
  originMs: number,
  fromMs: number,
  where: string,
): CompiledTraffic {
  if (!t || typeof t !== "object")
    throw new TypeError(`${where}: expected {rps} or {profile: [{at, rps}], period?}`);
  const rate = (v: unknown, at: string): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new TypeError(`${at} must be a number of requests per second >= 0, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  if ((t.rps === undefined) === (t.profile === undefined)) {
    throw new TypeError(`${where}: give exactly one of rps and profile`);
  }
  const periodS = t.period === undefined ? undefined : parseDuration(t.period);
  if (t.period !== undefined && !(periodS !== undefined && periodS > 0)) {
    throw new TypeError(
      `${where}.period must be a duration above 0 such as 30m, got ${JSON.stringify(t.period)}`,
    );
  }
  let steps: { atS: number; rps: number }[];
  if (t.rps !== undefined) steps = [{ atS: 0, rps: rate(t.rps, `${where}.rps`) }];
  else {
    if (!Array.isArray(t.profile) || t.profile.length === 0) {
      throw new TypeError(`${where}.profile must be a non-empty list of {at, rps}`);
    }
    steps = t.profile
      .map((p, i) => {
        const atS = parseDuration(p?.at);
        if (atS === undefined) {
          throw new TypeError(
            `${where}.profile[${i}].at must be a duration such as 10m, got ${JSON.stringify(p?.at)}`,
          );
        }
        if (periodS !== undefined && atS >= periodS) {
          throw new TypeError(`${where}.profile[${i}].at (${atS}s) must be below the period (${periodS}s)`);
        }
        return { atS, rps: rate(p.rps, `${where}.profile[${i}].rps`) };
      })
      .sort((a, b) => a.atS - b.atS);
  }
  return { input: t, originMs, fromMs, steps, periodS };
}

/**
 * trafficRps is the offered rate at `t`: the step in force at the offset from the
 * traffic's origin, modulo the period. Before the first step it is the last step of the
 * previous period (periodic) or the first step (not periodic).
 */
function trafficRps(tr: CompiledTraffic, t: number): number {
  let offset = (t - tr.originMs) / 1000;
  if (tr.periodS !== undefined) offset = ((offset % tr.periodS) + tr.periodS) % tr.periodS;
  let rps = tr.periodS !== undefined ? tr.steps.at(-1)!.rps : tr.steps[0]!.rps;
  for (const s of tr.steps) {
    if (s.atS > offset) break;
    rps = s.rps;
  }
  return rps;
}

function parseSqlRef(ref: string): { project: string; instance: string } | undefined {
  const full = names.sqlInstance.parse(ref);
  if (full) return full;
  // A connection name, `project:region:instance`, as Cloud Run's Cloud SQL volume names it.
  const m = /^([^:/]+):[a-z0-9-]+:([a-z][-a-z0-9]*)$/.exec(ref);
  return m ? { project: m[1]!, instance: m[2]! } : undefined;
}

// ---------------------------------------------------------------------------------------
// Live Cloud Run state

function envValue(env: readonly JsonObject[], name: string | undefined): number | undefined {
  if (!name) return undefined;
  const e = env.find((x) => x["name"] === name && typeof x["value"] === "string");
  if (!e) return undefined;
  const n = parseDuration(String(e["value"]));
  return n;
}

/**
 * readService reads the settings of the revision that serves a service (its latest ready
 * one: LATEST traffic assumed), capped by the service-level scaling, or undefined when it
 * does not exist or serves nothing.
 */
function readService(
  run: JsonObject,
  e: Entry,
):
  | {
      revision: string;
      settings: ServiceSettings;
      connector: string | undefined;
      volumeSql: string | undefined;
    }
  | undefined {
  const svc = ((run["services"] ?? []) as JsonObject[]).find((s) => s["name"] === e.input.service);
  const ready = svc?.["latestReadyRevision"] as string | undefined;
  if (!svc || !ready) return undefined;
  const rev = ((run["revisions"] ?? []) as JsonObject[]).find((r) => r["name"] === ready);
  const t = (rev ?? (svc["template"] as JsonObject | undefined) ?? {}) as JsonObject;
  const containers = (t["containers"] ?? []) as JsonObject[];
  const main = containers.find((c) => ((c["ports"] ?? []) as unknown[]).length > 0) ?? containers[0] ?? {};
  const limits = ((main["resources"] as JsonObject | undefined)?.["limits"] ?? {}) as JsonObject;
  const cpu = parseRunCpu(String(limits["cpu"] ?? RUN_LIMITS.cpu.default)) ?? 1;
  const env = (main["env"] ?? []) as JsonObject[];
  const revScaling = (t["scaling"] ?? {}) as JsonObject;
  const svcScaling = (svc["scaling"] ?? {}) as JsonObject;
  const minInstances = Math.max(
    Number(revScaling["minInstanceCount"] ?? 0),
    Number(svcScaling["minInstanceCount"] ?? 0),
  );
  const maxima = [
    Number(revScaling["maxInstanceCount"] ?? 0),
    Number(svcScaling["maxInstanceCount"] ?? 0),
  ].filter((n) => n > 0);
  const maxInstances = Math.max(
    minInstances,
    maxima.length ? Math.min(...maxima) : RUN_LIMITS.defaultMaxInstanceCount,
  );
  const manual =
    svcScaling["scalingMode"] === "MANUAL" ? Number(svcScaling["manualInstanceCount"] ?? 0) : undefined;
  const concurrency =
    Number(t["maxInstanceRequestConcurrency"] ?? 0) ||
    (cpu < 1 ? RUN_LIMITS.concurrency.defaultBelowOneCpu : RUN_LIMITS.concurrency.default);
  const timeout = parseDuration(String(t["timeout"] ?? "")) ?? RUN_LIMITS.timeoutSeconds.default;
  const vpc = (t["vpcAccess"] ?? {}) as JsonObject;
  const volumeSql = ((t["volumes"] ?? []) as JsonObject[]).flatMap(
    (v) => ((v["cloudSqlInstance"] as JsonObject | undefined)?.["instances"] ?? []) as string[],
  )[0];
  const pool = envValue(env, e.input.poolSizeEnv ?? "DB_POOL_SIZE");
  return {
    revision: ready.slice(ready.lastIndexOf("/") + 1),
    settings: {
      minInstances,
      maxInstances,
      manualInstances: manual,
      concurrency,
      cpu,
      requestTimeoutSeconds: timeout,
      poolSize: pool !== undefined ? Math.floor(pool) : DEFAULT_POOL_SIZE,
      connectTimeoutSeconds: envValue(env, e.input.connectTimeoutEnv ?? "DB_CONNECT_TIMEOUT"),
      egress: vpc["egress"] === "ALL_TRAFFIC" ? "ALL_TRAFFIC" : "PRIVATE_RANGES_ONLY",
    },
    connector:
      typeof vpc["connector"] === "string" && vpc["connector"] ? String(vpc["connector"]) : undefined,
    volumeSql,
  };
}

// ---------------------------------------------------------------------------------------
// Series

const PER_MINUTE = SAMPLE_PERIOD_MS / 1000;

/**
 * scaledDistribution is the distribution of `count` requests shaped like `samples`
 * (quantiles standing for the whole population), in a metric's bucket layout.
 */
function scaledDistribution(
  samples: readonly number[],
  count: number,
  type: string,
): DistributionValue | undefined {
  if (count < 0.5 || samples.length === 0) return undefined;
  const d = distributionOf(samples, KNOWN_METRICS[type]?.bucketOptions ?? {});
  const f = count / samples.length;
  const bucketCounts = d.bucketCounts.map((c) => Math.round(c * f));
  return {
    ...d,
    count: bucketCounts.reduce((a, b) => a + b, 0),
    sumOfSquaredDeviation: d.sumOfSquaredDeviation * f,
    bucketCounts,
  };
}

/**
 * buildSeries lists the time series one snapshot has, each with how to read its value
 * from an evaluation: per service, Cloud Run's instance_count, request_count and
 * request_latencies (by response code: 200 ran and got its connection, 500 failed for
 * want of one, 429 found no instance) and the custom database metrics; per database,
 * num_backends by database; per connector, cpu/utilizations (one sample per instance)
 * and the bytes it carried.
 */
function buildSeries(
  snap: Snapshot,
  entries: readonly Entry[],
  extras: ReadonlyMap<string, LoadSqlInput>,
): Map<string, { id: SeriesIdentity; fn: SeriesFn }> {
  const out = new Map<string, { id: SeriesIdentity; fn: SeriesFn }>();
  const add = (
    metricType: string,
    resource: SeriesIdentity["resource"],
    metricLabels: Record<string, string>,
    fn: SeriesFn,
  ) => {
    const id: SeriesIdentity = { metricType, resource, metricLabels };
    out.set(seriesKey(id), { id, fn });
  };
  snap.services.forEach((s, i) => {
    const e = entries[s.entry]!;
    const { project, location, service } = e.name;
    const revision = {
      type: "cloud_run_revision",
      labels: {
        project_id: project,
        service_name: service,
        revision_name: s.revision,
        location,
        configuration_name: service,
      },
    };
    const svc = (o: ModelOutput): ServiceOutput => o.services[i]!;
    add(
      "run.googleapis.com/container/instance_count",
      revision,
      { state: "active" },
      (o) => svc(o).instances,
    );
    const codes = [
      {
        code: "200",
        cls: "2xx",
        rate: (x: ServiceOutput) => x.okRps,
        ms: (x: ServiceOutput) => x.okLatencyMs,
      },
      {
        code: "500",
        cls: "5xx",
        rate: (x: ServiceOutput) => x.failedRps,
        ms: (x: ServiceOutput) => [x.failedLatencyMs],
      },
      // A request Cloud Run cannot place is refused at once.
      { code: "429", cls: "4xx", rate: (x: ServiceOutput) => x.rejectedRps, ms: () => [1] },
    ];
    for (const c of codes) {
      const labels = { response_code: c.code, response_code_class: c.cls, route: "" };
      add("run.googleapis.com/request_count", revision, labels, (o) => {
        const n = c.rate(svc(o)) * PER_MINUTE;
        return n >= 0.5 ? n : undefined;
      });
      add("run.googleapis.com/request_latencies", revision, labels, (o) =>
        scaledDistribution(c.ms(svc(o)), c.rate(svc(o)) * PER_MINUTE, "run.googleapis.com/request_latencies"),
      );
    }
    if (s.sql) {
      const task = {
        type: "generic_task",
        labels: { project_id: project, location, namespace: TASK_NAMESPACE, job: service, task_id: TASK_ID },
      };
      const m = "custom.googleapis.com/capstan/";
      add(`${m}db_connection_success_ratio`, task, {}, (o) => svc(o).connectionSuccess);
      add(`${m}db_connection_establishment_seconds`, task, {}, (o) => svc(o).establishmentSeconds);
      add(`${m}db_pool_utilization`, task, {}, (o) => svc(o).poolUtilization);
      add(`${m}db_connections_requested`, task, {}, (o) => svc(o).connectionsRequested);
    }
  });
  for (const [key, settings] of Object.entries(snap.sql)) {
    const [project, instance] = key.split(":") as [string, string];
    const users = snap.services.map((s, i) => ({ s, i })).filter((x) => x.s.sql === key);
    const resource = {
      type: "cloudsql_database",
      labels: { project_id: project, database_id: key, region: snap.sqlRegions[key] ?? "" },
    };
    const databases = new Map<string, number[]>();
    for (const u of users) {
      const db = entries[u.s.entry]!.input.database ?? "app";
      databases.set(db, [...(databases.get(db) ?? []), u.i]);
    }
    for (const [database, idx] of databases) {
      add("cloudsql.googleapis.com/database/postgresql/num_backends", resource, { database }, (o) =>
        idx.reduce((n, i) => n + o.services[i]!.connectionsServed, 0),
      );
    }
    const others = extras.get(`projects/${project}/instances/${instance}`)?.otherConnections ?? 0;
    if (others > 0 && !databases.has(OTHERS_DATABASE)) {
      add(
        "cloudsql.googleapis.com/database/postgresql/num_backends",
        resource,
        { database: OTHERS_DATABASE },
        () => (settings.serving ? Math.min(others, settings.maxConnections) : 0),
      );
    }
  }
  for (const key of Object.keys(snap.connectors)) {
    const n = names.connector.parse(key);
    if (!n) continue;
    const resource = {
      type: "vpc_access_connector",
      labels: { resource_container: n.project, location: n.location, connector_name: n.connector },
    };
    const conn = (o: ModelOutput) => o.connectors.find((c) => c.key === key)!;
    add("vpcaccess.googleapis.com/connector/cpu/utilizations", resource, {}, (o) => {
      const c = conn(o);
      return distributionOf(new Array<number>(c.instances).fill(c.utilization), {
        ...(KNOWN_METRICS["vpcaccess.googleapis.com/connector/cpu/utilizations"]?.bucketOptions ?? {}),
      });
    });
    add(
      "vpcaccess.googleapis.com/connector/sent_bytes_count",
      resource,
      {},
      (o) => conn(o).sentBytesPerSecond * PER_MINUTE,
    );
    add(
      "vpcaccess.googleapis.com/connector/received_bytes_count",
      resource,
      {},
      (o) => conn(o).receivedBytesPerSecond * PER_MINUTE,
    );
  }
  return out;
}
