/**
 * GCP platform rules checked before anything is touched: the ones a user would
 * otherwise only learn from a failed apply. The rules themselves live in the shared
 * catalogs (src/gcp/catalog), which the simulator applies too; this module decides which
 * of them can be judged from the spec alone, ties each to the line that caused it and
 * says what would be valid.
 *
 * Offline, only stated fields are judged (an unstated one may hold anything live). What
 * needs the live value (a connector shrinking, a restart, a disk shrinking) is judged by
 * {@link checkAgainstLive}, which the planner calls with the observed state.
 */
import { checkBackendServiceSettings, checkHealthCheckTiming } from "../gcp/catalog/compute.ts";
import {
  checkRunEnv,
  checkRunProbe,
  checkRunResources,
  checkRunScaling,
  formatMiB,
  isValidRunCpu,
  memoryRangeForCpu,
  RUN_LIMITS,
  type RunEnvVarLike,
  type RunProbeLike,
} from "../gcp/catalog/run.ts";
import { checkSqlTier, SQL_FLAG_SNAPSHOT, type SqlFlagCatalog } from "../gcp/catalog/sql.ts";
import {
  CONNECTOR_DEFAULT_MACHINE_TYPE,
  CONNECTOR_LIMITS,
  type ConnectorScaling,
  connectorScalingIssues,
} from "../gcp/catalog/vpcaccess.ts";
import {
  type AnyResource,
  type BackendServiceSpec,
  type CloudRunServiceSpec,
  type FieldPath,
  type HealthCheckSpec,
  type Issue,
  type Kind,
  type ProbeSpec,
  type Problem,
  pointer,
  type Resource,
  type ScalingSpec,
  type SpecByKind,
  type SqlInstanceSpec,
  type VpcConnectorSpec,
} from "./types.ts";
import { formatCpu, formatDuration, formatMemory } from "./units.ts";
import { closest, displayPath, problemAt } from "./validate.ts";

const MiB = 2 ** 20;

function issue(path: FieldPath, message: string): Issue {
  return { path, message: `${displayPath(path)}: ${message}` };
}

/** checkResource returns every offline platform rule one resource breaks. */
export function checkResource(r: AnyResource): Issue[] {
  switch (r.kind) {
    case "VpcConnector":
      return connectorRules(r.spec);
    case "SqlInstance":
      return sqlRules(r.spec);
    case "HealthCheck":
      return healthCheckRules(r.spec);
    case "BackendService":
      return backendServiceRules(r.spec, undefined);
    case "CloudRunService":
      return cloudRunRules(r.spec);
    case "CapacityPolicy":
      return [];
  }
}

/**
 * checkSet returns the rules that relate resources of the set to each other, by the id
 * of the resource whose line is at fault.
 */
export function checkSet(resources: readonly AnyResource[]): Map<string, Issue[]> {
  const out = new Map<string, Issue[]>();
  const byId = new Map(resources.map((r) => [r.id, r]));
  for (const r of resources) {
    if (r.kind !== "BackendService") continue;
    (r.spec.backends ?? []).forEach((b, i) => {
      if (!("serverlessNeg" in b)) return;
      const svc = byId.get(b.serverlessNeg.service.id);
      if (svc?.kind !== "CloudRunService") return;
      const ingress = svc.spec.ingress;
      // https://cloud.google.com/run/docs/securing/ingress: "Internal" admits internal
      // load balancers only; an external Application Load Balancer needs "Internal and
      // Cloud Load Balancing" or "All".
      if (ingress === "INGRESS_TRAFFIC_INTERNAL_ONLY" || ingress === "INGRESS_TRAFFIC_NONE") {
        const list = out.get(r.id) ?? [];
        list.push(
          issue(
            pointer("spec", "backends", i, "serverlessNeg", "service"),
            `CloudRunService/${svc.metadata.name} has ingress ${ingress}, which refuses requests from an external load balancer; set its spec.ingress to INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER or INGRESS_TRAFFIC_ALL`,
          ),
        );
        out.set(r.id, list);
      }
    });
  }
  return out;
}

function connectorRules(s: VpcConnectorSpec, live?: Partial<ConnectorScaling>): Issue[] {
  const out: Issue[] = [];
  const desired: ConnectorScaling = {
    machineType: s.machineType ?? live?.machineType ?? CONNECTOR_DEFAULT_MACHINE_TYPE,
    // Fill unstated counts with values that cannot conflict, so only stated fields are judged.
    minInstances: s.minInstances ?? live?.minInstances ?? CONNECTOR_LIMITS.minInstances.min,
    maxInstances: s.maxInstances ?? live?.maxInstances ?? CONNECTOR_LIMITS.maxInstances.max,
  };
  for (const i of connectorScalingIssues(undefined, desired)) {
    if (s[i.field] !== undefined) out.push(issue(pointer("spec", i.field), i.message));
  }
  if (s.ipCidrRange !== undefined) {
    const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(s.ipCidrRange);
    const octetsOk = m?.slice(1, 5).every((o) => Number(o) <= 255);
    // https://cloud.google.com/vpc/docs/configure-serverless-vpc-access: a connector takes
    // "an unreserved /28 internal IP range" (or a /28 subnet).
    if (!m || !octetsOk || m[5] !== "28") {
      out.push(
        issue(
          pointer("spec", "ipCidrRange"),
          `must be an unused /28 IPv4 range such as 10.8.0.0/28; got ${s.ipCidrRange}`,
        ),
      );
    }
  }
  if (s.ipCidrRange !== undefined && s.subnet !== undefined) {
    out.push(
      issue(
        pointer("spec", "subnet"),
        "give `ipCidrRange` or `subnet`, not both: a connector uses one or the other",
      ),
    );
  }
  return out;
}

function sqlRules(
  s: SqlInstanceSpec,
  liveTier?: string,
  liveVersion?: string,
  flags: SqlFlagCatalog = SQL_FLAG_SNAPSHOT,
): Issue[] {
  const out: Issue[] = [];
  if (s.tier !== undefined) {
    const why = checkSqlTier(s.tier);
    if (why) out.push(issue(pointer("spec", "tier"), why));
  }
  const tier = s.tier ?? liveTier;
  const tierOk = tier !== undefined && checkSqlTier(tier) === undefined;
  for (const [name, value] of Object.entries(s.databaseFlags ?? {})) {
    let why = flags.check(name, value, s.databaseVersion ?? liveVersion, tierOk ? tier : undefined);
    if (why && !flags.has(name) && !why.includes("did you mean")) {
      const near = closest(name, flags.names());
      if (near) why += `; did you mean \`${near}\`?`;
    }
    // A flag judged by the committed snapshot may be judged again by the live flags.list.
    if (why) out.push({ ...issue(pointer("spec", "databaseFlags", name), why), catalog: "sqlFlags" });
  }
  return out;
}

function healthCheckRules(s: HealthCheckSpec, live?: HealthCheckSpec): Issue[] {
  const out: Issue[] = [];
  const interval = s.checkIntervalSec ?? live?.checkIntervalSec;
  const timeout = s.timeoutSec ?? live?.timeoutSec;
  if (
    interval !== undefined &&
    timeout !== undefined &&
    (s.checkIntervalSec !== undefined || s.timeoutSec !== undefined)
  ) {
    for (const v of checkHealthCheckTiming({ checkIntervalSec: interval, timeoutSec: timeout })) {
      if (v.field !== "timeoutSec" || timeout <= interval) continue;
      const path =
        s.timeoutSec !== undefined ? pointer("spec", "timeoutSec") : pointer("spec", "checkIntervalSec");
      out.push(
        issue(
          path,
          `timeoutSec ${timeout} is longer than checkIntervalSec ${interval}${s.timeoutSec === undefined ? " (live timeoutSec)" : s.checkIntervalSec === undefined ? " (live checkIntervalSec)" : ""}; use a timeoutSec of at most ${interval}. GCP says: ${v.message}`,
        ),
      );
    }
  }
  const type = s.type ?? live?.type;
  const http = type === "HTTP" || type === "HTTPS" || type === "HTTP2";
  if (s.requestPath !== undefined && type !== undefined && !http) {
    out.push(
      issue(
        pointer("spec", "requestPath"),
        `a ${type} health check has no request path; remove requestPath or use type HTTP, HTTPS or HTTP2`,
      ),
    );
  }
  if (type === undefined && (s.port !== undefined || s.requestPath !== undefined)) {
    const field = s.port !== undefined ? "port" : "requestPath";
    out.push(
      issue(
        pointer("spec", field),
        `needs \`type\`: the port and path live in the HTTP, HTTPS, HTTP2, TCP, SSL or GRPC settings of the check`,
      ),
    );
  }
  return out;
}

function backendServiceRules(s: BackendServiceSpec, liveServerless: boolean | undefined): Issue[] {
  const out: Issue[] = [];
  const negs = (s.backends ?? []).filter((b) => "serverlessNeg" in b).length;
  if (negs > 0 && negs < (s.backends ?? []).length) {
    // https://cloud.google.com/load-balancing/docs/negs/serverless-neg-concepts and
    // https://cloud.google.com/api-gateway/docs/gateway-load-balancing: serverless NEGs
    // cannot share a backend service with other kinds of backends.
    out.push(
      issue(
        pointer("spec", "backends"),
        "mixes serverless NEG backends with other backends; a backend service takes one kind or the other, so split them into two backend services",
      ),
    );
  }
  const serverless = s.backends !== undefined ? negs > 0 : liveServerless;
  if (serverless === undefined) return out;
  const violations = checkBackendServiceSettings(
    {
      timeoutSec: s.timeoutSec,
      healthChecks: s.healthChecks?.map((h) => h.name),
      connectionDraining: s.connectionDraining,
      backends: s.backends?.map((b) => ("group" in b ? { maxUtilization: b.maxUtilization } : {})),
    },
    { serverless },
  );
  for (const v of violations) {
    if (v.field === "timeoutSec" && serverless) {
      out.push(
        issue(
          pointer("spec", "timeoutSec"),
          `not allowed with serverless NEG backends: the platform fixes the load balancer's timeout for Cloud Run, and the service's own request timeout (CloudRunService spec.template.timeout) applies instead; remove timeoutSec. GCP says: ${v.message}`,
        ),
      );
    } else if (v.field === "healthChecks") {
      out.push(
        issue(
          pointer("spec", "healthChecks"),
          `not allowed with serverless NEG backends: the load balancer does not health-check Cloud Run; use the CloudRunService's startupProbe and livenessProbe instead, and remove healthChecks. GCP says: ${v.message}`,
        ),
      );
    } else {
      const m = /^backends\[(\d+)\]\.(\w+)$/.exec(v.field);
      const path = m
        ? pointer("spec", "backends", Number(m[1]), m[2]!)
        : pointer("spec", ...v.field.split("."));
      out.push(issue(path, v.message));
    }
  }
  return out;
}

function scalingRules(s: ScalingSpec | undefined, at: readonly (string | number)[]): Issue[] {
  const out: Issue[] = [];
  for (const v of checkRunScaling(
    s && { minInstanceCount: s.minInstances, maxInstanceCount: s.maxInstances },
    "",
  )) {
    if (
      v.field.endsWith("max_instance_count") &&
      s?.minInstances !== undefined &&
      s.maxInstances !== undefined
    ) {
      out.push(
        issue(
          pointer(...at, "maxInstances"),
          `maxInstances ${s.maxInstances} is below minInstances ${s.minInstances}; raise maxInstances or lower minInstances`,
        ),
      );
    }
  }
  return out;
}

const PROBE_FIELDS: Readonly<Record<string, string>> = {
  initial_delay_seconds: "initialDelay",
  period_seconds: "period",
  timeout_seconds: "timeout",
  failure_threshold: "failureThreshold",
  tcp_socket: "tcpSocket",
  http_get: "httpGet",
  grpc: "grpc",
};

const BOUNDED_PROBE_FIELDS: Readonly<
  Record<string, "maxInitialDelaySeconds" | "maxPeriodSeconds" | "timeout">
> = {
  initial_delay_seconds: "maxInitialDelaySeconds",
  period_seconds: "maxPeriodSeconds",
  timeout_seconds: "timeout",
};

function probeRules(
  p: ProbeSpec | undefined,
  kind: "startup" | "liveness",
  at: readonly (string | number)[],
): Issue[] {
  if (!p) return [];
  const out: Issue[] = [];
  const like: RunProbeLike = {
    ...(p.initialDelay === undefined ? {} : { initialDelaySeconds: p.initialDelay }),
    ...(p.period === undefined ? {} : { periodSeconds: p.period }),
    ...(p.timeout === undefined ? {} : { timeoutSeconds: p.timeout }),
    ...(p.failureThreshold === undefined ? {} : { failureThreshold: p.failureThreshold }),
    ...(p.httpGet ? { httpGet: p.httpGet } : {}),
    ...(p.tcpSocket ? { tcpSocket: p.tcpSocket } : {}),
    ...(p.grpc ? { grpc: p.grpc } : {}),
  };
  // The probe message says a period or timeout of 0 means "unset"; in a spec it is a mistake.
  for (const f of ["period", "timeout"] as const) {
    if (p[f] === 0) out.push(issue(pointer(...at, f), "must be at least 1s"));
  }
  for (const v of checkRunProbe(like, kind, "")) {
    const parts = v.field.split(".").filter(Boolean);
    const path = pointer(...at, ...parts.map((x) => PROBE_FIELDS[x] ?? x));
    const what = kind === "startup" ? "startup probe" : "liveness probe";
    let message = v.description;
    const bound = BOUNDED_PROBE_FIELDS[parts[0] ?? ""];
    if (bound && v.severity === "reject") {
      const max = bound === "timeout" ? RUN_LIMITS.probe.maxTimeoutSeconds : RUN_LIMITS.probe[kind][bound];
      message = `must be at most ${formatDuration(max)} for a ${what}; got ${formatDuration(p[PROBE_FIELDS[parts[0]!] as "period"] ?? 0)}. GCP says: ${v.description}`;
    } else if (v.field === ".tcp_socket")
      message = `a ${what} cannot use tcpSocket: Cloud Run supports HTTP and gRPC liveness probes only; use httpGet or grpc`;
    else if (v.field === ".timeout_seconds" && v.severity === "advise") {
      message = `${v.description} (k8s.min.proto: "Must be smaller than period_seconds"); lower timeout or raise period`;
    } else if (v.field === "" && v.severity === "advise") {
      message = `${v.description}; lower failureThreshold or period`;
    }
    out.push(issue(path, message));
  }
  return out;
}

function cloudRunRules(s: CloudRunServiceSpec, live?: CloudRunServiceSpec): Issue[] {
  const out: Issue[] = [...scalingRules(s.scaling, ["spec", "scaling"])];
  const t = s.template;
  if (!t) return out;
  const T = ["spec", "template"] as const;
  out.push(...scalingRules(t.scaling, [...T, "scaling"]));
  const res = t.resources;
  const lres = live?.template?.resources;
  const cpu = res?.cpu ?? lres?.cpu;
  const memory = res?.memory ?? lres?.memory;
  const env = t.executionEnvironment ?? live?.template?.executionEnvironment;
  const gen2 = env === "gen2";
  if (res?.cpu !== undefined && !isValidRunCpu(res.cpu)) {
    out.push(
      issue(
        pointer(...T, "resources", "cpu"),
        `${formatCpu(res.cpu)} is not a Cloud Run cpu value; use ${RUN_LIMITS.cpu.whole.join(", ")} or a fraction from ${RUN_LIMITS.cpu.min} to 1 in steps of ${RUN_LIMITS.cpu.fractionalStep}`,
      ),
    );
  } else if (
    cpu !== undefined &&
    memory !== undefined &&
    (res?.cpu !== undefined || res?.memory !== undefined || t.executionEnvironment !== undefined)
  ) {
    const why = checkRunResources(formatCpu(cpu), formatMemory(memory), {
      executionEnvironment: gen2 ? "EXECUTION_ENVIRONMENT_GEN2" : undefined,
    });
    if (why) {
      const { minMiB, maxMiB } = memoryRangeForCpu(cpu, gen2);
      const path =
        res?.memory !== undefined
          ? pointer(...T, "resources", "memory")
          : res?.cpu !== undefined
            ? pointer(...T, "resources", "cpu")
            : pointer(...T, "executionEnvironment");
      out.push(
        issue(
          path,
          `${formatMemory(memory)} of memory with ${formatCpu(cpu)} vCPU${gen2 ? " on gen2" : ""} is refused by Cloud Run; with ${formatCpu(cpu)} vCPU use ${formatMiB(minMiB)} to ${formatMiB(maxMiB)}${live && (res?.cpu === undefined || res?.memory === undefined) ? " (the other value is the live one)" : ""}. GCP says: ${why}`,
        ),
      );
    }
  } else if (res?.memory !== undefined) {
    const min = gen2 ? RUN_LIMITS.memory.gen2MinMiB : RUN_LIMITS.memory.minMiB;
    if (res.memory < min * MiB || res.memory > RUN_LIMITS.memory.maxMiB * MiB) {
      out.push(
        issue(
          pointer(...T, "resources", "memory"),
          `${formatMemory(res.memory)} is outside Cloud Run's memory range: use ${formatMiB(min)}${gen2 ? " (gen2)" : ""} to ${formatMiB(RUN_LIMITS.memory.maxMiB)}`,
        ),
      );
    }
  }
  if (cpu !== undefined && cpu < 1) {
    const concurrency = t.maxConcurrency ?? live?.template?.maxConcurrency;
    if (
      concurrency !== undefined &&
      concurrency > 1 &&
      (t.maxConcurrency !== undefined || res?.cpu !== undefined)
    ) {
      out.push(
        issue(
          t.maxConcurrency !== undefined
            ? pointer(...T, "maxConcurrency")
            : pointer(...T, "resources", "cpu"),
          `concurrency ${concurrency} needs at least 1 vCPU; with ${formatCpu(cpu)} vCPU set maxConcurrency to 1, or give cpu 1 or more. GCP says: Total cpu < 1 is not supported with concurrency > 1`,
        ),
      );
    }
    if (res?.cpuIdle === false) {
      out.push(
        issue(
          pointer(...T, "resources", "cpuIdle"),
          `CPU always allocated needs at least 1 vCPU; with ${formatCpu(cpu)} vCPU set cpuIdle: true. GCP says: Total cpu < 1 is not supported with cpu always allocated`,
        ),
      );
    }
    if (gen2 && (t.executionEnvironment !== undefined || res?.cpu !== undefined)) {
      out.push(
        issue(
          t.executionEnvironment !== undefined
            ? pointer(...T, "executionEnvironment")
            : pointer(...T, "resources", "cpu"),
          `less than 1 vCPU requires the first generation execution environment; use gen1 or cpu 1 or more`,
        ),
      );
    }
  }
  if (t.timeout !== undefined && (t.timeout < 1 || t.timeout > RUN_LIMITS.timeoutSeconds.max)) {
    out.push(
      issue(
        pointer(...T, "timeout"),
        `${formatDuration(t.timeout)} is outside Cloud Run's request timeout range: use 1s to ${formatDuration(RUN_LIMITS.timeoutSeconds.max)}${t.timeout > RUN_LIMITS.timeoutSeconds.max ? ". GCP says: maximum allowed time is one hour" : ""}`,
      ),
    );
  }
  out.push(...probeRules(t.startupProbe, "startup", [...T, "startupProbe"]));
  out.push(...probeRules(t.livenessProbe, "liveness", [...T, "livenessProbe"]));
  if (t.env) {
    const indexes: number[] = [];
    const like: RunEnvVarLike[] = [];
    t.env.forEach((e, i) => {
      if ("unset" in e) return;
      indexes.push(i);
      like.push(
        "secret" in e
          ? {
              name: e.name,
              valueSource: { secretKeyRef: { secret: e.secret.name, version: e.secret.version } },
            }
          : { name: e.name, value: e.value },
      );
    });
    for (const v of checkRunEnv(like, "env")) {
      const m = /^env\[(\d+)\]/.exec(v.field);
      if (m) {
        out.push(issue(pointer(...T, "env", indexes[Number(m[1])]!), v.description));
      } else {
        const reserved = like
          .map((e, i) => [e.name ?? "", indexes[i]!] as const)
          .filter(([n]) => RUN_LIMITS.env.reserved.includes(n));
        for (const [name, i] of reserved) {
          out.push(
            issue(
              pointer(...T, "env", i),
              `${name} is reserved: Cloud Run sets ${RUN_LIMITS.env.reserved.join(", ")} itself; remove it. GCP says: ${v.description}`,
            ),
          );
        }
      }
    }
  }
  return out;
}

/** Disruption is a change that cannot be made in place, with the consent that allowed it. */
export interface Disruption {
  /** `replace`: the resource is deleted and recreated. `restart`: it restarts. */
  readonly kind: "replace" | "restart";
  /** The spec field whose change causes it. */
  readonly path: FieldPath;
  readonly reason: string;
}

/** LiveCheck is what {@link checkAgainstLive} finds. */
export interface LiveCheck {
  /** Changes capstan must refuse, positioned at their spec line. */
  readonly problems: readonly Problem[];
  /** Changes allowed only because the spec consents; the planner shows them as such. */
  readonly disruptions: readonly Disruption[];
}

/** Options of {@link checkAgainstLive}. */
export interface LiveCheckOptions {
  /**
   * The Cloud SQL flag catalog to judge database flags by: the live `flags.list` answer
   * when the caller could read it.
   * @default SQL_FLAG_SNAPSHOT
   */
  readonly sqlFlags?: SqlFlagCatalog | undefined;
}

/**
 * LiveSpecOf is the live resource normalised into the spec's shape, as reconcilers
 * observe it (fields GCP did not return are undefined).
 */
export type LiveSpecOf<K extends Kind> = Partial<SpecByKind[K]>;

/**
 * checkAgainstLive judges the rules that need the live value: a connector can only
 * grow in place (shrinking means replacing it, refused without `allowReplacement`),
 * its network and range are fixed; a SQL instance restarts for a tier change or a
 * restart flag (refused without `allowRestart`), its disk only grows and its version is
 * never changed; a health check's timeout may not pass its (live) interval; a backend
 * service with (live) serverless NEG backends refuses a timeout and health checks;
 * Cloud Run's cpu/memory pair is judged with the live half. It is pure.
 */
export function checkAgainstLive<K extends Kind>(
  resource: Resource<K>,
  live: LiveSpecOf<K>,
  options: LiveCheckOptions = {},
): LiveCheck {
  const r = resource as AnyResource;
  const problems: Issue[] = [];
  const disruptions: Disruption[] = [];
  switch (r.kind) {
    case "VpcConnector":
      liveConnector(r.spec, live as LiveSpecOf<"VpcConnector">, problems, disruptions);
      break;
    case "SqlInstance":
      liveSql(r.spec, live as LiveSpecOf<"SqlInstance">, problems, disruptions, options.sqlFlags);
      break;
    case "HealthCheck":
      problems.push(...healthCheckRules(r.spec, live as HealthCheckSpec));
      break;
    case "BackendService": {
      const backends = (live as LiveSpecOf<"BackendService">).backends;
      const liveServerless = backends ? backends.some((b) => "serverlessNeg" in b) : undefined;
      problems.push(
        ...backendServiceRules(r.spec, r.spec.backends === undefined ? liveServerless : undefined),
      );
      break;
    }
    case "CloudRunService":
      problems.push(...cloudRunRules(r.spec, live as CloudRunServiceSpec));
      break;
    case "CapacityPolicy":
      break;
  }
  // What the offline check reported already is left out, except a catalog's findings: the
  // caller judges those again here, by the live catalog (see Problem.catalog).
  const offline = new Set(
    checkResource(r)
      .filter((i) => !i.catalog)
      .map((i) => `${i.path}\n${i.message}`),
  );
  return {
    problems: problems
      .filter((i) => !offline.has(`${i.path}\n${i.message}`))
      .map((i) => problemAt(r.source.at(i.path), r.kind, r.metadata.name, i.message, i.catalog)),
    disruptions,
  };
}

function liveConnector(
  s: VpcConnectorSpec,
  live: LiveSpecOf<"VpcConnector">,
  problems: Issue[],
  disruptions: Disruption[],
): void {
  const current: ConnectorScaling | undefined =
    live.machineType !== undefined && live.minInstances !== undefined && live.maxInstances !== undefined
      ? { machineType: live.machineType, minInstances: live.minInstances, maxInstances: live.maxInstances }
      : undefined;
  const desired: ConnectorScaling = {
    machineType: s.machineType ?? live.machineType ?? CONNECTOR_DEFAULT_MACHINE_TYPE,
    minInstances: s.minInstances ?? live.minInstances ?? CONNECTOR_LIMITS.minInstances.min,
    maxInstances: s.maxInstances ?? live.maxInstances ?? CONNECTOR_LIMITS.maxInstances.max,
  };
  for (const i of connectorScalingIssues(current, desired)) {
    const path = pointer("spec", i.field);
    const shrink = current !== undefined && i.field !== "machineType" && desired[i.field] < current[i.field];
    if (shrink && s[i.field] !== undefined) {
      const reason = `lowering ${i.field} from ${current![i.field]} to ${desired[i.field]} cannot be done in place: GCP only raises connector instances, so the connector is deleted and recreated, and traffic through it stops meanwhile`;
      if (s.allowReplacement) disruptions.push({ kind: "replace", path, reason });
      else {
        problems.push(
          issue(
            path,
            `${reason}; set spec.allowReplacement: true to allow that, or keep ${i.field} at ${current![i.field]} or more`,
          ),
        );
      }
    } else if (!shrink && (s[i.field] !== undefined || i.field === "maxInstances")) {
      // Relation problems (min not below max) may come from the live half: still the spec's to fix.
      problems.push(issue(path, i.message));
    }
  }
  // Terraform's provider marks network, ip_cidr_range and subnet ForceNew: the API has no
  // way to change them (vpcaccess v1 patch only takes machineType and instance counts).
  const fixed: [keyof VpcConnectorSpec, unknown, unknown][] = [
    ["network", s.network, live.network],
    ["ipCidrRange", s.ipCidrRange, live.ipCidrRange],
    ["subnet", s.subnet?.name, live.subnet?.name],
  ];
  for (const [field, want, have] of fixed) {
    if (want === undefined || have === undefined || want === have) continue;
    const path = pointer("spec", field);
    const reason = `${field} is ${String(have)} live and cannot change in place; the connector is deleted and recreated with ${String(want)}, and traffic through it stops meanwhile`;
    if (s.allowReplacement) disruptions.push({ kind: "replace", path, reason });
    else
      problems.push(
        issue(path, `${reason}; set spec.allowReplacement: true to allow that, or keep ${String(have)}`),
      );
  }
}

function liveSql(
  s: SqlInstanceSpec,
  live: LiveSpecOf<"SqlInstance">,
  problems: Issue[],
  disruptions: Disruption[],
  flags: SqlFlagCatalog = SQL_FLAG_SNAPSHOT,
): void {
  if (
    s.databaseVersion !== undefined &&
    live.databaseVersion !== undefined &&
    s.databaseVersion !== live.databaseVersion
  ) {
    problems.push(
      issue(
        pointer("spec", "databaseVersion"),
        `the instance runs ${live.databaseVersion}; capstan does not upgrade database versions, so set databaseVersion: ${live.databaseVersion} or remove it`,
      ),
    );
  }
  if (
    s.dataDiskSizeGb !== undefined &&
    live.dataDiskSizeGb !== undefined &&
    s.dataDiskSizeGb < live.dataDiskSizeGb
  ) {
    // https://cloud.google.com/sql/docs/postgres/instance-settings: "you can increase
    // storage size, but you cannot decrease it".
    problems.push(
      issue(
        pointer("spec", "dataDiskSizeGb"),
        `${s.dataDiskSizeGb} GB is below the live ${live.dataDiskSizeGb} GB; Cloud SQL disks can grow but never shrink, so use ${live.dataDiskSizeGb} or more`,
      ),
    );
  }
  // Flag ranges that depend on memory are judged against the tier the instance will have.
  problems.push(...sqlRules(s, live.tier, live.databaseVersion, flags));
  const restarts: { path: FieldPath; reason: string }[] = [];
  if (s.tier !== undefined && live.tier !== undefined && s.tier !== live.tier) {
    restarts.push({
      path: pointer("spec", "tier"),
      reason: `changing tier from ${live.tier} to ${s.tier} restarts the instance`,
    });
  }
  for (const [name, value] of Object.entries(s.databaseFlags ?? {})) {
    const have = live.databaseFlags?.[name] ?? null;
    if (value === have || !flags.requiresRestart(name, s.databaseVersion ?? live.databaseVersion)) continue;
    const what =
      value === null
        ? `removing ${name}`
        : have === null
          ? `setting ${name}`
          : `changing ${name} from ${have} to ${value}`;
    restarts.push({ path: pointer("spec", "databaseFlags", name), reason: `${what} restarts the instance` });
  }
  for (const r of restarts) {
    if (s.allowRestart) disruptions.push({ kind: "restart", ...r });
    else
      problems.push(
        issue(
          r.path,
          `${r.reason}; set spec.allowRestart: true to allow the restart (open connections are dropped)`,
        ),
      );
  }
}
