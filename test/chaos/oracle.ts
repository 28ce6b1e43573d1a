/**
 * The chaos oracle: judges every state the simulator passes through, independently of
 * capstan's reconcilers. It reads the simulator's own state (the services' dumps, in the
 * GCP APIs' JSON shapes), computes the capacity numbers from it itself, and checks three
 * things at every state change:
 * - capacity: no invariant of the spec set's policies is violated worse than at the start
 *   (checkInvariants/regressions judge the numbers; only the reading of the numbers is
 *   the oracle's own);
 * - unmanaged fields: every value the specs do not manage (labels, image, env vars and
 *   flags not named, network settings, descriptions, resources no spec names) is as it
 *   was, except where the chaos itself edited it;
 * - resources: the same resources exist as at the start (capstan creates and deletes nothing).
 */

import type {
  CapacityState,
  ConnectorCapacity,
  PolicyModel,
  ServiceCapacity,
} from "../../src/capacity/invariants.ts";
import { checkInvariants, type InvariantResult, regressions } from "../../src/capacity/invariants.ts";
import { addressOf, policyModels } from "../../src/capacity/model.ts";
import { defaultMaxConnections } from "../../src/gcp/catalog/sql.ts";
import {
  CONNECTOR_DEFAULT_MACHINE_TYPE,
  CONNECTOR_MACHINE_TYPES,
  isConnectorMachineType,
} from "../../src/gcp/catalog/vpcaccess.ts";
import type { StateChange } from "../../src/sim/core/server.ts";
import type { JsonObject } from "../../src/sim/core/types.ts";
import type { Simulator } from "../../src/sim/index.ts";
import type { AnyResource, Resource, SpecSet } from "../../src/spec/types.ts";
import { POOL_ENV } from "./scenarios.ts";

/** Live is the simulator's state in the APIs' JSON shapes, as far as the oracle reads it. */
export interface Live {
  readonly run: readonly JsonObject[];
  /** Cloud Run revisions (Revision JSON: the template's fields at the top level). */
  readonly revisions: readonly JsonObject[];
  readonly sql: readonly JsonObject[];
  readonly connectors: readonly JsonObject[];
  readonly backendServices: readonly JsonObject[];
  readonly healthChecks: readonly JsonObject[];
  readonly negs: readonly JsonObject[];
  readonly secrets: readonly JsonObject[];
}

/** readLive reads the services' state without running simulated events (safe inside an observer). */
export function readLive(sim: Simulator): Live {
  const run = sim.service("run").dump();
  const compute = sim.service("compute").dump();
  return {
    run: (run["services"] ?? []) as JsonObject[],
    revisions: (run["revisions"] ?? []) as JsonObject[],
    sql: (sim.service("sql").dump()["instances"] ?? []) as JsonObject[],
    connectors: (sim.service("vpcaccess").dump()["connectors"] ?? []) as JsonObject[],
    backendServices: (compute["backendServices"] ?? []) as JsonObject[],
    healthChecks: (compute["healthChecks"] ?? []) as JsonObject[],
    negs: (compute["networkEndpointGroups"] ?? []) as JsonObject[],
    secrets: (sim.service("secretmanager").dump()["secrets"] ?? []) as JsonObject[],
  };
}

/** Violation is one thing a run must never do, with the simulated time it was seen at. */
export interface Violation {
  readonly kind: "capacity" | "unmanaged" | "resources" | "outcome" | "hang" | "throw";
  readonly message: string;
  readonly atMs: number;
}

function seconds(duration: unknown): number | undefined {
  const m = typeof duration === "string" ? /^(\d+(?:\.\d+)?)s$/.exec(duration) : undefined;
  return m ? Number(m[1]) : typeof duration === "number" ? duration : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : undefined;
}

/**
 * RunView says which settings of a Cloud Run service count: the service's `template`
 * (what the next revision runs, from the moment it is written) or the revision serving
 * traffic (`latestReadyRevision`, which keeps serving until a new one is ready). The
 * oracle judges both: either may be what is running.
 */
export type RunView = "template" | "serving";

function templateOf(live: Live, service: JsonObject, view: RunView): JsonObject | undefined {
  if (view === "serving") {
    const r = live.revisions.find((x) => x["name"] === service["latestReadyRevision"]);
    if (r) return r;
  }
  return service["template"] as JsonObject | undefined;
}

/** servingContainer is the container that receives requests: the one with a port, else the first. */
function servingContainer(template: JsonObject | undefined): JsonObject | undefined {
  const containers = (template?.["containers"] ?? []) as JsonObject[];
  return containers.find((c) => Array.isArray(c["ports"]) && c["ports"].length > 0) ?? containers[0];
}

function envValue(container: JsonObject | undefined, name: string | undefined): string | undefined {
  if (!container || !name) return undefined;
  const e = ((container["env"] ?? []) as JsonObject[]).find((x) => x["name"] === name);
  return typeof e?.["value"] === "string" ? e["value"] : undefined;
}

function flagsOf(instance: JsonObject): Map<string, string> {
  return new Map(
    ((instance["settings"]?.["databaseFlags"] ?? []) as JsonObject[]).map((f) => [
      String(f["name"]),
      String(f["value"] ?? ""),
    ]),
  );
}

/** sqlName is a Cloud SQL instance's full name as specs resolve it. */
function sqlName(i: JsonObject): string {
  return `projects/${i["project"]}/instances/${i["name"]}`;
}

/** computeName is a global compute resource's relative name. */
function computeName(r: JsonObject, collection: string): string {
  return `projects/${r["project"]}/global/${collection}/${r["name"]}`;
}

/**
 * capacityOf computes the capacity numbers of live state for the policies of `specs`,
 * reading the APIs' own fields:
 * - a service's maximum instances: the lower of service-level `scaling.maxInstanceCount`
 *   and the revision template's `scaling.maxInstanceCount` (both cap it; a revision
 *   defaults to 100, https://cloud.google.com/run/docs/configuring/max-instances);
 * - its connections per instance: the pool size env var of the serving container, else
 *   the policy's connectionsPerInstance;
 * - its startup budget: initialDelaySeconds + periodSeconds × failureThreshold of the
 *   startup probe; its request timeout: `template.timeout`; its connect timeout: the
 *   policy's env var;
 * - a SQL instance's max_connections: the flag, else the tier's default
 *   (https://cloud.google.com/sql/docs/quotas#postgresql);
 * - a connector's throughput: maxInstances × the machine type's documented throughput
 *   (https://cloud.google.com/vpc/docs/serverless-vpc-access#scaling). While an update
 *   is in flight the API already shows the new settings, but the new instances do not
 *   exist until it finishes: `settling` gives the settings before it, and the lower of the
 *   two counts.
 * `view` says which of a Cloud Run service's settings to read (see RunView).
 */
export function capacityOf(
  live: Live,
  specs: SpecSet,
  settling: ReadonlyMap<string, JsonObject> = new Map(),
  view: RunView = "template",
): CapacityState {
  const services: Record<string, ServiceCapacity> = {};
  const sql: Record<string, { maxConnections: number }> = {};
  const connectors: Record<string, ConnectorCapacity> = {};
  const byName = new Map(specs.resources.filter((r) => r.gcpName).map((r) => [r.gcpName!, r]));
  for (const p of specs.resources) {
    if (p.kind !== "CapacityPolicy") continue;
    for (const m of (p as Resource<"CapacityPolicy">).spec.members) {
      const spec = byName.get(m.service.name);
      const s = live.run.find((x) => x["name"] === m.service.name);
      if (!spec || !s) continue;
      const t = templateOf(live, s, view);
      const revisionMax = num(t?.["scaling"]?.["maxInstanceCount"]) ?? 100;
      const serviceMax = num(s["scaling"]?.["maxInstanceCount"]);
      const c = servingContainer(t);
      const probe = c?.["startupProbe"] as JsonObject | undefined;
      const period = num(probe?.["periodSeconds"]);
      const threshold = num(probe?.["failureThreshold"]);
      services[addressOf(spec)] = {
        maxInstances: serviceMax === undefined ? revisionMax : Math.min(serviceMax, revisionMax),
        connectionsPerInstance: num(envValue(c, POOL_ENV)) ?? m.connectionsPerInstance ?? 0,
        egressMbpsPerInstance: m.egressMbpsPerInstance ?? 0,
        startupBudgetSeconds:
          period !== undefined && threshold !== undefined
            ? (num(probe?.["initialDelaySeconds"]) ?? 0) + period * threshold
            : undefined,
        dbConnectTimeoutSeconds: num(envValue(c, m.dbConnectTimeoutEnv)),
        requestTimeoutSeconds: seconds(t?.["timeout"]),
      };
    }
  }
  for (const i of live.sql) {
    const spec = byName.get(sqlName(i));
    if (!spec) continue;
    const flag = num(flagsOf(i).get("max_connections"));
    const max = flag ?? defaultMaxConnections(String(i["settings"]?.["tier"]));
    if (max !== undefined) sql[addressOf(spec)] = { maxConnections: max };
  }
  for (const c of live.connectors) {
    const spec = byName.get(String(c["name"]));
    if (!spec) continue;
    const throughput = (x: JsonObject) => {
      const machine = String(x["machineType"] ?? CONNECTOR_DEFAULT_MACHINE_TYPE);
      const max = num(x["maxInstances"]);
      if (max === undefined || !isConnectorMachineType(machine)) return undefined;
      return {
        mbps: CONNECTOR_MACHINE_TYPES[machine].mbpsPerInstance * max,
        derivation: `${max} × ${machine}`,
      };
    };
    const now = throughput(c);
    const before = settling.get(String(c["name"]));
    const was = before ? throughput(before) : undefined;
    const t =
      was && now && was.mbps < now.mbps
        ? { ...was, derivation: `${was.derivation} until its update finishes` }
        : now;
    if (t) connectors[addressOf(spec)] = { maxThroughputMbps: t.mbps, derivation: t.derivation };
  }
  return { services, sql, connectors };
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/**
 * sentinels lists, by key, every value of live state the specs do not manage. A resource
 * no spec names is one value as a whole; a managed resource contributes the fields its
 * spec leaves alone. Keys start with the resource's full name, so an edit of one resource
 * can re-baseline exactly its keys.
 */
export function sentinels(live: Live, specs: SpecSet): Map<string, string> {
  const out = new Map<string, string>();
  const byName = new Map(specs.resources.filter((r) => r.gcpName).map((r) => [r.gcpName!, r]));
  const put = (name: string, field: string, value: unknown) => out.set(`${name} ${field}`, json(value));
  const unmanaged = <K extends AnyResource["kind"]>(spec: AnyResource | undefined, kind: K) =>
    spec?.kind === kind ? (spec as Resource<K>) : undefined;

  for (const s of live.run) {
    const name = String(s["name"]);
    const r = unmanaged(byName.get(name), "CloudRunService");
    if (!r) {
      put(name, "*", stripVolatile(s));
      continue;
    }
    const t = r.spec.template;
    put(name, "labels", s["labels"]);
    put(name, "annotations", s["annotations"]);
    put(name, "description", s["description"]);
    put(name, "traffic", s["traffic"]);
    put(name, "template.serviceAccount", s["template"]?.["serviceAccount"]);
    put(name, "template.labels", s["template"]?.["labels"]);
    if (r.spec.ingress === undefined) put(name, "ingress", s["ingress"]);
    if (r.spec.scaling === undefined) put(name, "scaling", s["scaling"]);
    if (t?.cloudSqlInstances === undefined) put(name, "template.volumes", s["template"]?.["volumes"]);
    if (t?.vpcAccess === undefined) put(name, "template.vpcAccess", s["template"]?.["vpcAccess"]);
    if (t?.executionEnvironment === undefined)
      put(name, "template.executionEnvironment", s["template"]?.["executionEnvironment"]);
    const managedEnv = new Set((t?.env ?? []).map((e) => e.name));
    for (const [i, c] of ((s["template"]?.["containers"] ?? []) as JsonObject[]).entries()) {
      put(name, `containers[${i}].image`, c["image"]);
      put(name, `containers[${i}].ports`, c["ports"]);
      for (const e of (c["env"] ?? []) as JsonObject[]) {
        if (!managedEnv.has(String(e["name"]))) put(name, `containers[${i}].env[${e["name"]}]`, e);
      }
    }
  }
  for (const i of live.sql) {
    const name = sqlName(i);
    const r = unmanaged(byName.get(name), "SqlInstance");
    if (!r) {
      put(name, "*", stripVolatile(i));
      continue;
    }
    const st = (i["settings"] ?? {}) as JsonObject;
    put(name, "databaseVersion", i["databaseVersion"]);
    put(name, "region", i["region"]);
    put(name, "settings.userLabels", st["userLabels"]);
    put(name, "settings.ipConfiguration", st["ipConfiguration"]);
    put(name, "settings.backupConfiguration", st["backupConfiguration"]);
    put(name, "settings.activationPolicy", st["activationPolicy"]);
    put(name, "settings.deletionProtectionEnabled", st["deletionProtectionEnabled"]);
    if (r.spec.tier === undefined) put(name, "settings.tier", st["tier"]);
    if (r.spec.availabilityType === undefined) put(name, "settings.availabilityType", st["availabilityType"]);
    if (r.spec.dataDiskSizeGb === undefined) put(name, "settings.dataDiskSizeGb", st["dataDiskSizeGb"]);
    if (r.spec.maintenanceWindow === undefined)
      put(name, "settings.maintenanceWindow", st["maintenanceWindow"]);
    const managedFlags = new Set(Object.keys(r.spec.databaseFlags ?? {}));
    for (const [flag, value] of flagsOf(i)) {
      if (!managedFlags.has(flag)) put(name, `flag ${flag}`, value);
    }
  }
  for (const c of live.connectors) {
    const name = String(c["name"]);
    const r = unmanaged(byName.get(name), "VpcConnector");
    if (!r) {
      put(name, "*", c);
      continue;
    }
    put(name, "network", c["network"]);
    put(name, "ipCidrRange", c["ipCidrRange"]);
    put(name, "subnet", c["subnet"]);
    if (r.spec.machineType === undefined) put(name, "machineType", c["machineType"]);
    if (r.spec.minInstances === undefined) put(name, "minInstances", c["minInstances"]);
    if (r.spec.maxInstances === undefined) put(name, "maxInstances", c["maxInstances"]);
  }
  for (const b of live.backendServices) {
    const name = computeName(b, "backendServices");
    const r = unmanaged(byName.get(name), "BackendService");
    if (!r) {
      put(name, "*", stripVolatile(b));
      continue;
    }
    for (const f of [
      "description",
      "sessionAffinity",
      "enableCDN",
      "affinityCookieTtlSec",
      "securitySettings",
    ])
      put(name, f, b[f]);
    const s = r.spec as unknown as Record<string, unknown>;
    for (const f of ["protocol", "loadBalancingScheme", "timeoutSec", "connectionDraining", "healthChecks"]) {
      if (s[f] === undefined) put(name, f, b[f]);
    }
    if (r.spec.outlierDetection === undefined) put(name, "outlierDetection", b["outlierDetection"]);
    if (r.spec.backends === undefined) put(name, "backends", b["backends"]);
    if (r.spec.logConfig?.enable === undefined) put(name, "logConfig.enable", b["logConfig"]?.["enable"]);
    if (r.spec.logConfig?.sampleRate === undefined)
      put(name, "logConfig.sampleRate", b["logConfig"]?.["sampleRate"]);
  }
  for (const h of live.healthChecks) {
    const name = computeName(h, "healthChecks");
    const r = unmanaged(byName.get(name), "HealthCheck");
    if (!r) {
      put(name, "*", stripVolatile(h));
      continue;
    }
    put(name, "description", h["description"]);
    const s = r.spec as unknown as Record<string, unknown>;
    for (const f of ["checkIntervalSec", "timeoutSec", "healthyThreshold", "unhealthyThreshold", "type"]) {
      if (s[f] === undefined) put(name, f, h[f]);
    }
  }
  for (const n of live.negs) put(`neg/${n["region"]}/${n["name"]}`, "*", n);
  for (const s of live.secrets) put(String(s["name"]), "*", s);
  return out;
}

/** stripVolatile drops nothing today: an unmanaged resource must not change at all. */
function stripVolatile(r: JsonObject): JsonObject {
  return r;
}

/** inventory lists every resource by collection, to check nothing was created or deleted. */
export function inventory(live: Live): string[] {
  return [
    ...live.run.map((s) => `run ${s["name"]}`),
    ...live.sql.map((i) => `sql ${sqlName(i)}`),
    ...live.connectors.map((c) => `connector ${c["name"]}`),
    ...live.backendServices.map((b) => `backendService ${b["name"]}`),
    ...live.healthChecks.map((h) => `healthCheck ${h["name"]}`),
    ...live.negs.map((n) => `neg ${n["name"]}`),
    ...live.secrets.map((s) => `secret ${s["name"]}`),
  ].sort();
}

/** Options of {@link Oracle}. */
export interface OracleOptions {
  readonly sim: Simulator;
  readonly specs: SpecSet;
  /** How long a connector update takes, in simulated seconds (the fixture's `vpcaccess.update`). */
  readonly connectorUpdateSeconds: number;
  /**
   * Most violations kept per kind (a broken state is seen at every later change too).
   * @default 5
   */
  readonly maxPerKind?: number;
}

/**
 * Oracle watches a simulator from the start of a run: call `observe()` at every state
 * change (Simulator.observe) and `rebaseline(name)` right after the chaos itself edits
 * the resource `name`. Violations accumulate in `violations`.
 */
export class Oracle {
  readonly #sim: Simulator;
  readonly #specs: SpecSet;
  readonly #policies: PolicyModel[];
  readonly #start: InvariantResult[];
  readonly #inventory: string;
  readonly #expected: Map<string, string>;
  readonly #maxPerKind: number;
  readonly #seen = new Set<string>();
  readonly #updateMs: number;
  /** Connectors whose update is in flight: the settings before it, until when. */
  readonly #settling = new Map<string, { readonly before: JsonObject; readonly until: number }>();
  #last: Live;
  #lastKey = "";
  /** States judged (distinct ones). */
  states = 0;
  readonly violations: Violation[] = [];

  constructor(options: OracleOptions) {
    this.#sim = options.sim;
    this.#specs = options.specs;
    this.#maxPerKind = options.maxPerKind ?? 5;
    const byAddress = new Map(options.specs.resources.map((r) => [addressOf(r), r]));
    this.#policies = policyModels({
      policies: options.specs.resources.filter(
        (r): r is Resource<"CapacityPolicy"> => r.kind === "CapacityPolicy",
      ),
      shapes: new Map(),
      resources: byAddress,
    });
    this.#updateMs = options.connectorUpdateSeconds * 1000;
    const live = readLive(this.#sim);
    this.#last = live;
    this.#start = checkInvariants(this.#policies, capacityOf(live, this.#specs));
    this.#inventory = inventory(live).join("\n");
    this.#expected = sentinels(live, this.#specs);
  }

  /** start is the invariants of the state the run started from. */
  get start(): readonly InvariantResult[] {
    return this.#start;
  }

  /**
   * settling says whether connector `name` has an update in flight (a person's console
   * edit would be refused meanwhile).
   */
  settling(name: string): boolean {
    const s = this.#settling.get(name);
    return s !== undefined && s.until > this.#sim.clock.now();
  }

  /**
   * observe judges the current state (`change` says what just happened, if known); cheap
   * when nothing the oracle reads has changed.
   */
  observe(change?: StateChange): void {
    const now = this.#sim.clock.now();
    let live: Live;
    try {
      live = readLive(this.#sim);
    } catch (err) {
      this.#add({ kind: "throw", message: `could not read simulator state: ${String(err)}`, atMs: now });
      return;
    }
    if (change?.cause === "write" && change.rpc?.endsWith(".UpdateConnector")) {
      for (const c of live.connectors) {
        const before = this.#last.connectors.find((x) => x["name"] === c["name"]);
        const scaling = (x: JsonObject | undefined) => json([x?.["machineType"], x?.["maxInstances"]]);
        // The operation ends `vpcaccess.update` seconds after the write; a second of slack
        // for the clock moving between the write and this call.
        if (before && scaling(before) !== scaling(c))
          this.#settling.set(String(c["name"]), { before, until: change.time + this.#updateMs - 1000 });
      }
    }
    this.#last = live;
    for (const [name, s] of this.#settling) if (s.until <= now) this.#settling.delete(name);
    const settling = new Map([...this.#settling].map(([name, s]) => [name, s.before]));
    const key = json([live, [...settling.keys()]]);
    if (key === this.#lastKey) return;
    this.#lastKey = key;
    this.states += 1;
    for (const view of ["template", "serving"] as const) {
      const results = checkInvariants(this.#policies, capacityOf(live, this.#specs, settling, view));
      for (const r of regressions(this.#start, results)) {
        const before = this.#start.find((s) => s.id === r.id && s.subject === r.subject);
        this.#add({
          kind: "capacity",
          message: `${r.id} on ${r.subject}${view === "serving" ? " (revision serving traffic)" : ""}: ${r.explanation}${before ? ` (at the start: ${before.explanation})` : " (held at the start)"}`,
          atMs: now,
        });
      }
    }
    const inv = inventory(live).join("\n");
    if (inv !== this.#inventory) {
      this.#add({
        kind: "resources",
        message: `resources changed: before [${this.#inventory.replaceAll("\n", ", ")}], now [${inv.replaceAll("\n", ", ")}]`,
        atMs: now,
      });
    }
    const got = sentinels(live, this.#specs);
    for (const [k, want] of this.#expected) {
      const have = got.get(k) ?? "null";
      if (have !== want)
        this.#add({ kind: "unmanaged", message: `${k}: was ${want}, now ${have}`, atMs: now });
    }
    for (const [k, have] of got) {
      if (!this.#expected.has(k) && have !== "null")
        this.#add({ kind: "unmanaged", message: `${k}: appeared as ${have}`, atMs: now });
    }
  }

  /**
   * rebaseline accepts the current unmanaged values of resource `name` as expected: the
   * chaos just edited it out of band, so what it holds now is what capstan must keep.
   */
  rebaseline(name: string): void {
    const got = sentinels(readLive(this.#sim), this.#specs);
    for (const k of [...this.#expected.keys()]) if (k.startsWith(`${name} `)) this.#expected.delete(k);
    for (const [k, v] of got) if (k.startsWith(`${name} `)) this.#expected.set(k, v);
  }

  /** fail records a violation found outside the state checks (outcome, hang, throw). */
  fail(kind: Violation["kind"], message: string): void {
    this.#add({ kind, message, atMs: this.#sim.clock.now() });
  }

  #add(v: Violation): void {
    const id = `${v.kind}|${v.message}`;
    if (this.#seen.has(id)) return;
    if (this.violations.filter((x) => x.kind === v.kind).length >= this.#maxPerKind) return;
    this.#seen.add(id);
    this.violations.push(v);
  }
}
