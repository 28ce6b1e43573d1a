/**
 * Cloud Run (Admin API v2) platform limits as data, plus small pure checks over a
 * Service in the API's proto3-JSON shape. The offline spec validator and the simulator
 * both use them, so a value the validator accepts is one the simulator (and GCP) accepts.
 *
 * Each check returns violations as data. A violation's `severity` says whether GCP
 * refuses the request (`reject`) or documents a limit that its API nevertheless accepts
 * and that misbehaves at run time (`advise`). The simulator only enforces `reject`, since
 * it must answer as GCP does; the spec validator may report both.
 *
 * Sources:
 * - CPU values and the CPU/memory table: https://cloud.google.com/run/docs/configuring/services/cpu
 *   (`.08 vCPU up to 512 MiB, .5 up to 1 GiB, 1 up to 4 GiB, 2 up to 8 GiB, 4: 2 to 16 GiB,
 *   6: 4 to 24 GiB, 8: 4 to 32 GiB`; below 1 vCPU: steps of 0.001, concurrency 1, CPU only
 *   during requests, first generation).
 * - Memory: https://cloud.google.com/run/docs/configuring/services/memory-limits (128 MiB to
 *   32 GiB) and https://cloud.google.com/run/docs/about-execution-environments (the second
 *   generation needs at least 512 MiB).
 * - Field limits and defaults: the protos shipped with @google-cloud/run,
 *   google/cloud/run/v2/{k8s.min,revision_template,vendor_settings}.proto.
 * - Probes: https://cloud.google.com/run/docs/configuring/healthchecks (TCP only for
 *   startup probes; the default TCP startup probe; startup must succeed within 240 s).
 * - Which rules GCP enforces and the wording of its messages: a public conformance suite
 *   that sends each mutation to the live API with `validateOnly`
 *   (messages such as "Invalid value specified for container memory. For 1.0 CPU, memory
 *   must be between 128Mi and 4Gi inclusive.", "max_instance_request_concurrency: Must be
 *   a number between 0 and 1000", "maximum allowed time is one hour"); it also shows the
 *   API accepting duplicate env names, probe timeouts above the period and startup probes
 *   over the 240 s budget, which are therefore `advise` here.
 */

/** RunViolation is one broken rule, located by its snake_case field path in the Service. */
export interface RunViolation {
  /** Field path as GCP prints it, e.g. `template.containers[0].resources.limits.memory`. */
  readonly field: string;
  /** What is wrong and, where possible, what would be valid. */
  readonly description: string;
  /** `reject`: GCP refuses the request. `advise`: documented, but the API accepts it. */
  readonly severity: "reject" | "advise";
}

/** CpuMemoryRow is one row of Cloud Run's CPU/memory table: from `minCpu` vCPU up. */
export interface CpuMemoryRow {
  /** Lowest vCPU the row applies to. */
  readonly minCpu: number;
  /** Memory bounds in MiB, inclusive. */
  readonly minMemoryMiB: number;
  readonly maxMemoryMiB: number;
}

/**
 * RUN_LIMITS are Cloud Run's documented limits and server defaults for a service
 * revision. Memory sizes are MiB, durations seconds.
 */
export const RUN_LIMITS = {
  cpu: {
    /** Smallest vCPU a container may ask for. */
    min: 0.08,
    /** Below one vCPU the value moves in steps of 0.001 (one millicpu). */
    fractionalStep: 0.001,
    /** The whole values allowed from one vCPU up. */
    whole: [1, 2, 4, 6, 8] as readonly number[],
    max: 8,
    /** Server default of `limits.cpu` when a container sets none. */
    default: "1000m",
  },
  memory: {
    minMiB: 128,
    maxMiB: 32_768,
    /** The second generation execution environment needs at least this much. */
    gen2MinMiB: 512,
    /** Server default of `limits.memory` when a container sets none. */
    default: "512Mi",
  },
  /**
   * Memory bounds by CPU, highest row whose `minCpu` the CPU reaches applies
   * (https://cloud.google.com/run/docs/configuring/services/cpu).
   */
  cpuMemory: [
    { minCpu: 0.08, minMemoryMiB: 128, maxMemoryMiB: 512 },
    { minCpu: 0.5, minMemoryMiB: 128, maxMemoryMiB: 1024 },
    { minCpu: 1, minMemoryMiB: 128, maxMemoryMiB: 4096 },
    { minCpu: 2, minMemoryMiB: 128, maxMemoryMiB: 8192 },
    { minCpu: 4, minMemoryMiB: 2048, maxMemoryMiB: 16_384 },
    { minCpu: 6, minMemoryMiB: 4096, maxMemoryMiB: 24_576 },
    { minCpu: 8, minMemoryMiB: 4096, maxMemoryMiB: 32_768 },
  ] as readonly CpuMemoryRow[],
  concurrency: {
    max: 1000,
    /** Default when unset or 0 and the revision has at least one vCPU. */
    default: 80,
    /** Default below one vCPU, which is also the only value allowed there. */
    defaultBelowOneCpu: 1,
  },
  timeoutSeconds: { max: 3600, default: 300 },
  /** RevisionScaling.max_instance_count when unset: "the server default value of 100". */
  defaultMaxInstanceCount: 100,
  probe: {
    startup: { maxPeriodSeconds: 240, maxInitialDelaySeconds: 240, maxTotalSeconds: 240 },
    liveness: { maxPeriodSeconds: 3600, maxInitialDelaySeconds: 3600 },
    maxTimeoutSeconds: 3600,
    /** Values used when a probe leaves a field unset or 0 (k8s.min.proto, Probe). */
    defaults: { timeoutSeconds: 1, periodSeconds: 10, failureThreshold: 3 },
    /** The TCP startup probe Cloud Run adds to a container that declares a port and no probe. */
    defaultStartup: { timeoutSeconds: 240, periodSeconds: 240, failureThreshold: 1 },
  },
  /** The container port Cloud Run assumes (and passes in PORT) when none is declared. */
  defaultContainerPort: 8080,
  env: {
    maxValueBytes: 32_768,
    reserved: ["PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"] as readonly string[],
  },
  vpcEgress: ["ALL_TRAFFIC", "PRIVATE_RANGES_ONLY"] as readonly string[],
  /** VpcAccess.egress when unset. */
  defaultVpcEgress: "PRIVATE_RANGES_ONLY",
  /** Label and annotation namespaces the v2 API refuses (service.proto, Service.labels). */
  reservedMetadataPrefixes: [
    "run.googleapis.com/",
    "cloud.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
  ] as readonly string[],
} as const;

const MEMORY_FACTORS: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/**
 * parseRunCpu reads a `limits.cpu` Kubernetes quantity as Cloud Run does (`1`, `1.0`,
 * `0.5`, `500m`) and returns vCPUs, or undefined when it is not a quantity.
 */
export function parseRunCpu(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m?)$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[2] === "m" ? n / 1000 : n;
}

/**
 * parseRunMemory reads a `limits.memory` Kubernetes quantity (`512Mi`, `4Gi`, `1G`,
 * `536870912`) and returns bytes, or undefined when it is not a quantity.
 */
export function parseRunMemory(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * MEMORY_FACTORS[m[2] ?? ""]!;
}

/** formatMiB prints a MiB count the way Cloud Run's messages do: `4Gi`, `512Mi`. */
export function formatMiB(mib: number): string {
  return mib % 1024 === 0 ? `${mib / 1024}Gi` : `${mib}Mi`;
}

/** Cloud Run prints CPUs as Java doubles: `1.0`, `0.333`. */
function formatCpuValue(cpu: number): string {
  return Number.isInteger(cpu) ? `${cpu}.0` : String(Number(cpu.toFixed(3)));
}

/**
 * memoryRangeForCpu returns the memory bounds (MiB, inclusive) Cloud Run allows for a
 * CPU value, raised to 512 MiB for the second generation execution environment.
 */
export function memoryRangeForCpu(cpu: number, gen2 = false): { minMiB: number; maxMiB: number } {
  let row = RUN_LIMITS.cpuMemory[0]!;
  for (const r of RUN_LIMITS.cpuMemory) if (cpu + 1e-9 >= r.minCpu) row = r;
  const minMiB = gen2 ? Math.max(row.minMemoryMiB, RUN_LIMITS.memory.gen2MinMiB) : row.minMemoryMiB;
  return { minMiB, maxMiB: row.maxMemoryMiB };
}

/** isValidRunCpu says whether a vCPU value is one Cloud Run offers. */
export function isValidRunCpu(cpu: number): boolean {
  if (cpu < RUN_LIMITS.cpu.min - 1e-9) return false;
  if (cpu < 1) return Math.abs(cpu * 1000 - Math.round(cpu * 1000)) < 1e-6;
  return RUN_LIMITS.cpu.whole.includes(cpu);
}

const CPU_CHOICES = `[.08-1], ${RUN_LIMITS.cpu.whole.filter((c) => c > 1).join(", ")}`;

/** Options of {@link checkRunResources}. */
export interface RunResourceOptions {
  /**
   * The revision's execution environment (`EXECUTION_ENVIRONMENT_GEN1`/`_GEN2`); the
   * second generation raises the memory floor to 512 MiB.
   * @default unspecified (Cloud Run picks; only the general floor applies)
   */
  readonly executionEnvironment?: string | undefined;
}

/**
 * checkRunResources checks one container's `limits.cpu` and `limits.memory` (Kubernetes
 * quantities) against Cloud Run's CPU values and CPU/memory table. It returns GCP's own
 * message, which names the valid values, or undefined when the pair is valid.
 */
export function checkRunResources(
  cpu: string,
  memory: string,
  options: RunResourceOptions = {},
): string | undefined {
  return resourceViolations(cpu, memory, options.executionEnvironment, "")[0]?.description;
}

function resourceViolations(
  cpuText: string,
  memoryText: string,
  executionEnvironment: string | undefined,
  at: string,
): RunViolation[] {
  const cpu = parseRunCpu(cpuText);
  if (cpu === undefined) {
    return [reject(`${at}cpu`, `Could not parse Quantity "${cpuText}"`)];
  }
  if (!isValidRunCpu(cpu)) {
    return [reject(`${at}cpu`, `Invalid value specified for cpu. Must be equal to one of ${CPU_CHOICES}`)];
  }
  const bytes = parseRunMemory(memoryText);
  if (bytes === undefined) {
    return [reject(`${at}memory`, `Could not parse Quantity "${memoryText}"`)];
  }
  const { minMiB, maxMiB } = memoryRangeForCpu(cpu, executionEnvironment === "EXECUTION_ENVIRONMENT_GEN2");
  const mib = bytes / 2 ** 20;
  if (mib < minMiB || mib > maxMiB) {
    return [
      reject(
        `${at}memory`,
        `Invalid value specified for container memory. For ${formatCpuValue(cpu)} CPU, memory must be between ${formatMiB(minMiB)} and ${formatMiB(maxMiB)} inclusive.`,
      ),
    ];
  }
  return [];
}

// The shapes below are the subset of the v2 API's proto3 JSON the checks read. Values
// are `unknown` where a caller may hold unvalidated input.

/** RunProbeLike is a google.cloud.run.v2.Probe in proto3 JSON. */
export interface RunProbeLike {
  readonly initialDelaySeconds?: number;
  readonly timeoutSeconds?: number;
  readonly periodSeconds?: number;
  readonly failureThreshold?: number;
  readonly httpGet?: { readonly path?: string; readonly port?: number };
  readonly tcpSocket?: { readonly port?: number };
  readonly grpc?: { readonly port?: number; readonly service?: string };
}

/** RunEnvVarLike is a google.cloud.run.v2.EnvVar in proto3 JSON. */
export interface RunEnvVarLike {
  readonly name?: string;
  readonly value?: string;
  readonly valueSource?: { readonly secretKeyRef?: { readonly secret?: string; readonly version?: string } };
}

/** RunContainerLike is a google.cloud.run.v2.Container in proto3 JSON. */
export interface RunContainerLike {
  readonly name?: string;
  readonly image?: string;
  readonly env?: readonly RunEnvVarLike[];
  readonly resources?: {
    readonly limits?: Readonly<Record<string, string>>;
    readonly cpuIdle?: boolean;
    readonly startupCpuBoost?: boolean;
  };
  readonly ports?: readonly { readonly name?: string; readonly containerPort?: number }[];
  readonly startupProbe?: RunProbeLike;
  readonly livenessProbe?: RunProbeLike;
}

/** RunScalingLike is a RevisionScaling or ServiceScaling in proto3 JSON. */
export interface RunScalingLike {
  readonly minInstanceCount?: number;
  readonly maxInstanceCount?: number;
}

/** RunVpcAccessLike is a google.cloud.run.v2.VpcAccess in proto3 JSON. */
export interface RunVpcAccessLike {
  readonly connector?: string;
  readonly egress?: string;
  readonly networkInterfaces?: readonly unknown[];
}

/** RunTemplateLike is a google.cloud.run.v2.RevisionTemplate in proto3 JSON. */
export interface RunTemplateLike {
  readonly revision?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly scaling?: RunScalingLike;
  readonly vpcAccess?: RunVpcAccessLike;
  /** A proto3 JSON Duration, e.g. `300s`. */
  readonly timeout?: string;
  readonly containers?: readonly RunContainerLike[];
  readonly executionEnvironment?: string;
  readonly maxInstanceRequestConcurrency?: number;
}

/** RunTrafficTargetLike is a google.cloud.run.v2.TrafficTarget in proto3 JSON. */
export interface RunTrafficTargetLike {
  readonly type?: string;
  readonly revision?: string;
  readonly percent?: number;
  readonly tag?: string;
}

/** RunServiceLike is a google.cloud.run.v2.Service in proto3 JSON. */
export interface RunServiceLike {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly template?: RunTemplateLike;
  readonly traffic?: readonly RunTrafficTargetLike[];
  readonly scaling?: RunScalingLike;
}

function reject(field: string, description: string): RunViolation {
  return { field, description, severity: "reject" };
}

function advise(field: string, description: string): RunViolation {
  return { field, description, severity: "advise" };
}

/**
 * parseRunDuration reads a proto3 JSON Duration (`300s`, `1.5s`) into seconds, or
 * undefined when it is not one.
 */
export function parseRunDuration(value: string): number | undefined {
  const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(value);
  return m ? Number(m[1]) : undefined;
}

/** totalRunCpu adds up the CPU limits of a template's containers (default 1 each). */
export function totalRunCpu(containers: readonly RunContainerLike[]): number {
  let total = 0;
  for (const c of containers) total += parseRunCpu(c.resources?.limits?.["cpu"] ?? "1") ?? 1;
  return total;
}

/**
 * checkRunScaling checks min/max instance counts of a template's or the service's
 * scaling block: both non-negative, and max (when set) not below min.
 */
export function checkRunScaling(scaling: RunScalingLike | undefined, at: string): RunViolation[] {
  if (!scaling) return [];
  const out: RunViolation[] = [];
  for (const [key, field] of [
    ["minInstanceCount", "min_instance_count"],
    ["maxInstanceCount", "max_instance_count"],
  ] as const) {
    const v = scaling[key];
    if (v !== undefined && v < 0) out.push(reject(`${at}.${field}`, "must be greater than or equal to zero"));
  }
  const min = scaling.minInstanceCount ?? 0;
  const max = scaling.maxInstanceCount ?? 0;
  if (max > 0 && min > max) {
    out.push(reject(`${at}.max_instance_count`, "must be greater than or equal to min_instance_count"));
  }
  return out;
}

/** checkRunProbe checks one startup or liveness probe of a container. */
export function checkRunProbe(
  probe: RunProbeLike | undefined,
  kind: "startup" | "liveness",
  at: string,
): RunViolation[] {
  if (!probe) return [];
  const out: RunViolation[] = [];
  const limits = RUN_LIMITS.probe[kind];
  const actions = [probe.httpGet, probe.tcpSocket, probe.grpc].filter((a) => a !== undefined);
  if (actions.length !== 1) out.push(reject(at, "Exactly one probe action must be set"));
  if (kind === "liveness" && probe.tcpSocket !== undefined) {
    // "HTTP, TCP, and gRPC startup probes, along with HTTP and gRPC liveness probes".
    out.push(reject(`${at}.tcp_socket`, "Cloud Run does not support TCP socket in liveness probe"));
  }
  const bounded = (value: number | undefined, field: string, max: number) => {
    if (value !== undefined && (value < 0 || value > max)) {
      out.push(reject(`${at}.${field}`, `${field} must be a number between 0 and ${max}`));
    }
  };
  bounded(probe.initialDelaySeconds, "initial_delay_seconds", limits.maxInitialDelaySeconds);
  bounded(probe.periodSeconds, "period_seconds", limits.maxPeriodSeconds);
  bounded(probe.timeoutSeconds, "timeout_seconds", RUN_LIMITS.probe.maxTimeoutSeconds);
  if (probe.failureThreshold !== undefined && probe.failureThreshold < 0) {
    out.push(reject(`${at}.failure_threshold`, "Must be a positive number if set"));
  }
  for (const [action, field] of [
    [probe.httpGet, "http_get"],
    [probe.tcpSocket, "tcp_socket"],
    [probe.grpc, "grpc"],
  ] as const) {
    const port = action?.port;
    if (port !== undefined && port !== 0 && (port < 1 || port > 65_535)) {
      out.push(reject(`${at}.${field}.port`, "if specified, must be between 1 and 65535"));
    }
  }
  const d = RUN_LIMITS.probe.defaults;
  const timeout = probe.timeoutSeconds || d.timeoutSeconds;
  const period = probe.periodSeconds || d.periodSeconds;
  if (timeout > period) {
    out.push(
      advise(
        `${at}.timeout_seconds`,
        `timeout_seconds (${timeout}) must not exceed period_seconds (${period})`,
      ),
    );
  }
  if (kind === "startup") {
    const total = (probe.failureThreshold || d.failureThreshold) * period;
    if (total > RUN_LIMITS.probe.startup.maxTotalSeconds) {
      out.push(
        advise(
          at,
          `failure_threshold × period_seconds is ${total}s; a startup probe must succeed within ${RUN_LIMITS.probe.startup.maxTotalSeconds}s`,
        ),
      );
    }
  }
  return out;
}

const SECRET_RE = /^(?:projects\/[^/]+\/secrets\/)?[A-Za-z0-9_-]+$/;
const SECRET_VERSION_RE = /^[A-Za-z0-9_-]+$/;

/** checkRunEnv checks a container's environment variables. */
export function checkRunEnv(env: readonly RunEnvVarLike[] | undefined, at: string): RunViolation[] {
  if (!env) return [];
  const out: RunViolation[] = [];
  const seen = new Set<string>();
  const reserved = env.map((e) => e.name ?? "").filter((n) => RUN_LIMITS.env.reserved.includes(n));
  if (reserved.length > 0)
    out.push(reject(`${at}`, `reserved env names were provided: ${reserved.join(", ")}`));
  env.forEach((e, i) => {
    const here = `${at}[${i}]`;
    const name = e.name ?? "";
    if (name === "") out.push(reject(`${here}.name`, "must not be empty"));
    if (seen.has(name)) out.push(advise(`${here}.name`, `duplicate environment variable name ${name}`));
    seen.add(name);
    if ((e.value?.length ?? 0) > RUN_LIMITS.env.maxValueBytes) {
      out.push(reject(`${here}.value`, `length cannot exceed ${RUN_LIMITS.env.maxValueBytes}`));
    }
    if (e.valueSource !== undefined) {
      const ref = e.valueSource.secretKeyRef;
      if (!ref) {
        out.push(advise(`${here}.value_source`, "secret_key_ref is required"));
        return;
      }
      if (!SECRET_RE.test(ref.secret ?? "")) {
        out.push(
          reject(
            `${here}.value_source.secret_key_ref.secret`,
            "secret_key_ref.secret: may only be a secret name or projects/{project}/secrets/{secret}",
          ),
        );
      }
      // An absent version fails the same check as a malformed one: Cloud Run needs
      // `latest`, a number or an alias (k8s.min.proto, SecretKeySelector.version).
      if (!SECRET_VERSION_RE.test(ref.version ?? "")) {
        out.push(
          reject(
            `${here}.value_source.secret_key_ref.version`,
            "secret_key_ref.version: should have only alphanumeric characters, hyphens and underscores, e.g. latest or 3",
          ),
        );
      }
    }
  });
  return out;
}

const CONNECTOR_RE = /^projects\/[^/]+\/locations\/[^/]+\/connectors\/[^/]+$/;

/** checkRunVpcAccess checks a template's VPC access: connector name, egress, one mode. */
export function checkRunVpcAccess(vpc: RunVpcAccessLike | undefined, at: string): RunViolation[] {
  if (!vpc) return [];
  const out: RunViolation[] = [];
  const hasConnector = (vpc.connector ?? "") !== "";
  const hasInterfaces = (vpc.networkInterfaces?.length ?? 0) > 0;
  if (hasConnector && hasInterfaces) {
    out.push(reject(at, "one and only one of connector and network_interfaces must be set"));
  }
  if (hasConnector && !CONNECTOR_RE.test(vpc.connector!)) {
    out.push(
      reject(
        `${at}.connector`,
        "connector: must be in form projects/{project}/locations/{location}/connectors/{connector}",
      ),
    );
  }
  if (
    vpc.egress !== undefined &&
    vpc.egress !== "VPC_EGRESS_UNSPECIFIED" &&
    !RUN_LIMITS.vpcEgress.includes(vpc.egress)
  ) {
    out.push(reject(`${at}.egress`, `must be one of ${RUN_LIMITS.vpcEgress.join(", ")}`));
  }
  return out;
}

/** checkRunMetadata refuses labels and annotations in namespaces Cloud Run owns. */
export function checkRunMetadata(
  labels: Readonly<Record<string, string>> | undefined,
  annotations: Readonly<Record<string, string>> | undefined,
  at: string,
): RunViolation[] {
  const out: RunViolation[] = [];
  const reserved = (k: string) => RUN_LIMITS.reservedMetadataPrefixes.some((p) => k.startsWith(p));
  for (const k of Object.keys(labels ?? {})) {
    if (reserved(k)) out.push(reject(`${at}labels`, `system labels are not supported: ${k}`));
  }
  for (const k of Object.keys(annotations ?? {})) {
    if (reserved(k)) out.push(reject(`${at}annotations`, `system annotations are not supported: ${k}`));
  }
  return out;
}

/**
 * checkRunTemplate checks a revision template: containers (image, ports, resources,
 * probes, env), concurrency, timeout, scaling and VPC access, and the extra rules for
 * less than one vCPU in total.
 */
export function checkRunTemplate(template: RunTemplateLike | undefined, at = "template"): RunViolation[] {
  const containers = template?.containers ?? [];
  if (containers.length === 0) return [reject(`${at}.containers`, "must contain at least one container")];
  const t = template!;
  const out: RunViolation[] = [...checkRunMetadata(t.labels, t.annotations, `${at}.`)];
  containers.forEach((c, i) => {
    const here = `${at}.containers[${i}]`;
    if ((c.image ?? "") === "") out.push(reject(`${here}.image`, "must provide an image name to deploy"));
    if ((c.ports?.length ?? 0) > 1) out.push(reject(`${here}.ports`, "ports should contain 0 or 1 port"));
    const limits = c.resources?.limits ?? {};
    for (const key of Object.keys(limits)) {
      if (key !== "cpu" && key !== "memory" && key !== "nvidia.com/gpu") {
        out.push(
          reject(
            `${here}.resources.limits`,
            `only cpu, memory and nvidia.com/gpu limits are supported, got ${key}`,
          ),
        );
      }
    }
    out.push(
      ...resourceViolations(
        limits["cpu"] ?? "1",
        limits["memory"] ?? RUN_LIMITS.memory.default,
        t.executionEnvironment,
        `${here}.resources.limits.`,
      ),
    );
    out.push(...checkRunProbe(c.startupProbe, "startup", `${here}.startup_probe`));
    out.push(...checkRunProbe(c.livenessProbe, "liveness", `${here}.liveness_probe`));
    out.push(...checkRunEnv(c.env, `${here}.env`));
  });
  const concurrency = t.maxInstanceRequestConcurrency;
  if (concurrency !== undefined && (concurrency < 0 || concurrency > RUN_LIMITS.concurrency.max)) {
    out.push(
      reject(
        `${at}.max_instance_request_concurrency`,
        `Must be a number between 0 and ${RUN_LIMITS.concurrency.max}`,
      ),
    );
  }
  if (t.timeout !== undefined) {
    const seconds = parseRunDuration(t.timeout);
    if (seconds === undefined || seconds < 0) {
      out.push(reject(`${at}.timeout`, `Illegal duration format: ${t.timeout}`));
    } else if (seconds > RUN_LIMITS.timeoutSeconds.max) {
      out.push(reject(`${at}.timeout`, "maximum allowed time is one hour"));
    }
  }
  if (totalRunCpu(containers) < 1) {
    if ((concurrency ?? 0) > 1) {
      out.push(
        reject(
          `${at}.max_instance_request_concurrency`,
          "Total cpu < 1 is not supported with concurrency > 1",
        ),
      );
    }
    if (containers.some((c) => c.resources !== undefined && c.resources.cpuIdle !== true)) {
      // When `resources` is set, cpu_idle must be set to true explicitly to keep CPU
      // allocated only during requests (k8s.min.proto, ResourceRequirements.cpu_idle).
      out.push(reject(`${at}.containers`, "Total cpu < 1 is not supported with cpu always allocated"));
    }
    if (t.executionEnvironment !== "EXECUTION_ENVIRONMENT_GEN1") {
      out.push(
        advise(
          `${at}.execution_environment`,
          "less than 1 vCPU requires the first generation execution environment",
        ),
      );
    }
  }
  out.push(...checkRunScaling(t.scaling, `${at}.scaling`));
  out.push(...checkRunVpcAccess(t.vpcAccess, `${at}.vpc_access`));
  return out;
}

/** checkRunTraffic checks a service's traffic split: percents, targets and tags. */
export function checkRunTraffic(traffic: readonly RunTrafficTargetLike[] | undefined): RunViolation[] {
  if (!traffic || traffic.length === 0) return [];
  const out: RunViolation[] = [];
  const tags = new Set<string>();
  let total = 0;
  traffic.forEach((t, i) => {
    const here = `traffic[${i}]`;
    const percent = t.percent ?? 0;
    if (percent < 0 || percent > 100)
      out.push(reject(`${here}.percent`, "percent: must be a number between 0 and 100"));
    total += percent;
    const byRevision = t.type === "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION";
    if (byRevision !== ((t.revision ?? "") !== "")) {
      out.push(
        reject(
          `${here}.revision`,
          "must be specified if and only if traffic type is TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
        ),
      );
    }
    if (t.tag) {
      if (tags.has(t.tag)) out.push(reject(`${here}.tag`, "traffic may not contain a duplicate tag"));
      tags.add(t.tag);
    }
  });
  if (total !== 100) out.push(reject("traffic", `the sum of traffic percents should be 100, got ${total}`));
  return out;
}

/**
 * checkRunService checks everything above on a whole Service: metadata, template,
 * traffic and service-level scaling.
 */
export function checkRunService(service: RunServiceLike): RunViolation[] {
  return [
    ...checkRunMetadata(service.labels, service.annotations, ""),
    ...checkRunTemplate(service.template),
    ...checkRunTraffic(service.traffic),
    ...checkRunScaling(service.scaling, "scaling"),
  ];
}
