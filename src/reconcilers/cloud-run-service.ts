import type { protos } from "@google-cloud/run";
import type { protos as secretProtos } from "@google-cloud/secret-manager";
import type { FieldChange, PathSegment } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { errorCode, gaxCallOptions } from "../gcp/call.ts";
import { RUN_LIMITS } from "../gcp/catalog/run.ts";
import { enumName, protoEnum } from "../gcp/enums.ts";
import { classify } from "../gcp/errors.ts";
import { names } from "../gcp/names.ts";
import { getOrUndefined, listAllPages } from "../gcp/read.ts";
import { RUN_API, runOperationPoller } from "../gcp/run.ts";
import type { Disruption } from "../plan/model.ts";
import type {
  CloudRunServiceSpec,
  EnvVar,
  ProbeSpec,
  Resource,
  RevisionTemplateSpec,
  ScalingSpec,
} from "../spec/types.ts";
import { formatCpu, formatMemory, parseCpu, parseMemory } from "../spec/units.ts";
import type {
  CheckResult,
  Observed,
  Readiness,
  Reconciler,
  ResourceRef,
  Scope,
  WriteOptions,
  WriteResult,
} from "./types.ts";

type IService = protos.google.cloud.run.v2.IService;
type IRevisionTemplate = protos.google.cloud.run.v2.IRevisionTemplate;
type IContainer = protos.google.cloud.run.v2.IContainer;
type IEnvVar = protos.google.cloud.run.v2.IEnvVar;
type IProbe = protos.google.cloud.run.v2.IProbe;
type IVolume = protos.google.cloud.run.v2.IVolume;
type IVpcAccess = protos.google.cloud.run.v2.IVpcAccess;
type ISecretVersion = secretProtos.google.cloud.secretmanager.v1.ISecretVersion;

const ExecutionEnvironment = protoEnum("run", "google.cloud.run.v2.ExecutionEnvironment");
const VpcEgress = protoEnum("run", "google.cloud.run.v2.VpcAccess.VpcEgress");
const ConditionState = protoEnum("run", "google.cloud.run.v2.Condition.State");
const IngressTraffic = protoEnum("run", "google.cloud.run.v2.IngressTraffic");
const SecretVersionState = protoEnum("secretmanager", "google.cloud.secretmanager.v1.SecretVersion.State");
const SECRETS_API = "secretmanager.googleapis.com";

/**
 * RUN_LIST_PAGE_SIZE is the `pageSize` capstan asks services.list for. ListServicesRequest
 * documents neither a default nor a maximum (google/cloud/run/v2/service.proto); a server
 * that allows fewer coerces the size down (https://google.aip.dev/158) and capstan follows
 * the page tokens either way.
 */
export const RUN_LIST_PAGE_SIZE = 500;

/**
 * CLOUD_SQL_VOLUME and CLOUD_SQL_MOUNT_PATH are what capstan names the volume that mounts
 * Cloud SQL instances when a service has none yet, and where it mounts it: "For Cloud SQL
 * volumes, it can be left empty, or must otherwise be `/cloudsql`" (VolumeMount.mount_path
 * in google/cloud/run/v2/k8s.min.proto); `cloudsql` is the name gcloud and the Terraform
 * provider's Cloud Run v2 examples use.
 */
export const CLOUD_SQL_VOLUME = "cloudsql";
/** See {@link CLOUD_SQL_VOLUME}. */
export const CLOUD_SQL_MOUNT_PATH = "/cloudsql";

/**
 * PROBE_DEFAULTS are the values Cloud Run uses for a probe field left unset or 0:
 * "Defaults to 0 seconds", "Defaults to 1 second", "Default to 10 seconds", "Defaults to
 * 3" (Probe in google/cloud/run/v2/k8s.min.proto).
 */
export const PROBE_DEFAULTS = {
  initialDelay: 0,
  timeout: RUN_LIMITS.probe.defaults.timeoutSeconds,
  period: RUN_LIMITS.probe.defaults.periodSeconds,
  failureThreshold: RUN_LIMITS.probe.defaults.failureThreshold,
} as const;

/**
 * OUTPUT_ONLY_FIELDS are the Service fields marked OUTPUT_ONLY in
 * google/cloud/run/v2/service.proto. GCP ignores them in a request (AIP-203), so sending
 * them back is harmless; capstan leaves them out so a request carries only what it means.
 * `etag` is not among them: it is OPTIONAL there and is the write's precondition.
 */
const OUTPUT_ONLY_FIELDS = [
  "uid",
  "generation",
  "createTime",
  "updateTime",
  "deleteTime",
  "expireTime",
  "creator",
  "lastModifier",
  "urls",
  "observedGeneration",
  "terminalCondition",
  "conditions",
  "latestReadyRevision",
  "latestCreatedRevision",
  "trafficStatuses",
  "uri",
  "satisfiesPzs",
  "threatDetectionEnabled",
  "reconciling",
] as const;

/** The gRPC codes with which UpdateService refuses a change rather than failing to answer. */
const REFUSALS = new Set<number>([3, 5, 6, 9, 10, 11]);

/**
 * CloudRunServiceWriteError is a change this reconciler refuses to write. Codes:
 * - `CONTAINER_MISMATCH`: the spec's `containerName` names a container other than the one
 *   capstan reads (the one serving requests), or one the service does not have;
 * - `UNKNOWN_REGION`: a Cloud SQL instance whose region capstan cannot tell, so it cannot
 *   print its connection name `project:region:instance`;
 * - `UNWRITABLE_FIELD`: a path that is not part of the managed shape.
 */
export class CloudRunServiceWriteError extends Error {
  readonly code: "CONTAINER_MISMATCH" | "UNKNOWN_REGION" | "UNWRITABLE_FIELD";

  constructor(code: CloudRunServiceWriteError["code"], message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "CloudRunServiceWriteError";
    this.code = code;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** ensure returns `obj[key]`, first setting it to `make()` when it is null or undefined. */
function ensure<T extends object, K extends keyof T>(
  obj: T,
  key: K,
  make: () => NonNullable<T[K]>,
): NonNullable<T[K]> {
  const v = obj[key];
  if (v !== null && v !== undefined) return v as NonNullable<T[K]>;
  const fresh = make();
  obj[key] = fresh;
  return fresh;
}

/** positive reads an int32 that proto3 reports as 0 (or omits) when unset. */
function positive(v: number | null | undefined): number | undefined {
  return typeof v === "number" && v > 0 ? v : undefined;
}

/** seconds reads a google.protobuf.Duration as the client hands it over (int64 seconds as a string). */
function seconds(d: { seconds?: unknown; nanos?: unknown } | null | undefined): number | undefined {
  if (!d) return undefined;
  const s = Number(d.seconds ?? 0) + Number(d.nanos ?? 0) / 1e9;
  return Number.isFinite(s) && s > 0 ? s : undefined;
}

function short(revision: string | null | undefined): string {
  const r = revision ?? "";
  return r.slice(r.lastIndexOf("/") + 1);
}

function parseServiceName(name: string): { project: string; location: string; service: string } {
  const n = names.runService.parse(name);
  if (!n) throw new TypeError(`not a Cloud Run service name: \`${name}\``);
  return n;
}

/**
 * servingContainer picks the container the spec's container settings apply to: the one
 * named `containerName`, else the one that serves requests — the container with a port
 * ("exactly one container ... must have a port" in a multi-container service,
 * https://cloud.google.com/run/docs/deploying#sidecars) — else the only one.
 */
export function servingContainer(
  containers: readonly IContainer[],
  containerName?: string,
): IContainer | undefined {
  if (containerName !== undefined) return containers.find((c) => c.name === containerName);
  const withPorts = containers.filter((c) => (c.ports?.length ?? 0) > 0);
  // Without a port anywhere (not a deployable multi-container service), the first one.
  return withPorts[0] ?? containers[0];
}

/** containerPort is the port probes default to: "container.ports[0].containerPort" (k8s.min.proto). */
function containerPort(c: IContainer): number {
  return positive(c.ports?.[0]?.containerPort) ?? RUN_LIMITS.defaultContainerPort;
}

function cpuOf(c: IContainer): number {
  return parseCpu(c.resources?.limits?.["cpu"] ?? RUN_LIMITS.cpu.default) ?? 1;
}

/** secretFullName turns a SecretKeySelector.secret (an id in the service's project, or a full name) into a full name. */
function secretFullName(secret: string, project: string): string {
  return secret.startsWith("projects/") ? secret : names.secret.format({ project, secret });
}

/**
 * secretRefName prints a secret for SecretKeySelector.secret: "{secret_name} if the secret
 * is in the same project. projects/{project}/secrets/{secret_name} if the secret is in a
 * different project" (k8s.min.proto).
 */
function secretRefName(fullName: string, project: string): string {
  const n = names.secret.parse(fullName);
  return n && n.project === project ? n.secret : fullName;
}

/** sqlFullName turns a connection name `project:region:instance` into `projects/p/instances/i`. */
function sqlFullName(connection: string): string {
  const m = /^([^:/]+):([^:/]+):([^:/]+)$/.exec(connection);
  return m ? names.sqlInstance.format({ project: m[1]!, instance: m[3]! }) : connection;
}

function normalizeProbe(p: IProbe | null | undefined, port: number): Record<string, unknown> | undefined {
  if (!p) return undefined;
  const out: Record<string, unknown> = {};
  if (p.httpGet) out["httpGet"] = { path: p.httpGet.path || "/", port: positive(p.httpGet.port) ?? port };
  else if (p.tcpSocket) out["tcpSocket"] = { port: positive(p.tcpSocket.port) ?? port };
  else if (p.grpc) {
    // "If this is not specified, the default behavior is defined by gRPC" (GRPCAction.service):
    // no value to fill in.
    out["grpc"] = {
      port: positive(p.grpc.port) ?? port,
      ...(p.grpc.service ? { service: p.grpc.service } : {}),
    };
  }
  out["initialDelay"] = p.initialDelaySeconds ?? PROBE_DEFAULTS.initialDelay;
  out["period"] = positive(p.periodSeconds) ?? PROBE_DEFAULTS.period;
  out["timeout"] = positive(p.timeoutSeconds) ?? PROBE_DEFAULTS.timeout;
  out["failureThreshold"] = positive(p.failureThreshold) ?? PROBE_DEFAULTS.failureThreshold;
  return out;
}

function normalizeEnv(env: readonly IEnvVar[], project: string): Record<string, unknown>[] {
  return env.map((e) => {
    const name = String(e.name ?? "");
    const ref = e.valueSource?.secretKeyRef;
    if (ref) {
      return {
        name,
        secret: {
          name: secretFullName(String(ref.secret ?? ""), project),
          version: String(ref.version ?? ""),
        },
      };
    }
    return { name, value: e.value ?? "" };
  });
}

function cloudSqlVolumes(t: IRevisionTemplate): IVolume[] {
  return (t.volumes ?? []).filter((v) => v.cloudSqlInstance);
}

function normalizeTemplate(t: IRevisionTemplate, project: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const containers = t.containers ?? [];
  out["scaling"] = {
    minInstances: t.scaling?.minInstanceCount ?? 0,
    // "When unspecified, the field is set to the server default value of 100" (RevisionScaling).
    maxInstances: positive(t.scaling?.maxInstanceCount) ?? RUN_LIMITS.defaultMaxInstanceCount,
  };
  const totalCpu = containers.reduce((n, c) => n + cpuOf(c), 0);
  // "If not specified or 0, concurrency defaults to 80 when requested CPU >= 1 and defaults
  // to 1 when requested CPU < 1" (RevisionTemplate.max_instance_request_concurrency).
  out["maxConcurrency"] =
    positive(t.maxInstanceRequestConcurrency) ??
    (totalCpu >= 1 ? RUN_LIMITS.concurrency.default : RUN_LIMITS.concurrency.defaultBelowOneCpu);
  out["timeout"] = seconds(t.timeout) ?? RUN_LIMITS.timeoutSeconds.default;
  // Unspecified stays unstated: "Cloud Run selects the execution environment based on the
  // features used" (https://cloud.google.com/run/docs/about-execution-environments), so no
  // spec value is its equal.
  const env = enumName(t.executionEnvironment, ExecutionEnvironment);
  if (env === "EXECUTION_ENVIRONMENT_GEN1") out["executionEnvironment"] = "gen1";
  if (env === "EXECUTION_ENVIRONMENT_GEN2") out["executionEnvironment"] = "gen2";
  const c = servingContainer(containers);
  if (c) {
    if (c.name) out["containerName"] = c.name;
    const r = c.resources;
    out["resources"] = {
      cpu: cpuOf(c),
      memory: parseMemory(r?.limits?.["memory"] ?? RUN_LIMITS.memory.default) ?? 0,
      // "true by default. However, if ResourceRequirements is set, the caller must explicitly
      // set this field to true to preserve the default behavior" (ResourceRequirements.cpu_idle).
      cpuIdle: r ? r.cpuIdle === true : true,
      startupCpuBoost: r?.startupCpuBoost === true,
    };
    const port = containerPort(c);
    const startup = normalizeProbe(c.startupProbe, port);
    if (startup) out["startupProbe"] = startup;
    const liveness = normalizeProbe(c.livenessProbe, port);
    if (liveness) out["livenessProbe"] = liveness;
    out["env"] = normalizeEnv(c.env ?? [], project);
  }
  const vpc = t.vpcAccess;
  const egress = enumName(vpc?.egress, VpcEgress);
  out["vpcAccess"] = {
    ...(vpc?.connector ? { connector: vpc.connector } : {}),
    // "If not provided, it defaults to PRIVATE_RANGES_ONLY" (VpcAccess.egress).
    egress:
      egress === undefined || egress === "VPC_EGRESS_UNSPECIFIED" ? RUN_LIMITS.defaultVpcEgress : egress,
  };
  out["cloudSqlInstances"] = cloudSqlVolumes(t).flatMap((v) =>
    (v.cloudSqlInstance?.instances ?? []).map(sqlFullName),
  );
  return out;
}

function scalingShape(s: ScalingSpec | undefined): Record<string, unknown> | undefined {
  if (!s) return undefined;
  const out: Record<string, unknown> = {};
  if (s.minInstances !== undefined) out["minInstances"] = s.minInstances;
  if (s.maxInstances !== undefined) out["maxInstances"] = s.maxInstances;
  return Object.keys(out).length ? out : undefined;
}

function probeShape(p: ProbeSpec | undefined): Record<string, unknown> | undefined {
  if (!p) return undefined;
  // A spec's probe is already free of unstated keys (src/spec/normalize.ts); copy it so
  // callers cannot reach the spec through the shape.
  const out = structuredClone(p) as Record<string, unknown>;
  return Object.keys(out).length ? out : undefined;
}

/**
 * envShape is the managed shape of the spec's env list, keyed by `name`. A literal is
 * `{name, value}` and a secret `{name, secret: {name, version}}`, as normalize reads them.
 * An `unset: true` variable is `{name, value: null, secret: null}`: both forms must be
 * absent. Against a live literal the diff shows `value: "x" → null`, against a live secret
 * reference `secret: {…} → null`, and write removes the variable. (A variable already
 * absent is only satisfied if diffManaged treats a keyed entry whose other fields are all
 * null as satisfied by a missing entry, as it does for a missing field.)
 */
function envShape(env: readonly EnvVar[]): Record<string, unknown>[] {
  return env.map((e) => {
    if ("unset" in e) return { name: e.name, value: null, secret: null };
    if ("secret" in e) return { name: e.name, secret: { name: e.secret.name, version: e.secret.version } };
    return { name: e.name, value: e.value };
  });
}

function templateShape(t: RevisionTemplateSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const scaling = scalingShape(t.scaling);
  if (scaling) out["scaling"] = scaling;
  if (t.maxConcurrency !== undefined) out["maxConcurrency"] = t.maxConcurrency;
  if (t.timeout !== undefined) out["timeout"] = t.timeout;
  if (t.executionEnvironment !== undefined) out["executionEnvironment"] = t.executionEnvironment;
  if (t.containerName !== undefined) out["containerName"] = t.containerName;
  if (t.resources) {
    const r: Record<string, unknown> = {};
    if (t.resources.cpu !== undefined) r["cpu"] = t.resources.cpu;
    if (t.resources.memory !== undefined) r["memory"] = t.resources.memory;
    if (t.resources.cpuIdle !== undefined) r["cpuIdle"] = t.resources.cpuIdle;
    if (t.resources.startupCpuBoost !== undefined) r["startupCpuBoost"] = t.resources.startupCpuBoost;
    if (Object.keys(r).length) out["resources"] = r;
  }
  const startup = probeShape(t.startupProbe);
  if (startup) out["startupProbe"] = startup;
  const liveness = probeShape(t.livenessProbe);
  if (liveness) out["livenessProbe"] = liveness;
  if (t.vpcAccess) {
    const v: Record<string, unknown> = {};
    if (t.vpcAccess.connector) v["connector"] = t.vpcAccess.connector.name;
    if (t.vpcAccess.egress !== undefined) v["egress"] = t.vpcAccess.egress;
    if (Object.keys(v).length) out["vpcAccess"] = v;
  }
  if (t.env && t.env.length > 0) out["env"] = envShape(t.env);
  if (t.cloudSqlInstances !== undefined) out["cloudSqlInstances"] = t.cloudSqlInstances.map((r) => r.name);
  return out;
}

/**
 * readinessOf judges a service by its reconciliation status (Service.reconciling in
 * service.proto): while `reconciling` it is on its way; once done, "If reconciliation
 * succeeded, ... `latest_ready_revision` and `latest_created_revision`" match, and "If
 * reconciliation failed ... Additional information on the failure can be found in
 * `terminal_condition`".
 */
function readinessOf(live: IService): Readiness {
  const created = short(live.latestCreatedRevision);
  const ready = short(live.latestReadyRevision);
  const state = enumName(live.terminalCondition?.state, ConditionState) ?? "STATE_UNSPECIFIED";
  if (live.reconciling) {
    return {
      ready: false,
      reason:
        created && created !== ready
          ? `revision ${created} is deploying (serving ${ready || "nothing yet"})`
          : "service is reconciling",
    };
  }
  if (state === "CONDITION_FAILED") {
    const message = live.terminalCondition?.message || "no reason given";
    return {
      ready: false,
      failed: true,
      reason: `revision ${created || "(none)"} failed: ${message}${ready && ready !== created ? ` (still serving ${ready})` : ""}`,
    };
  }
  if (state !== "CONDITION_SUCCEEDED") return { ready: false, reason: `service is ${state}` };
  if (created !== ready) {
    return {
      ready: false,
      reason: `latest revision ${created} is not ready (serving ${ready || "nothing"})`,
    };
  }
  return { ready: true };
}

function observe(live: IService): Observed<IService> {
  const name = String(live.name ?? "");
  const n = parseServiceName(name);
  return {
    ref: { kind: "CloudRunService", project: n.project, location: n.location, id: n.service },
    name,
    live,
    version: live.etag || undefined,
    readiness: readinessOf(live),
  };
}

/** EnvPlan is what a batch of changes asks of one env var. */
interface EnvPlan {
  whole?: Record<string, unknown> | null;
  value?: string | null;
  secret?: Record<string, unknown> | null;
  secretParts?: Record<string, unknown>;
}

/** ServiceBuilder writes changes into a copy of the live Service, output-only fields dropped and the etag set. */
class ServiceBuilder {
  readonly service: IService;
  readonly #project: string;
  readonly #resource: Resource<"CloudRunService">;
  readonly #container: IContainer;
  readonly #env = new Map<string, EnvPlan>();
  #templateTouched = false;

  constructor(observed: Observed<IService>, resource: Resource<"CloudRunService">) {
    const svc = structuredClone(observed.live) as IService & Record<string, unknown>;
    for (const k of OUTPUT_ONLY_FIELDS) delete svc[k];
    if (svc.buildConfig) delete svc.buildConfig.name;
    for (const c of svc.template?.containers ?? []) delete c.buildInfo;
    if (observed.version !== undefined) svc.etag = observed.version;
    else delete svc.etag;
    this.service = svc;
    this.#project = observed.ref.project;
    this.#resource = resource;
    const template = ensure(svc, "template", () => ({}));
    const containers = ensure(template, "containers", () => []);
    const wanted = resource.spec.template?.containerName;
    const c = servingContainer(containers, wanted);
    if (!c) {
      throw new CloudRunServiceWriteError(
        "CONTAINER_MISMATCH",
        `could not update ${observed.name}: ${wanted === undefined ? "it has no container" : `it has no container named ${wanted} (containers: ${containers.map((x) => x.name || "(unnamed)").join(", ")})`}`,
      );
    }
    this.#container = c;
  }

  get #template(): IRevisionTemplate {
    this.#templateTouched = true;
    return ensure(this.service, "template", () => ({}));
  }

  apply(change: FieldChange): void {
    this.#set(change.path, change.after);
  }

  #set(path: readonly PathSegment[], after: unknown): void {
    const [head, second] = path;
    if (head === "template" && second === "env") {
      this.#templateTouched = true;
      this.#envChange(path.slice(2), after);
      return;
    }
    if (head === "template" && second === "cloudSqlInstances" && path.length === 2) {
      this.#cloudSql(Array.isArray(after) ? after.map(String) : []);
      return;
    }
    // The diff walks objects down to their leaves; a whole object (a step built by hand,
    // or a parent absent live) is written leaf by leaf, so nothing outside it moves. A
    // probe action is chosen even when it states no field (`tcpSocket: {}`).
    if (isRecord(after)) {
      const [, probe, action] = path;
      if (
        path.length === 3 &&
        (probe === "startupProbe" || probe === "livenessProbe") &&
        (action === "httpGet" || action === "tcpSocket" || action === "grpc")
      ) {
        this.#probe(probe, [action], undefined);
      }
      for (const [k, v] of Object.entries(after)) this.#set([...path, k], v);
      return;
    }
    if (path.some((s) => typeof s !== "string")) this.#refuse(path);
    this.#leaf(path as readonly string[], after);
  }

  #refuse(path: readonly PathSegment[]): never {
    throw new CloudRunServiceWriteError(
      "UNWRITABLE_FIELD",
      `could not update ${this.service.name}: ${path.map((s) => (typeof s === "object" ? `[${s.id}]` : String(s))).join(".")} is not a field capstan writes on Cloud Run services`,
    );
  }

  #leaf(path: readonly string[], after: unknown): void {
    const key = path.join(".");
    const num = after === null || after === undefined ? undefined : Number(after);
    switch (key) {
      case "ingress":
        this.service.ingress = (after ?? "INGRESS_TRAFFIC_ALL") as IService["ingress"];
        return;
      case "scaling.minInstances":
        ensure(this.service, "scaling", () => ({})).minInstanceCount = num ?? 0;
        return;
      case "scaling.maxInstances":
        ensure(this.service, "scaling", () => ({})).maxInstanceCount = num ?? 0;
        return;
      case "template.scaling.minInstances":
        ensure(this.#template, "scaling", () => ({})).minInstanceCount = num ?? 0;
        return;
      case "template.scaling.maxInstances":
        ensure(this.#template, "scaling", () => ({})).maxInstanceCount = num ?? 0;
        return;
      case "template.maxConcurrency":
        this.#template.maxInstanceRequestConcurrency = num ?? 0;
        return;
      case "template.timeout":
        if (num === undefined) this.#template.timeout = null;
        else {
          const whole = Math.floor(num);
          this.#template.timeout = { seconds: whole, nanos: Math.round((num - whole) * 1e9) };
        }
        return;
      case "template.executionEnvironment":
        this.#template.executionEnvironment =
          after === "gen1"
            ? "EXECUTION_ENVIRONMENT_GEN1"
            : after === "gen2"
              ? "EXECUTION_ENVIRONMENT_GEN2"
              : "EXECUTION_ENVIRONMENT_UNSPECIFIED";
        return;
      case "template.containerName":
        throw new CloudRunServiceWriteError(
          "CONTAINER_MISMATCH",
          `could not update ${this.service.name}: spec.template.containerName is ${JSON.stringify(after)}, but capstan reads the container that serves requests (${this.#servingName()}); it compares and writes that container's settings only, so name it or leave containerName out`,
        );
      case "template.vpcAccess.connector":
        this.#template.vpcAccess = {
          ...(this.#template.vpcAccess ?? {}),
          connector: after == null ? "" : String(after),
        };
        return;
      case "template.vpcAccess.egress":
        this.#template.vpcAccess = {
          ...(this.#template.vpcAccess ?? {}),
          egress: (after ?? "VPC_EGRESS_UNSPECIFIED") as IVpcAccess["egress"],
        };
        return;
    }
    const [head, second, third, ...rest] = path;
    if (head !== "template") this.#refuse(path);
    if (second === "resources" && third !== undefined && rest.length === 0) {
      this.#resources(third, after);
      return;
    }
    if ((second === "startupProbe" || second === "livenessProbe") && third !== undefined) {
      this.#probe(second, [third, ...rest], after);
      return;
    }
    this.#refuse(path);
  }

  #servingName(): string {
    const c = servingContainer(this.service.template?.containers ?? []);
    return c?.name ? c.name : "unnamed";
  }

  #resources(field: string, after: unknown): void {
    this.#templateTouched = true;
    const c = this.#container;
    // Creating `resources` where there was none keeps the default "CPU only during
    // requests", which must then be stated (ResourceRequirements.cpu_idle, k8s.min.proto).
    const r = ensure(c, "resources", () => ({ cpuIdle: true }));
    switch (field) {
      case "cpu":
        r.limits = { ...(r.limits ?? {}), cpu: formatCpu(Number(after)) };
        return;
      case "memory":
        r.limits = { ...(r.limits ?? {}), memory: formatMemory(Number(after)) };
        return;
      case "cpuIdle":
        r.cpuIdle = after === true;
        return;
      case "startupCpuBoost":
        r.startupCpuBoost = after === true;
        return;
      default:
        this.#refuse(["template", "resources", field]);
    }
  }

  #probe(which: "startupProbe" | "livenessProbe", path: readonly string[], after: unknown): void {
    this.#templateTouched = true;
    const c = this.#container;
    const p = ensure(c, which, () => ({})) as IProbe & Record<string, unknown>;
    const n = after === null || after === undefined ? 0 : Number(after);
    const [field, sub] = path;
    switch (field) {
      case "initialDelay":
        p.initialDelaySeconds = n;
        return;
      case "period":
        p.periodSeconds = n;
        return;
      case "timeout":
        p.timeoutSeconds = n;
        return;
      case "failureThreshold":
        p.failureThreshold = n;
        return;
      case "httpGet":
      case "tcpSocket":
      case "grpc": {
        // One action per probe ("Exactly one of httpGet, tcpSocket, or grpc must be
        // specified", Probe in k8s.min.proto): choosing one drops the others.
        for (const other of ["httpGet", "tcpSocket", "grpc"]) if (other !== field) delete p[other];
        delete p["probeType"];
        const action = ensure(p as Record<string, unknown>, field, () => ({})) as Record<string, unknown>;
        if (sub === undefined) return;
        if (sub === "path" || sub === "service") action[sub] = after == null ? "" : String(after);
        else if (sub === "port") action[sub] = n;
        else this.#refuse(["template", which, ...path]);
        return;
      }
      default:
        this.#refuse(["template", which, ...path]);
    }
  }

  #envChange(rest: readonly PathSegment[], after: unknown): void {
    const [entry, field, sub] = rest;
    if (entry === undefined) {
      // The whole list: every entry it names is upserted; the others stay as they are.
      for (const e of Array.isArray(after) ? after : []) {
        if (isRecord(e) && typeof e["name"] === "string") this.#plan(e["name"]).whole = e;
      }
      return;
    }
    if (typeof entry !== "object") this.#refuse(["template", "env", ...rest]);
    const plan = this.#plan(String(entry.id));
    if (field === undefined) plan.whole = isRecord(after) ? after : null;
    else if (field === "value" && sub === undefined) plan.value = after == null ? null : String(after);
    else if (field === "secret" && sub === undefined) plan.secret = isRecord(after) ? after : null;
    else if (field === "secret" && (sub === "name" || sub === "version")) {
      plan.secretParts = { ...(plan.secretParts ?? {}), [sub]: after };
    } else this.#refuse(["template", "env", ...rest]);
  }

  #plan(name: string): EnvPlan {
    let p = this.#env.get(name);
    if (!p) {
      p = {};
      this.#env.set(name, p);
    }
    return p;
  }

  /** #envTarget resolves what one variable must become: a literal, a secret reference, or absent. */
  #envTarget(name: string, plan: EnvPlan, live: IEnvVar | undefined): IEnvVar | null {
    const spec = this.#resource.spec.template?.env?.find((e) => e.name === name);
    if (plan.whole !== undefined) {
      const w = plan.whole;
      if (w === null) return null;
      if (typeof w["value"] === "string") return { name, value: w["value"] };
      if (isRecord(w["secret"])) return this.#secretVar(name, w["secret"]);
      return null;
    }
    if (plan.secret || plan.secretParts) {
      const liveRef = live?.valueSource?.secretKeyRef;
      const base: Record<string, unknown> = {
        ...(spec && "secret" in spec ? { name: spec.secret.name, version: spec.secret.version } : {}),
        ...(liveRef
          ? { name: secretFullName(String(liveRef.secret ?? ""), this.#project), version: liveRef.version }
          : {}),
        ...(plan.secret ?? {}),
        ...(plan.secretParts ?? {}),
      };
      return this.#secretVar(name, base);
    }
    if (typeof plan.value === "string") return { name, value: plan.value };
    if (plan.value === null || plan.secret === null) return null;
    return live ?? null;
  }

  #secretVar(name: string, secret: Record<string, unknown>): IEnvVar {
    return {
      name,
      valueSource: {
        secretKeyRef: {
          secret: secretRefName(String(secret["name"] ?? ""), this.#project),
          version: String(secret["version"] ?? ""),
        },
      },
    };
  }

  #applyEnv(): void {
    if (this.#env.size === 0) return;
    const c = this.#container;
    let env = [...(c.env ?? [])];
    for (const [name, plan] of this.#env) {
      const at = env.findIndex((e) => e.name === name);
      const target = this.#envTarget(name, plan, at >= 0 ? env[at] : undefined);
      if (target === null) {
        // "Must not be set" removes every entry of that name: the API accepts duplicates.
        env = env.filter((e) => e.name !== name);
      } else if (at >= 0) {
        env[at] = target;
        env = env.filter((e, i) => i === at || e.name !== name);
      } else env.push(target);
    }
    c.env = env;
  }

  #cloudSql(fullNames: readonly string[]): void {
    const t = this.#template;
    const live = cloudSqlVolumes(t).flatMap((v) => v.cloudSqlInstance?.instances ?? []);
    const refs = this.#resource.spec.template?.cloudSqlInstances ?? [];
    const connections = fullNames.map((full) => {
      const n = names.sqlInstance.parse(full);
      if (!n) {
        throw new CloudRunServiceWriteError(
          "UNWRITABLE_FIELD",
          `could not update ${this.service.name}: \`${full}\` is not a Cloud SQL instance name`,
        );
      }
      const region =
        refs.find((r) => r.name === full)?.region ??
        live.map((c) => c.split(":")).find((p) => p[0] === n.project && p[2] === n.instance)?.[1];
      if (!region) {
        throw new CloudRunServiceWriteError(
          "UNKNOWN_REGION",
          `could not update ${this.service.name}: the region of Cloud SQL instance ${full} is unknown, so its connection name project:region:instance cannot be written; reference it by connection name`,
        );
      }
      return `${n.project}:${region}:${n.instance}`;
    });
    const volumes = t.volumes ?? [];
    const sql = volumes.filter((v) => v.cloudSqlInstance);
    const drop = new Set(sql.slice(connections.length ? 1 : 0).map((v) => v.name));
    const first = connections.length ? sql[0] : undefined;
    if (first) first.cloudSqlInstance = { ...(first.cloudSqlInstance ?? {}), instances: connections };
    let volumeName = first?.name ?? undefined;
    t.volumes = volumes.filter((v) => !drop.has(v.name));
    if (connections.length && !first) {
      const taken = new Set(volumes.map((v) => v.name));
      volumeName = CLOUD_SQL_VOLUME;
      for (let i = 1; taken.has(volumeName); i++) volumeName = `${CLOUD_SQL_VOLUME}-${i}`;
      t.volumes.push({ name: volumeName, cloudSqlInstance: { instances: connections } });
    }
    // A mount must name an existing volume (VolumeMount.name), so mounts of dropped volumes go too.
    for (const c of t.containers ?? []) {
      if (c.volumeMounts?.some((m) => drop.has(m.name)))
        c.volumeMounts = c.volumeMounts.filter((m) => !drop.has(m.name));
    }
    const c = this.#container;
    if (volumeName && !(c.volumeMounts ?? []).some((m) => m.name === volumeName)) {
      c.volumeMounts = [...(c.volumeMounts ?? []), { name: volumeName, mountPath: CLOUD_SQL_MOUNT_PATH }];
    }
  }

  /** build finishes the request body. */
  build(): IService {
    this.#applyEnv();
    if (this.#templateTouched && this.service.template?.revision) {
      // A template that names a revision which already exists with another configuration
      // is refused with 409 "Revision named '…' with different configuration already
      // exists." (googleapis/google-cloud-python#14259); an empty name lets Cloud Run name
      // the new revision, as gcloud does on every deploy without --revision-suffix.
      this.service.template.revision = "";
    }
    return this.service;
  }
}

/** buildUpdate is the Service an UpdateService for `changes` sends: live, with the changes written. */
function buildUpdate(
  observed: Observed<IService>,
  resource: Resource<"CloudRunService">,
  changes: readonly FieldChange[],
): IService {
  const b = new ServiceBuilder(observed, resource);
  for (const c of changes) b.apply(c);
  return b.build();
}

function messageOf(err: unknown): string {
  const m = (err as { details?: unknown; message?: unknown } | null)?.details;
  if (typeof m === "string" && m) return m;
  return err instanceof Error ? err.message : String(err);
}

function versionNumber(v: ISecretVersion): string {
  const name = String(v.name ?? "");
  return name.slice(name.lastIndexOf("/") + 1);
}

/** enabledVersions lists the ENABLED versions of a secret (metadata only), newest first; undefined when the secret does not exist. */
async function enabledVersions(gcp: Gcp, secret: string): Promise<string[] | undefined> {
  // "state:ENABLED" narrows the list server-side (https://cloud.google.com/secret-manager/docs/filtering);
  // the state is checked again below in case a server ignores the filter.
  const versions = await getOrUndefined(() =>
    listAllPages(
      gcp,
      { api: SECRETS_API, method: "secrets.versions.list", write: false, resource: secret },
      (page, options) =>
        gcp.clients.secretManager.listSecretVersions(
          { parent: secret, filter: "state:ENABLED", ...page },
          options,
        ),
    ),
  );
  return versions?.filter((v) => enumName(v.state, SecretVersionState) === "ENABLED").map(versionNumber);
}

function validChoices(enabled: readonly string[]): string {
  if (enabled.length === 0) return "the secret has no ENABLED version; add or enable one";
  return `ENABLED versions: ${enabled.join(", ")}; pin one of them or enable this one`;
}

/** checkSecret reads one secret version's metadata (never its payload) and says what is wrong with it. */
async function checkSecret(
  gcp: Gcp,
  env: string,
  ref: { readonly name: string; readonly version: string },
  problems: string[],
  notes: string[],
): Promise<void> {
  const what = `env ${env}: secret ${ref.name}`;
  let v: ISecretVersion;
  try {
    // GetSecretVersion returns metadata only; AccessSecretVersion, which returns the value,
    // is never called (google/cloud/secretmanager/v1/service.proto).
    // Keyed, so a plan reads a version many services share once (withReadMemo).
    const key = `secretVersion:${ref.name}/versions/${ref.version}`;
    [v] = await gcp.call(
      {
        api: SECRETS_API,
        method: "secrets.versions.get",
        write: false,
        key,
        resource: `${ref.name}/versions/${ref.version}`,
      },
      () =>
        gcp.clients.secretManager.getSecretVersion(
          { name: `${ref.name}/versions/${ref.version}` },
          gaxCallOptions(),
        ),
    );
  } catch (err) {
    const code = errorCode(err);
    if (code === 5) {
      const enabled = await enabledVersions(gcp, ref.name);
      problems.push(
        enabled === undefined
          ? `${what} does not exist; create it or reference an existing secret`
          : `${what} has no version ${ref.version}; ${validChoices(enabled)}`,
      );
      return;
    }
    if (code === 7) {
      problems.push(`${what}: capstan may not read its metadata (PERMISSION_DENIED: ${messageOf(err)})`);
      return;
    }
    throw err;
  }
  const number = versionNumber(v);
  const state = enumName(v.state, SecretVersionState) ?? "STATE_UNSPECIFIED";
  const pinned = /^\d+$/.test(ref.version);
  const label = pinned ? `version ${ref.version}` : `${ref.version} (version ${number})`;
  if (state !== "ENABLED") {
    const enabled = (await enabledVersions(gcp, ref.name)) ?? [];
    problems.push(`${what} ${label} is ${state}; ${validChoices(enabled)}`);
    return;
  }
  if (!pinned) notes.push(`${what} ${ref.version} = version ${number}`);
}

/**
 * cloudRunServiceReconciler manages Cloud Run services through the Cloud Run Admin API v2:
 * ingress, service-level scaling, and in the revision template scaling, concurrency,
 * request timeout, execution environment, the serving container's CPU, memory, CPU
 * allocation, startup boost, probes and env vars (literals and Secret Manager
 * references), VPC connector and egress, and Cloud SQL instances. A write is one
 * UpdateService carrying the whole Service as read, with the changes written into it and
 * the etag as precondition (409 ABORTED when someone wrote in between), so the image,
 * labels, traffic, other containers and env vars the spec does not name go back as they
 * were. Any template change deploys a new revision.
 */
export const cloudRunServiceReconciler = {
  kind: "CloudRunService",
  diffOptions: {
    keyedLists: { "template.env": "name" },
    setLists: ["template.cloudSqlInstances"],
  },

  scopeOf(ref: ResourceRef): Scope {
    return { project: ref.project, location: ref.location };
  },

  fullName(ref: ResourceRef): string {
    return names.runService.format({ project: ref.project, location: ref.location, service: ref.id });
  },

  async list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<IService>[]> {
    const parent = names.runLocation.format({ project: scope.project, location: scope.location });
    const items = await listAllPages(
      gcp,
      { api: RUN_API, method: "services.list", write: false, location: scope.location, resource: parent },
      (page, options) =>
        gcp.clients.run.services.listServices({ parent, pageSize: RUN_LIST_PAGE_SIZE, ...page }, options),
      signal,
    );
    return items.map(observe);
  },

  async get(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<Observed<IService> | undefined> {
    const got = await getOrUndefined(() =>
      gcp.call(
        {
          api: RUN_API,
          method: "services.get",
          write: false,
          location: ref.location,
          resource: cloudRunServiceReconciler.fullName(ref),
        },
        () =>
          gcp.clients.run.services.getService(
            { name: cloudRunServiceReconciler.fullName(ref) },
            gaxCallOptions(),
          ),
        signal,
      ),
    );
    return got && observe(got[0]);
  },

  desired(resource: Resource<"CloudRunService">): Record<string, unknown> {
    const s: CloudRunServiceSpec = resource.spec;
    const out: Record<string, unknown> = {};
    if (s.ingress !== undefined) out["ingress"] = s.ingress;
    const scaling = scalingShape(s.scaling);
    if (scaling) out["scaling"] = scaling;
    if (s.template) {
      const t = templateShape(s.template);
      if (Object.keys(t).length) out["template"] = t;
    }
    return out;
  },

  normalize(live: IService): Record<string, unknown> {
    const project = parseServiceName(String(live.name ?? "")).project;
    const ingress = enumName(live.ingress, IngressTraffic);
    const scaling: Record<string, unknown> = { minInstances: live.scaling?.minInstanceCount ?? 0 };
    // Service-level max has no default: unset means no service-wide cap (ServiceScaling).
    const max = positive(live.scaling?.maxInstanceCount);
    if (max !== undefined) scaling["maxInstances"] = max;
    return {
      // ingress: "returns the currently observed ingress settings, or
      // INGRESS_TRAFFIC_UNSPECIFIED if no revision is active" (Service.ingress); a stored
      // service without one allows all traffic.
      ingress:
        ingress === undefined || ingress === "INGRESS_TRAFFIC_UNSPECIFIED" ? "INGRESS_TRAFFIC_ALL" : ingress,
      scaling,
      template: normalizeTemplate(live.template ?? {}, project),
    };
  },

  disruptions(
    changes: readonly FieldChange[],
    _observed: Observed<IService>,
    _resource: Resource<"CloudRunService">,
  ): Disruption[] {
    const template = changes.filter((c) => c.path[0] === "template");
    if (template.length === 0) return [];
    // "Any configuration change leads to the creation of a new revision"
    // (https://cloud.google.com/run/docs/configuring/execution-environments); Cloud Run
    // moves traffic once the new revision is ready, so no downtime is documented.
    // Service-level ingress and scaling apply to the serving revisions in place.
    return [
      {
        kind: "new-revision",
        reason: `${template.map((c) => c.field).join(", ")} ${template.length === 1 ? "changes" : "change"} the revision template: Cloud Run deploys a new revision and moves traffic to it once it is ready`,
        fields: template.map((c) => c.field),
      },
    ];
  },

  async write(
    gcp: Gcp,
    observed: Observed<IService>,
    resource: Resource<"CloudRunService">,
    changes: readonly FieldChange[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    const service = buildUpdate(observed, resource, changes);
    const location = observed.ref.location;
    const request = { service, ...(options.validateOnly ? { validateOnly: true } : {}) };
    const [op] = await gcp.call(
      { api: RUN_API, method: "services.update", write: true, location, resource: observed.name },
      () => gcp.clients.run.services.updateService(request, gaxCallOptions()),
      options.signal,
    );
    if (options.validateOnly) return { poller: undefined, validated: true };
    return { poller: op.name ? runOperationPoller(gcp, op.name) : undefined };
  },

  async check(
    gcp: Gcp,
    resource: Resource<"CloudRunService">,
    observed: Observed<IService>,
    changes: readonly FieldChange[],
  ): Promise<CheckResult> {
    const problems: string[] = [];
    const notes: string[] = [];
    for (const e of resource.spec.template?.env ?? []) {
      if ("secret" in e) await checkSecret(gcp, e.name, e.secret, problems, notes);
    }
    if (changes.length > 0) {
      try {
        await cloudRunServiceReconciler.write(gcp, observed, resource, changes, { validateOnly: true });
      } catch (err) {
        if (err instanceof CloudRunServiceWriteError) problems.push(err.message);
        else if (classify(err) === "permission-denied") {
          // validateOnly is authorised as run.services.update; a plan made with read-only
          // roles (deploy/iam.md) skips the server-side check and says so.
          notes.push(
            "server-side validation skipped: this identity may not update the service (run.services.update)",
          );
        } else if (REFUSALS.has(errorCode(err))) {
          problems.push(`Cloud Run refuses the change (validateOnly): ${messageOf(err)}`);
        } else throw err;
      }
    }
    return { problems, notes };
  },
} satisfies Reconciler<"CloudRunService", IService>;
