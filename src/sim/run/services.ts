import type protobuf from "protobufjs";
import { RUN_LIMITS, type RunContainerLike, totalRunCpu } from "../../gcp/catalog/run.ts";
import { names } from "../../gcp/names.ts";
import { Encoded, encode } from "../core/codec.ts";
import { SimError, STATUS_CODE, type Status } from "../core/errors.ts";
import type { FaultRule } from "../core/faults.ts";
import { paginate } from "../core/paging.ts";
import { fnv1a } from "../core/projects.ts";
import type { Handler, JsonObject, SimContext } from "../core/types.ts";
import { doneOperationJson, operationJson, type RunOperation, type RunOperations } from "./operations.ts";
import { type RevisionRecord, type RunRevisions, shortName } from "./revisions.ts";
import { decodeMessage, stripOutputOnly, validateServiceSpec } from "./validation.ts";

const SVC = "google.cloud.run.v2.Services";

/** ServiceRecord is the simulator's state of one Cloud Run service. */
export interface ServiceRecord {
  /** `projects/{project}/locations/{location}/services/{service}`. */
  readonly name: string;
  readonly project: string;
  readonly location: string;
  readonly id: string;
  /** Desired state: the writable fields of the Service, server defaults filled, enums as names. */
  spec: JsonObject;
  readonly uid: string;
  generation: number;
  observedGeneration: number;
  readonly createTime: string;
  updateTime: string;
  /** updateTime in epoch ms, kept strictly increasing so every write gets a new etag. */
  updateMs: number;
  readonly creator: string;
  lastModifier: string;
  etag: string;
  /** Full revision names, "" before the first one. */
  latestCreatedRevision: string;
  latestReadyRevision: string;
  reconciling: boolean;
  terminalCondition: JsonObject;
  conditions: JsonObject[];
  trafficStatuses: JsonObject[];
  /** Simulated time (epoch ms) by which every operation on the service is done. */
  settleAt: number;
  /** The deploy operation of `latestCreatedRevision` while it runs. */
  pendingDeploy: RunOperation | undefined;
}

/** RunServicesOptions wires {@link RunServices} to the rest of the simulated API. */
export interface RunServicesOptions {
  readonly ctx: SimContext;
  readonly root: protobuf.Root;
  readonly revisions: RunRevisions;
  readonly operations: RunOperations;
  /** The principal API calls are attributed to (creator, lastModifier). */
  readonly caller: () => string;
  /** The project number of a project id (service accounts and URLs embed it). */
  readonly projectNumber: (project: string) => string;
}

/**
 * canonicalJson prints a value with object keys sorted, so two Services with the same
 * content compare equal however their maps were built.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as JsonObject;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

/**
 * revisionId names a revision as Cloud Run does, `<service>-<5-digit generation>-<3
 * chars>` (e.g. `api-00071-q56`); the suffix is random on GCP and a hash here so runs
 * repeat.
 */
export function revisionId(service: string, generation: number): string {
  let h = fnv1a(`${service}/${generation}`);
  let suffix = "";
  for (let i = 0; i < 3; i++) {
    suffix += "abcdefghijklmnopqrstuvwxyz0123456789"[h % 36];
    h = Math.floor(h / 36);
  }
  return `${service}-${String(generation).padStart(5, "0")}-${suffix}`;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/**
 * serviceEtag builds an etag the way Cloud Run's look: a quoted string holding a
 * protobuf Timestamp of the last write (base64) and the base64 resource name, e.g.
 * `"CPGc4rMGELC7gvEB/cHJvamVjdHMv..."`. So it changes on writes only, not when the status
 * moves on (a recorded v2 Service's etag decodes to exactly its updateTime).
 */
export function serviceEtag(name: string, updateMs: number): string {
  const seconds = Math.floor(updateMs / 1000);
  const nanos = (updateMs % 1000) * 1_000_000;
  const ts = Buffer.from([0x08, ...varint(seconds), ...(nanos ? [0x10, ...varint(nanos)] : [])]);
  const strip = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  return `"${strip(ts)}/${strip(Buffer.from(name))}"`;
}

function uuid(ctx: SimContext, kind: string, seed: string): string {
  const n = ctx.nextId(`run.${kind}:`).slice(`run.${kind}:`.length);
  const h = fnv1a(seed).toString(16).padStart(8, "0");
  return `${h}-${n.slice(0, 4)}-4${n.slice(4, 7)}-8${h.slice(0, 3)}-${n.padStart(12, "0")}`;
}

function condition(type: string, state: string, at: string, extra: JsonObject = {}): JsonObject {
  return { type, state, lastTransitionTime: at, ...extra };
}

/**
 * withServerDefaults fills what Cloud Run fills on a Service it stores, so a read shows
 * them and a read-modify-write round trip changes nothing:
 * - ingress INGRESS_TRAFFIC_ALL, launchStage GA, traffic 100% to the latest ready
 *   revision (service.proto; recorded v2 responses show all three);
 * - per container `limits` cpu `1000m` / memory `512Mi`, and cpuIdle true when no
 *   resources are given at all ("true by default. However, if ResourceRequirements is
 *   set, the caller must explicitly set this field", k8s.min.proto);
 * - for a single container without ports, port `http1`/8080, and on the container with
 *   the port the default TCP startup probe (timeout 240, period 240, failureThreshold 1)
 *   (https://cloud.google.com/run/docs/configuring/healthchecks#default-tcp-startup-probe);
 * - template timeout `300s`, the project's default compute service account, concurrency
 *   80 (1 below one vCPU; revision_template.proto), scaling.maxInstanceCount 100
 *   (vendor_settings.proto, "the server default value of 100"), VPC egress
 *   PRIVATE_RANGES_ONLY (vendor_settings.proto).
 * executionEnvironment is left unset: a recorded v2 Service created without one has none.
 */
export function withServerDefaults(spec: JsonObject, projectNumber: string): JsonObject {
  const s = structuredClone(spec);
  s["ingress"] ??= "INGRESS_TRAFFIC_ALL";
  s["launchStage"] ??= "GA";
  if (!Array.isArray(s["traffic"]) || s["traffic"].length === 0) {
    s["traffic"] = [{ type: "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", percent: 100 }];
  }
  s["template"] ??= {};
  const t = s["template"] as JsonObject;
  const containers = (t["containers"] ?? []) as JsonObject[];
  for (const c of containers) {
    if (!c["resources"]) {
      c["resources"] = {
        limits: { cpu: RUN_LIMITS.cpu.default, memory: RUN_LIMITS.memory.default },
        cpuIdle: true,
      };
    } else {
      const r = c["resources"] as JsonObject;
      r["limits"] = {
        cpu: RUN_LIMITS.cpu.default,
        memory: RUN_LIMITS.memory.default,
        ...(r["limits"] ?? {}),
      };
    }
  }
  if (containers.length === 1 && !(containers[0]!["ports"] as unknown[] | undefined)?.length) {
    containers[0]!["ports"] = [{ name: "http1", containerPort: RUN_LIMITS.defaultContainerPort }];
  }
  const ingress = containers.filter((c) => (c["ports"] as unknown[] | undefined)?.length);
  if (ingress.length === 1 && !ingress[0]!["startupProbe"]) {
    const port = ((ingress[0]!["ports"] as JsonObject[])[0]!["containerPort"] as number | undefined) ?? 8080;
    ingress[0]!["startupProbe"] = { ...RUN_LIMITS.probe.defaultStartup, tcpSocket: { port } };
  }
  t["timeout"] ??= `${RUN_LIMITS.timeoutSeconds.default}s`;
  t["serviceAccount"] ??= `${projectNumber}-compute@developer.gserviceaccount.com`;
  if (!t["maxInstanceRequestConcurrency"]) {
    t["maxInstanceRequestConcurrency"] =
      totalRunCpu(containers as RunContainerLike[]) >= 1
        ? RUN_LIMITS.concurrency.default
        : RUN_LIMITS.concurrency.defaultBelowOneCpu;
  }
  t["scaling"] = { ...(t["scaling"] ?? {}) };
  (t["scaling"] as JsonObject)["maxInstanceCount"] ||= RUN_LIMITS.defaultMaxInstanceCount;
  const vpc = t["vpcAccess"] as JsonObject | undefined;
  if (vpc && (vpc["connector"] || (vpc["networkInterfaces"] as unknown[] | undefined)?.length)) {
    vpc["egress"] ??= RUN_LIMITS.defaultVpcEgress;
  }
  return s;
}

function getPath(o: JsonObject, path: readonly string[]): unknown {
  let v: unknown = o;
  for (const k of path) v = v && typeof v === "object" ? (v as JsonObject)[k] : undefined;
  return v;
}

function setPath(o: JsonObject, path: readonly string[], value: unknown): void {
  let cur = o;
  for (const k of path.slice(0, -1)) {
    if (!cur[k] || typeof cur[k] !== "object") cur[k] = {};
    cur = cur[k] as JsonObject;
  }
  const last = path.at(-1)!;
  if (value === undefined) delete cur[last];
  else cur[last] = structuredClone(value);
}

/** maskPaths splits an update mask (`a,b.c`, snake_case or camelCase) into camelCase paths. */
function maskPaths(mask: unknown): string[][] | undefined {
  const raw =
    typeof mask === "string"
      ? mask.split(",")
      : mask && typeof mask === "object" && Array.isArray((mask as JsonObject)["paths"])
        ? ((mask as JsonObject)["paths"] as string[])
        : [];
  const paths = raw.map((p) => p.trim()).filter((p) => p !== "");
  if (paths.length === 0) return undefined;
  return paths.map((p) =>
    p.split(".").map((s) => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())),
  );
}

/**
 * deepMerge applies a console-style patch: objects merge key by key, arrays and scalars
 * replace, `null` deletes.
 */
export function deepMerge(base: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = structuredClone(base);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object") {
      out[k] = deepMerge(out[k] as JsonObject, v as JsonObject);
    } else out[k] = structuredClone(v);
  }
  return out;
}

/** A write's outcome: what the caller asked for and who asked. */
interface WriteRequest {
  readonly caller: string;
  readonly fault: FaultRule | undefined;
}

/**
 * RunServices stores simulated Cloud Run services and serves google.cloud.run.v2.Services.
 * A write bumps generation and etag; a change to `template` creates a revision that
 * deploys for `run.deploy` seconds (default 30) while the service is `reconciling`;
 * other changes settle after `run.update` seconds (default 5).
 */
export class RunServices {
  readonly #o: RunServicesOptions;
  readonly #type: protobuf.Type;
  readonly #listType: protobuf.Type;
  #byName = new Map<string, ServiceRecord>();
  #byParent = new Map<string, Map<string, ServiceRecord>>();
  #revisionSeq = 0;
  /** Wire encodings of Service JSON by content, so listing an unchanged estate is cheap. */
  #wire = new Map<string, JsonObject>();

  constructor(options: RunServicesOptions) {
    this.#o = options;
    this.#type = options.root.lookupType("google.cloud.run.v2.Service");
    this.#listType = options.root.lookupType("google.cloud.run.v2.ListServicesResponse");
  }

  /**
   * wireOf encodes a service for a response, memoised by content: encoding through
   * protobufjs costs ~0.2 ms a service, which made a 1,000-service list the simulator's
   * bottleneck. The key is the JSON itself, so a changed service never hits a stale entry.
   */
  #wireOf(rec: ServiceRecord, numericEnums: boolean): JsonObject {
    const json = this.json(rec);
    const key = `${numericEnums ? 1 : 0}${JSON.stringify(json)}`;
    let hit = this.#wire.get(key);
    if (!hit) {
      hit = encode(this.#type, json, numericEnums);
      this.#wire.set(key, hit);
      // Keep a few encodings per service; drop the oldest beyond that.
      const limit = Math.max(4096, 4 * this.#byName.size);
      for (const old of this.#wire.keys()) {
        if (this.#wire.size <= limit) break;
        this.#wire.delete(old);
      }
    }
    return hit;
  }

  /** clear forgets every service (fixture load). */
  clear(): void {
    this.#byName = new Map();
    this.#byParent = new Map();
    this.#wire = new Map();
  }

  /** get returns a service by full name. */
  get(name: string): ServiceRecord | undefined {
    return this.#byName.get(name);
  }

  /** all returns every service in creation order. */
  all(): ServiceRecord[] {
    return [...this.#byName.values()];
  }

  #store(rec: ServiceRecord): void {
    this.#byName.set(rec.name, rec);
    const parent = `projects/${rec.project}/locations/${rec.location}`;
    const m = this.#byParent.get(parent) ?? new Map<string, ServiceRecord>();
    this.#byParent.set(parent, m);
    m.set(rec.name, rec);
  }

  #mustGet(name: string): ServiceRecord {
    const rec = this.#byName.get(name);
    // The message GCP sends for a missing service (recorded v2 GetService 404).
    if (!rec) throw new SimError(`service "${name}" not found`, { status: "NOT_FOUND" });
    return rec;
  }

  #uri(rec: { project: string; location: string; id: string }, tag?: string): string {
    // Deterministic URL: https://SERVICE-PROJECT_NUMBER.REGION.run.app
    // (https://cloud.google.com/run/docs/triggering/https-request#deterministic).
    const host = `${rec.id}-${this.#o.projectNumber(rec.project)}.${rec.location}.run.app`;
    return tag ? `https://${tag}---${host}` : `https://${host}`;
  }

  /** json renders a service as google.cloud.run.v2.Service. */
  json(rec: ServiceRecord): JsonObject {
    const uri = this.#uri(rec);
    return {
      ...rec.spec,
      name: rec.name,
      uid: rec.uid,
      generation: String(rec.generation),
      createTime: rec.createTime,
      updateTime: rec.updateTime,
      creator: rec.creator,
      lastModifier: rec.lastModifier,
      ...(rec.observedGeneration ? { observedGeneration: String(rec.observedGeneration) } : {}),
      terminalCondition: rec.terminalCondition,
      conditions: rec.conditions,
      ...(rec.latestReadyRevision ? { latestReadyRevision: rec.latestReadyRevision } : {}),
      ...(rec.latestCreatedRevision ? { latestCreatedRevision: rec.latestCreatedRevision } : {}),
      trafficStatuses: rec.trafficStatuses,
      uri,
      urls: [uri],
      // GCP's JSON leaves out false booleans, as proto3 JSON does.
      ...(rec.reconciling ? { reconciling: true } : {}),
      etag: rec.etag,
    };
  }

  #trafficStatuses(rec: ServiceRecord): JsonObject[] {
    // A LATEST target's status carries no revision name, as GCP reports it (recorded v2
    // responses); the serving revision is latestReadyRevision.
    return ((rec.spec["traffic"] ?? []) as JsonObject[]).map((t) => ({
      type: t["type"] ?? "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST",
      ...(t["revision"] ? { revision: t["revision"] } : {}),
      ...(t["percent"] ? { percent: t["percent"] } : {}),
      ...(t["tag"] ? { tag: t["tag"], uri: this.#uri(rec, String(t["tag"])) } : {}),
    }));
  }

  /**
   * desiredSpec turns a Service from a request into the desired state: output-only
   * fields dropped (AIP-203), the update mask applied when there is one (otherwise the
   * body replaces every writable field), server defaults filled, platform rules checked.
   */
  #desiredSpec(
    rec: ServiceRecord | undefined,
    given: JsonObject,
    mask: string[][] | undefined,
    project: string,
  ): JsonObject {
    const incoming = stripOutputOnly(this.#type, given);
    delete incoming["name"];
    delete incoming["etag"];
    let spec = incoming;
    if (rec && mask && !mask.some((p) => p[0] === "*")) {
      spec = structuredClone(rec.spec);
      for (const path of mask) setPath(spec, path, getPath(incoming, path));
    }
    spec = withServerDefaults(spec, this.#o.projectNumber(project));
    validateServiceSpec(spec);
    return spec;
  }

  #newRecord(name: string, caller: string, at: number): ServiceRecord {
    const n = names.runService.parse(name)!;
    const iso = new Date(at).toISOString();
    return {
      name,
      project: n.project,
      location: n.location,
      id: n.service,
      spec: {},
      uid: uuid(this.#o.ctx, "uid", name),
      generation: 0,
      observedGeneration: 0,
      createTime: iso,
      updateTime: iso,
      updateMs: at,
      creator: caller,
      lastModifier: caller,
      etag: serviceEtag(name, at),
      latestCreatedRevision: "",
      latestReadyRevision: "",
      reconciling: false,
      terminalCondition: condition("Ready", "CONDITION_PENDING", iso),
      conditions: [],
      trafficStatuses: [],
      settleAt: at,
      pendingDeploy: undefined,
    };
  }

  #newRevision(
    rec: ServiceRecord,
    id: string,
    caller: string,
    state: RevisionRecord["state"],
  ): RevisionRecord {
    const at = this.#o.ctx.now();
    const iso = new Date(at).toISOString();
    const name = `${rec.name}/revisions/${id}`;
    const r: RevisionRecord = {
      name,
      service: rec.name,
      uid: uuid(this.#o.ctx, "revision", name),
      seq: ++this.#revisionSeq,
      createTime: iso,
      updateTime: iso,
      creator: caller,
      etag: serviceEtag(name, Math.floor(at)),
      launchStage: String(rec.spec["launchStage"] ?? "GA"),
      template: structuredClone(rec.spec["template"] as JsonObject),
      state,
      message: "",
      failureCode: 0,
      lastTransitionTime: iso,
    };
    this.#o.revisions.add(r);
    return r;
  }

  /**
   * settle ends a service's reconciliation once its latest generation's work is done:
   * success when the latest created revision is ready and every traffic target exists;
   * otherwise the failure GCP reports, with traffic left where it was. Returns the
   * error the operation ends with, if any.
   */
  #settle(rec: ServiceRecord, at: string, fault: FaultRule | undefined): RunOperation["error"] {
    const latest = rec.latestCreatedRevision ? this.#o.revisions.get(rec.latestCreatedRevision) : undefined;
    if (latest?.state === "RECONCILING") rec.pendingDeploy?.finish();
    rec.reconciling = false;
    const routes = rec.conditions.find((c) => c["type"] === "RoutesReady");
    const routesOk = condition("RoutesReady", "CONDITION_SUCCEEDED", at);
    const fail = (message: string, code: number, routesFailed: boolean): RunOperation["error"] => {
      rec.terminalCondition = condition("Ready", "CONDITION_FAILED", at, {
        message,
        severity: "ERROR",
        reason: routesFailed ? "UNKNOWN" : "REVISION_FAILED",
      });
      rec.conditions = [
        routesFailed
          ? condition("RoutesReady", "CONDITION_FAILED", at, { message, severity: "ERROR" })
          : routes && routes["state"] === "CONDITION_SUCCEEDED"
            ? routes
            : routesOk,
        routesFailed
          ? condition("ConfigurationsReady", "CONDITION_SUCCEEDED", at)
          : condition("ConfigurationsReady", "CONDITION_FAILED", at, {
              message,
              severity: "ERROR",
              reason: "REVISION_FAILED",
            }),
      ];
      return { code, message };
    };
    if (latest?.state === "FAILED") {
      // "If reconciliation failed, traffic_statuses, observed_generation, and
      // latest_ready_revision will have the state of the last serving revision"
      // (service.proto, Service.reconciling).
      return fail(
        `Revision '${shortName(latest.name)}' is not ready and cannot serve traffic. ${latest.message}`,
        latest.failureCode,
        false,
      );
    }
    if (fault) {
      const status: Status = fault.failOperation?.status ?? "FAILED_PRECONDITION";
      return fail(fault.failOperation?.message ?? `Injected fault ${fault.id}`, STATUS_CODE[status], true);
    }
    for (const t of (rec.spec["traffic"] ?? []) as JsonObject[]) {
      if (!t["revision"]) continue;
      const target = this.#o.revisions.get(`${rec.name}/revisions/${t["revision"]}`);
      if (target?.state !== "READY") {
        // GCP fails the operation with INTERNAL (13) and this text when a traffic target
        // is missing (reported in terraform-google-modules/terraform-docs-samples#269).
        return fail(
          `Revision '${t["revision"]}' does not exist or is deleted. Update all traffic to route to currently available revisions.`,
          STATUS_CODE.INTERNAL,
          true,
        );
      }
    }
    rec.observedGeneration = rec.generation;
    rec.trafficStatuses = this.#trafficStatuses(rec);
    rec.terminalCondition = condition("Ready", "CONDITION_SUCCEEDED", at);
    rec.conditions = [routesOk, condition("ConfigurationsReady", "CONDITION_SUCCEEDED", at)];
    return undefined;
  }

  /**
   * write applies a desired state to a service (new when `generation` is 0) and returns
   * the long-running operation that tracks it. A request that changes nothing still gets
   * an operation, which changes nothing either.
   */
  #write(rec: ServiceRecord, desired: JsonObject, w: WriteRequest): RunOperation {
    const ctx = this.#o.ctx;
    const now = ctx.now();
    const isNew = rec.generation === 0;
    const changed = isNew || canonicalJson(desired) !== canonicalJson(rec.spec);
    const templateChanged =
      isNew || canonicalJson(desired["template"]) !== canonicalJson(rec.spec["template"]);
    const nowIso = new Date(now).toISOString();
    let revision: RevisionRecord | undefined;
    if (changed) {
      rec.generation += 1;
      rec.spec = desired;
      rec.updateMs = Math.max(Math.floor(now), rec.updateMs + 1);
      rec.updateTime = new Date(rec.updateMs).toISOString();
      rec.etag = serviceEtag(rec.name, rec.updateMs);
      rec.lastModifier = w.caller;
      if (templateChanged) {
        const t = desired["template"] as JsonObject;
        revision = this.#newRevision(
          rec,
          String(t["revision"] || revisionId(rec.id, rec.generation)),
          w.caller,
          "RECONCILING",
        );
        rec.latestCreatedRevision = revision.name;
      }
      rec.reconciling = true;
      rec.terminalCondition = condition("Ready", "CONDITION_RECONCILING", nowIso);
      rec.conditions = [
        condition("RoutesReady", "CONDITION_RECONCILING", nowIso),
        templateChanged
          ? condition("ConfigurationsReady", "CONDITION_RECONCILING", nowIso)
          : (rec.conditions.find((c) => c["type"] === "ConfigurationsReady") ??
            condition("ConfigurationsReady", "CONDITION_SUCCEEDED", nowIso)),
      ];
    }
    const own = templateChanged ? ctx.durationOf("run.deploy", 30) : ctx.durationOf("run.update", 5);
    // A later write cannot settle before earlier work on the same service is done.
    const seconds = changed ? Math.max(own, (rec.settleAt - now) / 1000) : own;
    if (changed) rec.settleAt = Math.max(rec.settleAt, now + seconds * 1000);
    const generation = rec.generation;
    const parent = `projects/${rec.project}/locations/${rec.location}`;
    const op = this.#o.operations.start(parent, seconds, this.json(rec), (self, at) => {
      const atIso = new Date(at).toISOString();
      let error: RunOperation["error"];
      if (revision) {
        if (rec.pendingDeploy === self) rec.pendingDeploy = undefined;
        revision.lastTransitionTime = atIso;
        revision.updateTime = atIso;
        if (w.fault) {
          revision.state = "FAILED";
          revision.message =
            w.fault.failOperation?.message ??
            "The user-provided container failed to start and listen on the port defined provided by the PORT=8080 environment variable within the allocated timeout.";
          revision.failureCode = STATUS_CODE[w.fault.failOperation?.status ?? "FAILED_PRECONDITION"];
          error = {
            code: revision.failureCode,
            message: `Revision '${shortName(revision.name)}' is not ready and cannot serve traffic. ${revision.message}`,
          };
        } else {
          revision.state = "READY";
          if (rec.latestCreatedRevision === revision.name) rec.latestReadyRevision = revision.name;
        }
      }
      if (changed && generation === rec.generation)
        error = this.#settle(rec, atIso, revision ? undefined : w.fault) ?? error;
      else if (!revision && w.fault) {
        error = {
          code: STATUS_CODE[w.fault.failOperation?.status ?? "FAILED_PRECONDITION"],
          message: w.fault.failOperation?.message ?? `Injected fault ${w.fault.id}`,
        };
      }
      self.metadata = this.json(rec);
      if (error) self.error = error;
      else self.response = this.json(rec);
    });
    if (revision) rec.pendingDeploy = op;
    return op;
  }

  /**
   * checkRevisionName refuses a template that names an existing revision with a
   * different configuration, as GCP does with 409 "Revision named '…' with different
   * configuration already exists." (googleapis/google-cloud-python#14259).
   */
  #checkRevisionName(rec: ServiceRecord | undefined, desired: JsonObject): void {
    if (!rec) return;
    const t = desired["template"] as JsonObject;
    const id = t["revision"] as string | undefined;
    if (!id || canonicalJson(t) === canonicalJson(rec.spec["template"])) return;
    if (this.#o.revisions.get(`${rec.name}/revisions/${id}`)) {
      throw new SimError(`Revision named '${id}' with different configuration already exists.`, {
        status: "ALREADY_EXISTS",
      });
    }
  }

  /** wouldBe renders the Service a validateOnly write would produce, without storing anything. */
  #wouldBe(rec: ServiceRecord | undefined, name: string, desired: JsonObject, caller: string): JsonObject {
    const base = rec ?? this.#newRecord(name, caller, this.#o.ctx.now());
    return this.json({ ...base, spec: desired, generation: base.generation + 1, lastModifier: caller });
  }

  /**
   * update serves UpdateService (and CreateService, which is an update of a service
   * that does not exist yet): decode, look up, check the etag, build and validate the
   * desired state, then start the operation.
   */
  #update(
    given: JsonObject | undefined,
    opts: {
      readonly mask: unknown;
      readonly validateOnly: boolean;
      readonly create: boolean;
      readonly allowMissing: boolean;
      readonly takeFault: () => FaultRule | undefined;
    },
  ): JsonObject {
    if (!given?.["name"]) {
      throw new SimError("service: field is required", { status: "INVALID_ARGUMENT" });
    }
    const name = String(given["name"]);
    const n = names.runService.parse(name);
    if (!n) throw new SimError(`Invalid resource name "${name}"`, { status: "INVALID_ARGUMENT" });
    const service = decodeMessage(this.#type, given, "service");
    let rec = this.#byName.get(name);
    if (opts.create && rec) {
      // hashicorp/terraform-provider-google#16591: "Error 409: Resource already exists."
      throw new SimError("Resource already exists.", { status: "ALREADY_EXISTS" });
    }
    if (!rec && !opts.create && !opts.allowMissing) this.#mustGet(name);
    const etag = service["etag"] as string | undefined;
    if (rec && etag && etag !== rec.etag) {
      // AIP-154: a stale etag is ABORTED (HTTP 409). GCP's exact wording for Cloud Run
      // is not documented; this names both values so a caller can see the race.
      throw new SimError(
        `The etag ${etag} does not match the current etag ${rec.etag} of service "${name}"; read the service again and retry.`,
        { status: "ABORTED", reason: "ETAG_MISMATCH", domain: "run.googleapis.com" },
      );
    }
    const desired = this.#desiredSpec(
      rec,
      service,
      opts.create ? undefined : maskPaths(opts.mask),
      n.project,
    );
    this.#checkRevisionName(rec, desired);
    const caller = this.#o.caller();
    if (opts.validateOnly) return doneOperationJson(this.#wouldBe(rec, name, desired, caller));
    if (!rec) {
      rec = this.#newRecord(name, caller, this.#o.ctx.now());
      this.#store(rec);
    }
    return operationJson(this.#write(rec, desired, { caller, fault: opts.takeFault() }));
  }

  /**
   * edit applies an out-of-band change as a person in the console would: the patch is
   * deep-merged into the service's desired state, validated like an API write, and
   * deployed (a template change makes a revision). Generation and etag move on.
   */
  edit(name: string, patch: JsonObject, caller: string): JsonObject {
    const rec = this.#byName.get(name);
    if (!rec) throw new TypeError(`run: no service \`${name}\``);
    const merged = deepMerge(rec.spec, patch);
    const desired = this.#desiredSpec(
      rec,
      decodeMessage(this.#type, merged, "service"),
      undefined,
      rec.project,
    );
    this.#checkRevisionName(rec, desired);
    this.#write(rec, desired, { caller, fault: undefined });
    return this.json(rec);
  }

  /**
   * seed stores a service from a fixture: `service` in the API's JSON shape (output
   * fields such as generation or createTime are kept when given), its revisions as
   * already deployed, and a settled, ready status.
   */
  seed(service: JsonObject, revisions: readonly RevisionRecord[], caller: string): ServiceRecord {
    const name = String(service["name"]);
    const n = names.runService.parse(name);
    if (!n) throw new TypeError(`run: bad service name \`${name}\``);
    const decoded = decodeMessage(this.#type, service, "service");
    const spec = this.#desiredSpec(undefined, decoded, undefined, n.project);
    const now = Math.floor(this.#o.ctx.now());
    const rec = this.#newRecord(name, String(decoded["creator"] ?? caller), now);
    const kept = {
      uid: decoded["uid"] ?? rec.uid,
      createTime: decoded["createTime"] ?? rec.createTime,
    };
    Object.assign(rec, kept);
    rec.spec = spec;
    rec.generation = Number(decoded["generation"] ?? 1);
    rec.lastModifier = String(decoded["lastModifier"] ?? rec.creator);
    if (decoded["updateTime"]) {
      rec.updateTime = String(decoded["updateTime"]);
      rec.updateMs = Date.parse(rec.updateTime);
      rec.etag = serviceEtag(name, rec.updateMs);
    }
    for (const r of revisions) {
      this.#revisionSeq = Math.max(this.#revisionSeq, r.seq);
      this.#o.revisions.add(r);
    }
    const want = (decoded["latestCreatedRevision"] as string | undefined) ?? revisions.at(-1)?.name;
    let latest = want ? this.#o.revisions.get(want) : undefined;
    if (!latest) {
      // A fixture may name its serving revision (e.g. to match monitoring labels);
      // otherwise it is named as GCP would have named it at this generation.
      const named = want?.startsWith(`${name}/revisions/`) ? shortName(want) : undefined;
      const id =
        named ??
        String((spec["template"] as JsonObject)["revision"] || revisionId(n.service, rec.generation));
      latest = this.#newRevision(rec, id, rec.creator, "READY");
    }
    rec.latestCreatedRevision = latest.name;
    const ready = [...revisions, latest].filter((r) => r.state === "READY").at(-1);
    rec.latestReadyRevision = ready?.name ?? "";
    this.#store(rec);
    this.#settle(rec, rec.updateTime, undefined);
    // A fixture whose latest revision failed is still serving the generation before it.
    if (latest.state === "FAILED") rec.observedGeneration = Math.max(0, rec.generation - 1);
    return rec;
  }

  /** nextRevisionSeq hands out creation order for revisions made outside this class. */
  nextRevisionSeq(): number {
    return ++this.#revisionSeq;
  }

  /** handlers serve google.cloud.run.v2.Services. */
  handlers(): Record<string, Handler> {
    return {
      [`${SVC}.ListServices`]: (req) => {
        const parent = String(req.body["parent"]);
        const p = names.runLocation.parse(parent);
        if (!p) throw new SimError(`Invalid resource name "${parent}"`, { status: "INVALID_ARGUMENT" });
        if (p.location === "-") {
          // ListServicesRequest.parent: "Location must be a valid Google Cloud region,
          // and cannot be the "-" wildcard" (service.proto).
          throw new SimError(
            `Invalid location "-" in "${parent}": location must be a valid Google Cloud region, and cannot be the "-" wildcard.`,
            { status: "INVALID_ARGUMENT" },
          );
        }
        const all = [...(this.#byParent.get(parent)?.values() ?? [])];
        // Page sizes are not documented for v2 ListServices; 100 by default and at most
        // 1000 keep a 1,000-service region to a handful of pages.
        const page = paginate(all, req.body["pageSize"], req.body["pageToken"], {
          defaultSize: 100,
          maxSize: 1000,
        });
        return new Encoded((numeric) => ({
          ...encode(this.#listType, { nextPageToken: page.nextPageToken ?? "" }, numeric),
          services: page.items.map((r) => this.#wireOf(r, numeric)),
        }));
      },
      [`${SVC}.GetService`]: (req) => {
        const rec = this.#mustGet(String(req.body["name"]));
        return new Encoded((numeric) => this.#wireOf(rec, numeric));
      },
      [`${SVC}.UpdateService`]: (req) =>
        this.#update(req.body["service"] as JsonObject | undefined, {
          mask: req.body["updateMask"],
          validateOnly: req.body["validateOnly"] === true,
          create: false,
          allowMissing: req.body["allowMissing"] === true,
          takeFault: () => req.takeOperationFault(),
        }),
      [`${SVC}.CreateService`]: (req) => {
        const parent = String(req.body["parent"]);
        const id = String(req.body["serviceId"] ?? "");
        // Service names: lowercase letters, digits and hyphens, starting with a letter,
        // not ending with a hyphen, at most 49 characters
        // (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create).
        if (!/^[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?$/.test(id)) {
          throw new SimError(`service_id: "${id}" is not a valid service name`, {
            status: "INVALID_ARGUMENT",
          });
        }
        const service = {
          ...((req.body["service"] as JsonObject | undefined) ?? {}),
          name: `${parent}/services/${id}`,
        };
        return this.#update(service, {
          mask: undefined,
          validateOnly: req.body["validateOnly"] === true,
          create: true,
          allowMissing: false,
          takeFault: () => req.takeOperationFault(),
        });
      },
    };
  }
}
