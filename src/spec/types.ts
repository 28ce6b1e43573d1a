/**
 * The typed, normalised shape of capstan specs, as the loader hands them to diff, plan
 * and the controller.
 *
 * A field that is `undefined` was not stated in the spec: capstan neither diffs nor
 * writes it, whatever the live resource holds. Units are normalised: durations are
 * seconds, memory is bytes, cpu is vCPUs (see src/spec/units.ts for parsing and
 * printing them back).
 */
import type { BACKEND_SERVICE_PROTOCOLS, BACKEND_SERVICE_SCHEMES } from "../gcp/catalog/compute.ts";

/** API_VERSION is the only `apiVersion` capstan reads. */
export const API_VERSION = "capstan.dev/v1alpha1";

/** KINDS are the document kinds capstan reads, in the order their schemas are listed. */
export const KINDS = [
  "VpcConnector",
  "SqlInstance",
  "BackendService",
  "HealthCheck",
  "CloudRunService",
  "CapacityPolicy",
] as const;

/** Kind is one of {@link KINDS}. */
export type Kind = (typeof KINDS)[number];

/**
 * REGIONAL_KINDS need a region. A SqlInstance's region is where it runs, but its name is
 * unique in the whole project, so the region is not part of its identity.
 */
export const REGIONAL_KINDS: ReadonlySet<Kind> = new Set<Kind>([
  "VpcConnector",
  "SqlInstance",
  "CloudRunService",
]);

/** SourcePos is where a value was written: 1-based line and column in `file`. */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/**
 * Problem is one thing wrong with a spec set, as data. `kind`/`name` are empty when the
 * document is too broken to tell. Render it with `formatProblem`.
 */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly kind: string;
  readonly name: string;
  readonly message: string;
  /**
   * Set when a catalog that a live API also answers judged the problem offline (`sqlFlags`:
   * the committed Cloud SQL flag snapshot): online commands judge it again by the live
   * answer instead.
   */
  readonly catalog?: "sqlFlags";
}

/**
 * Issue is a problem found inside one document, before it is tied to a file: `path` says
 * where, and `atKey` asks for the position of the mapping key (an unknown or missing
 * field) rather than of the value.
 */
export interface Issue {
  readonly path: FieldPath;
  readonly message: string;
  readonly atKey?: boolean;
  /** See {@link Problem.catalog}. */
  readonly catalog?: "sqlFlags";
}

/**
 * FieldPath is a JSON Pointer (RFC 6901) into a document, e.g.
 * `/spec/template/resources/memory`. The root is the empty string.
 */
export type FieldPath = string;

/** pointer builds a {@link FieldPath} from segments, escaping `~` and `/` as RFC 6901 says. */
export function pointer(...segments: readonly (string | number)[]): FieldPath {
  return segments.map((s) => `/${String(s).replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");
}

/** segmentsOf splits a {@link FieldPath} back into unescaped segments. */
export function segmentsOf(path: FieldPath): string[] {
  if (path === "") return [];
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/**
 * SourceMap remembers where every value (and every mapping key) of one document was
 * written, so later stages can point a diff or a refused step at its line. Lookups fall
 * back to the nearest enclosing value, so a path that was defaulted or normalised still
 * lands on a sensible line.
 */
export class SourceMap {
  readonly #values: Map<FieldPath, SourcePos>;
  readonly #keys: Map<FieldPath, SourcePos>;

  constructor(values: Map<FieldPath, SourcePos>, keys: Map<FieldPath, SourcePos>) {
    this.#values = values;
    this.#keys = keys;
  }

  /** at returns the position of the value at `path`, or of its nearest recorded ancestor. */
  at(path: FieldPath): SourcePos {
    let p = path;
    for (;;) {
      const hit = this.#values.get(p) ?? this.#keys.get(p);
      if (hit) return hit;
      if (p === "") break;
      p = p.slice(0, p.lastIndexOf("/"));
    }
    // Every document records its root, so this is only reached for an empty map.
    return this.#values.values().next().value ?? { file: "", line: 1, col: 1 };
  }

  /** keyAt returns the position of the mapping key that holds `path`, else `at(path)`. */
  keyAt(path: FieldPath): SourcePos {
    return this.#keys.get(path) ?? this.at(path);
  }

  /** has says whether `path` itself (not an ancestor) was written in the document. */
  has(path: FieldPath): boolean {
    return this.#values.has(path) || this.#keys.has(path);
  }

  /**
   * alias records `to` at the position of `from`, for paths that only exist after
   * normalisation (an env map entry becomes a list item).
   */
  alias(to: FieldPath, from: FieldPath): void {
    const value = this.#values.get(from);
    const key = this.#keys.get(from);
    if (value) this.#values.set(to, value);
    if (key) this.#keys.set(to, key);
  }

  /** set records a position for a path whose value came from elsewhere (a directory default). */
  set(path: FieldPath, pos: SourcePos): void {
    this.#values.set(path, pos);
    this.#keys.set(path, pos);
  }
}

/**
 * Ref is a resolved reference from one spec to another resource. `name` is always the
 * full GCP resource name; `managed` says whether the target is a spec in the same set
 * (then `id` is that spec's identity) or a resource capstan does not manage.
 */
export interface Ref<K extends Kind> {
  readonly kind: K;
  /** The reference as written in the spec. */
  readonly text: string;
  /** The full GCP name, e.g. `projects/p/locations/r/connectors/c`. */
  readonly name: string;
  /** The identity of the target (see {@link Resource.id}). */
  readonly id: string;
  /** True when the target is a spec in the loaded set. */
  readonly managed: boolean;
  /** The target's region when known (a SqlInstance's region makes its connection name `project:region:name`). */
  readonly region: string | undefined;
}

/** SpecMetadata identifies a resource. Labels and annotations are capstan's own; they are not written to GCP. */
export interface SpecMetadata {
  /** The GCP resource id. */
  readonly name: string;
  readonly project: string;
  /** Region of regional kinds (and of a CapacityPolicy, to resolve short references); undefined for global ones. */
  readonly region: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** VpcConnectorSpec is a Serverless VPC Access connector (vpcaccess v1 Connector). */
export interface VpcConnectorSpec {
  /** `f1-micro`, `e2-micro` or `e2-standard-4`. */
  readonly machineType?: string;
  readonly minInstances?: number;
  readonly maxInstances?: number;
  /** Only read when capstan creates the connector: immutable afterwards. */
  readonly network?: string;
  /** A /28 range; only read on creation. */
  readonly ipCidrRange?: string;
  /** Only read on creation. */
  readonly subnet?: { readonly name: string; readonly projectId?: string };
  /** Consent to delete and recreate the connector when a change cannot be made in place. */
  readonly allowReplacement: boolean;
}

/** SqlMaintenanceWindow is Cloud SQL's `settings.maintenanceWindow`; day 1 is Monday, hours are UTC. */
export interface SqlMaintenanceWindow {
  readonly day?: number;
  readonly hour?: number;
  readonly updateTrack?: "canary" | "stable" | "week5";
}

/** SqlInstanceSpec is a Cloud SQL for PostgreSQL instance (sqladmin v1 DatabaseInstance). */
export interface SqlInstanceSpec {
  /** e.g. `POSTGRES_16`; never changed by capstan, used to check flags and refuse a mismatch. */
  readonly databaseVersion?: string;
  /** e.g. `db-custom-2-7680`. */
  readonly tier?: string;
  readonly availabilityType?: "ZONAL" | "REGIONAL";
  /** Disk size in GB; it can only grow. */
  readonly dataDiskSizeGb?: number;
  /**
   * Flags capstan manages, by name, as the API carries them (`"200"`, `"on"`). A `null`
   * value means the flag must not be set; flags not listed are left alone.
   */
  readonly databaseFlags?: Readonly<Record<string, string | null>>;
  readonly maintenanceWindow?: SqlMaintenanceWindow;
  /** Consent to changes that restart the instance (tier, restart-requiring flags). */
  readonly allowRestart: boolean;
}

/** HealthCheckType is the protocol of a compute v1 HealthCheck. */
export type HealthCheckType = "HTTP" | "HTTPS" | "HTTP2" | "TCP" | "SSL" | "GRPC";

/** HealthCheckSpec is a global compute v1 HealthCheck. Times are whole seconds. */
export interface HealthCheckSpec {
  readonly type?: HealthCheckType;
  readonly port?: number;
  /** HTTP, HTTPS and HTTP2 only. */
  readonly requestPath?: string;
  readonly checkIntervalSec?: number;
  readonly timeoutSec?: number;
  readonly healthyThreshold?: number;
  readonly unhealthyThreshold?: number;
  readonly logConfig?: { readonly enable?: boolean };
}

/** OutlierDetectionSpec mirrors compute v1 OutlierDetection; durations are seconds. */
export interface OutlierDetectionSpec {
  readonly consecutiveErrors?: number;
  readonly consecutiveGatewayFailure?: number;
  readonly enforcingConsecutiveErrors?: number;
  readonly enforcingConsecutiveGatewayFailure?: number;
  readonly interval?: number;
  readonly baseEjectionTime?: number;
  readonly maxEjectionPercent?: number;
}

/** ServerlessNegBackend is a backend that sends traffic to a Cloud Run service through a serverless NEG. */
export interface ServerlessNegBackend {
  readonly serverlessNeg: {
    readonly service: Ref<"CloudRunService">;
    /** Region of the NEG, which is the service's region. */
    readonly region: string;
    /** The NEG's own resource name, when given; else the reconciler finds the NEG that points at `service`. */
    readonly name?: string;
  };
}

/** GroupBackend is any other backend (instance group or NEG), by URL. */
export interface GroupBackend {
  readonly group: string;
  readonly balancingMode?: "UTILIZATION" | "RATE" | "CONNECTION";
  readonly capacityScaler?: number;
  readonly maxUtilization?: number;
  readonly maxRatePerInstance?: number;
}

/** Backend is one entry of a backend service's `backends`. */
export type Backend = ServerlessNegBackend | GroupBackend;

/** BackendServiceSpec is a global compute v1 BackendService. */
export interface BackendServiceSpec {
  readonly protocol?: (typeof BACKEND_SERVICE_PROTOCOLS)[number];
  readonly loadBalancingScheme?: (typeof BACKEND_SERVICE_SCHEMES)[number];
  readonly timeoutSec?: number;
  readonly connectionDraining?: { readonly drainingTimeoutSec?: number };
  readonly healthChecks?: readonly Ref<"HealthCheck">[];
  readonly logConfig?: { readonly enable?: boolean; readonly sampleRate?: number };
  readonly outlierDetection?: OutlierDetectionSpec;
  /** The backends as a set: order does not matter. */
  readonly backends?: readonly Backend[];
}

/** ProbeSpec is a Cloud Run startup or liveness probe; times are whole seconds. */
export interface ProbeSpec {
  readonly httpGet?: { readonly path?: string; readonly port?: number };
  readonly tcpSocket?: { readonly port?: number };
  readonly grpc?: { readonly port?: number; readonly service?: string };
  readonly initialDelay?: number;
  readonly period?: number;
  readonly timeout?: number;
  readonly failureThreshold?: number;
}

/** SecretRef is a Secret Manager secret version an env var is read from. */
export interface SecretRef {
  /** Full name, `projects/p/secrets/s`. */
  readonly name: string;
  /** A version number or `latest`. */
  readonly version: string;
}

/**
 * EnvVar is one managed environment variable of the container: a literal value, a secret
 * version, or `unset` (the spec says it must not be set). Variables not listed are left alone.
 */
export type EnvVar =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly secret: SecretRef }
  | { readonly name: string; readonly unset: true };

/** ScalingSpec bounds instance counts (service-wide or per revision). */
export interface ScalingSpec {
  readonly minInstances?: number;
  readonly maxInstances?: number;
}

/** RevisionTemplateSpec is what a Cloud Run revision template carries. */
export interface RevisionTemplateSpec {
  readonly scaling?: ScalingSpec;
  /** maxInstanceRequestConcurrency. */
  readonly maxConcurrency?: number;
  /** Request timeout in seconds. */
  readonly timeout?: number;
  readonly executionEnvironment?: "gen1" | "gen2";
  /** Which container the settings below apply to; else the one serving requests. */
  readonly containerName?: string;
  readonly resources?: {
    /** vCPUs. */
    readonly cpu?: number;
    /** Bytes. */
    readonly memory?: number;
    readonly cpuIdle?: boolean;
    readonly startupCpuBoost?: boolean;
  };
  readonly startupProbe?: ProbeSpec;
  readonly livenessProbe?: ProbeSpec;
  readonly vpcAccess?: {
    readonly connector?: Ref<"VpcConnector">;
    readonly egress?: "ALL_TRAFFIC" | "PRIVATE_RANGES_ONLY";
  };
  readonly env?: readonly EnvVar[];
  /** Cloud SQL instances mounted through the `/cloudsql` volume. */
  readonly cloudSqlInstances?: readonly Ref<"SqlInstance">[];
}

/** CloudRunServiceSpec is a Cloud Run (run v2) Service. */
export interface CloudRunServiceSpec {
  readonly ingress?:
    | "INGRESS_TRAFFIC_ALL"
    | "INGRESS_TRAFFIC_INTERNAL_ONLY"
    | "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"
    | "INGRESS_TRAFFIC_NONE";
  /** Service-level scaling (Service.scaling). */
  readonly scaling?: ScalingSpec;
  readonly template?: RevisionTemplateSpec;
}

/** CapacityMember is one Cloud Run service a capacity policy accounts for. */
export interface CapacityMember {
  readonly service: Ref<"CloudRunService">;
  /** The instance its connections count against; defaults to the service's only Cloud SQL instance. */
  readonly sqlInstance: Ref<"SqlInstance"> | undefined;
  /** The connector its egress goes through; defaults to the service's connector. */
  readonly connector: Ref<"VpcConnector"> | undefined;
  /** Connection pool size of one instance of the service. */
  readonly connectionsPerInstance: number | undefined;
  /** Egress one instance of the service may push through the connector, in Mbps. */
  readonly egressMbpsPerInstance: number | undefined;
  /** The env var holding the app's database connect timeout (seconds), if any. */
  readonly dbConnectTimeoutEnv: string | undefined;
}

/** GateSpec is a metric gate a rollout step must pass before the next one. */
export interface GateSpec {
  /** A Cloud Monitoring metric type, e.g. `vpcaccess.googleapis.com/connector/cpu/utilizations`. */
  readonly metric: string;
  readonly threshold: number;
  /** `above` fails the gate when the metric goes above the threshold. */
  readonly failWhen: "above" | "below";
  /** Failing samples in a row that fail the step (and roll it back). */
  readonly failureLimit: number;
  /** Seconds of metric data each sample aligns over. */
  readonly window: number;
}

/** CapacityPolicySpec states what must hold between services and the capacity they consume. */
export interface CapacityPolicySpec {
  readonly members: readonly CapacityMember[];
  readonly sql: {
    /** Connections kept for admins, maintenance and replication. */
    readonly reservedConnections: number;
    /** Highest fraction of max_connections the members may use together. */
    readonly ceiling: number;
  };
  readonly connector: {
    /** Highest fraction of the connector's throughput the members may use together. */
    readonly ceiling: number;
  };
  readonly rollout: {
    /** Largest factor one step may multiply (or divide) a capacity setting by. */
    readonly maxStepFactor: number;
    /** Seconds to wait after a step before reading gates. */
    readonly settleTime: number;
    readonly gates: readonly GateSpec[];
  };
}

/** SpecOf maps a kind to its spec type. */
export interface SpecByKind {
  readonly VpcConnector: VpcConnectorSpec;
  readonly SqlInstance: SqlInstanceSpec;
  readonly BackendService: BackendServiceSpec;
  readonly HealthCheck: HealthCheckSpec;
  readonly CloudRunService: CloudRunServiceSpec;
  readonly CapacityPolicy: CapacityPolicySpec;
}

/**
 * Resource is one loaded, validated and normalised spec document. Its identity `id` is
 * `<Kind>:<full GCP name>`; two documents with the same id are refused.
 */
export interface Resource<K extends Kind = Kind> {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: K;
  readonly metadata: SpecMetadata;
  readonly spec: SpecByKind[K];
  /** Identity: kind + full GCP name (CapacityPolicy uses `projects/p/capacityPolicies/name`). */
  readonly id: string;
  /** Full GCP resource name; undefined for CapacityPolicy, which is not a GCP resource. */
  readonly gcpName: string | undefined;
  /**
   * How plans, steps, progress and reports name it: `Kind/name`, or
   * `Kind/name@project/region` (`@project` for global kinds) when its spec set holds
   * another resource of that kind and name elsewhere. Set by the loader.
   */
  readonly address?: string;
  /** The file the document came from. */
  readonly file: string;
  /** Where each field was written. */
  readonly source: SourceMap;
}

/** AnyResource is a {@link Resource} of any kind, narrowable by `kind`. */
export type AnyResource = { [K in Kind]: Resource<K> }[Kind];

/** SpecSet is the outcome of loading: the resources that loaded cleanly and every problem found. */
export interface SpecSet {
  readonly resources: readonly AnyResource[];
  readonly problems: readonly Problem[];
  /** The spec files read, in order. */
  readonly files: readonly string[];
}
