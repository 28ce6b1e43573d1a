import type { protos } from "@google-cloud/compute";
import type { FieldChange } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { gaxCallOptions } from "../gcp/call.ts";
import { HEALTH_CHECK_LIMITS } from "../gcp/catalog/compute.ts";
import {
  COMPUTE_API,
  computeUrl,
  HEALTH_CHECK_DEFAULT_PORT,
  HEALTH_CHECK_SUB_MESSAGE,
} from "../gcp/compute.ts";
import { names } from "../gcp/names.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import { getOrUndefined, listAllPages } from "../gcp/read.ts";
import type { Disruption } from "../plan/model.ts";
import { checkAgainstLive, type LiveSpecOf } from "../spec/rules.ts";
import type { HealthCheckSpec, HealthCheckType, Resource } from "../spec/types.ts";
import {
  COMPUTE_LIST_PAGE_SIZE,
  computeReadiness,
  pendingComputeOperation,
  runningGlobalOperations,
  startedPoller,
} from "./compute.ts";
import type {
  CheckResult,
  Observed,
  Reconciler,
  ResourceRef,
  Scope,
  WriteOptions,
  WriteResult,
} from "./types.ts";

type IHealthCheck = protos.google.cloud.compute.v1.IHealthCheck;
type IOperation = protos.google.cloud.compute.v1.IOperation;

type SubMessageKey = (typeof HEALTH_CHECK_SUB_MESSAGE)[keyof typeof HEALTH_CHECK_SUB_MESSAGE];
type SubMessage = Record<string, unknown>;

/** HEALTH_CHECK_DEFAULT_PATH is the request path of an HTTP(S)/HTTP2 check without one ("The default value is /"). */
export const HEALTH_CHECK_DEFAULT_PATH = "/";

// The fields each sub-message has (compute.proto), so a type change carries over only
// what the new type can hold.
const HTTP_FIELDS = [
  "host",
  "port",
  "portName",
  "portSpecification",
  "proxyHeader",
  "requestPath",
  "response",
];
const STREAM_FIELDS = ["port", "portName", "portSpecification", "proxyHeader", "request", "response"];
const SUB_MESSAGE_FIELDS: Readonly<Record<SubMessageKey, readonly string[]>> = {
  httpHealthCheck: HTTP_FIELDS,
  httpsHealthCheck: HTTP_FIELDS,
  http2HealthCheck: HTTP_FIELDS,
  tcpHealthCheck: STREAM_FIELDS,
  sslHealthCheck: STREAM_FIELDS,
  grpcHealthCheck: ["grpcServiceName", "port", "portName", "portSpecification"],
  grpcTlsHealthCheck: ["grpcServiceName", "port", "portSpecification"],
};

function hasRequestPath(type: string): boolean {
  return type === "HTTP" || type === "HTTPS" || type === "HTTP2";
}

function subMessageKey(type: string): SubMessageKey | undefined {
  return (HEALTH_CHECK_SUB_MESSAGE as Readonly<Record<string, SubMessageKey>>)[type];
}

/** typeOf reads a health check's type; a check without one is typed by the sub-message it carries. */
function typeOf(live: IHealthCheck): string {
  if (live.type) return live.type;
  const found = Object.entries(HEALTH_CHECK_SUB_MESSAGE).find(([, key]) => live[key]);
  return found?.[0] ?? "HTTP";
}

function subMessageOf(live: IHealthCheck, type: string): SubMessage {
  const key = subMessageKey(type);
  const sub = key ? live[key] : undefined;
  return sub && typeof sub === "object" ? { ...(sub as SubMessage) } : {};
}

/**
 * usesFixedPort says whether a sub-message's `port` is the port checked. With
 * USE_SERVING_PORT (or the unsupported USE_NAMED_PORT) the port comes from the backend
 * service instead (`portSpecification`, HTTPHealthCheck in compute.proto).
 */
function usesFixedPort(sub: SubMessage): boolean {
  const spec = sub["portSpecification"];
  return spec === undefined || spec === null || spec === "" || spec === "USE_FIXED_PORT";
}

function healthCheckName(ref: Pick<ResourceRef, "project" | "id">): string {
  return names.computeHealthCheck.format({ project: ref.project, healthCheck: ref.id });
}

function projectOf(live: IHealthCheck, fallback: string): string {
  const m = /\/projects\/([^/]+)\//.exec(live.selfLink ?? "");
  return m?.[1] ?? fallback;
}

function observe(
  live: IHealthCheck,
  project: string,
  running: readonly IOperation[],
): Observed<IHealthCheck> {
  const id = String(live.name ?? "");
  const name = healthCheckName({ project, id });
  return {
    ref: { kind: "HealthCheck", project, location: "global", id },
    name,
    live,
    // Compute's HealthCheck has no fingerprint (compute.proto), so there is no token.
    version: undefined,
    readiness: computeReadiness(live.selfLink ?? computeUrl(name), running),
  };
}

/** HealthCheckWriteError is a change this reconciler refuses to write. */
export class HealthCheckWriteError extends Error {
  /** `UNWRITABLE_FIELD`: the change names a field capstan does not write on health checks. */
  readonly code: "UNWRITABLE_FIELD";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "HealthCheckWriteError";
    this.code = "UNWRITABLE_FIELD";
  }
}

/** TIMING_FIELDS are the top-level integer fields of a check, written as they are. */
const TIMING_FIELDS = ["checkIntervalSec", "timeoutSec", "healthyThreshold", "unhealthyThreshold"] as const;
type TimingField = (typeof TIMING_FIELDS)[number];

function isTimingField(f: unknown): f is TimingField {
  return typeof f === "string" && (TIMING_FIELDS as readonly string[]).includes(f);
}

/**
 * healthCheckReconciler manages global Compute Engine health checks
 * (https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks): type, port and
 * request path (which live in the sub-message of the check's type), interval, timeout,
 * thresholds and logging. A write is one `healthChecks.patch` (JSON merge patch) of the
 * changed fields, or, when the type changes, one `healthChecks.update` of the whole
 * check read from live (see `write`). Health checks carry no fingerprint, so Compute
 * offers no precondition: the executor's re-read right before each write, which refuses
 * to overwrite a value someone changed since the plan, is the only guard.
 */
export const healthCheckReconciler = {
  kind: "HealthCheck",
  diffOptions: {},

  scopeOf(ref: ResourceRef): Scope {
    // Global health checks are listed per project.
    return { project: ref.project, location: "global" };
  },

  fullName(ref: ResourceRef): string {
    return healthCheckName(ref);
  },

  async list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<IHealthCheck>[]> {
    const items = await listAllPages(
      gcp,
      {
        api: COMPUTE_API,
        method: "healthChecks.list",
        write: false,
        location: "global",
        resource: `projects/${scope.project}/global`,
      },
      (page, options) =>
        gcp.clients.compute.healthChecks.list(
          { project: scope.project, maxResults: COMPUTE_LIST_PAGE_SIZE, ...page },
          options,
        ),
      signal,
    );
    // One operations list for the whole scope, not one per health check.
    const running = items.length ? await runningGlobalOperations(gcp, scope.project, undefined, signal) : [];
    return items.map((live) => observe(live, projectOf(live, scope.project), running));
  },

  async get(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<Observed<IHealthCheck> | undefined> {
    // 404 notFound: "The resource '...' was not found".
    const got = await getOrUndefined(() =>
      gcp.call(
        {
          api: COMPUTE_API,
          method: "healthChecks.get",
          write: false,
          location: "global",
          resource: healthCheckName(ref),
        },
        () =>
          gcp.clients.compute.healthChecks.get(
            { project: ref.project, healthCheck: ref.id },
            gaxCallOptions(),
          ),
        signal,
      ),
    );
    if (!got) return undefined;
    const [live] = got;
    const link = live.selfLink ?? computeUrl(healthCheckName(ref));
    const running = await runningGlobalOperations(gcp, ref.project, link, signal);
    return observe(live, ref.project, running);
  },

  desired(resource: Resource<"HealthCheck">): Record<string, unknown> {
    const s: HealthCheckSpec = resource.spec;
    const out: Record<string, unknown> = {};
    if (s.type !== undefined) out["type"] = s.type;
    if (s.port !== undefined) out["port"] = s.port;
    if (s.requestPath !== undefined) out["requestPath"] = s.requestPath;
    for (const f of TIMING_FIELDS) if (s[f] !== undefined) out[f] = s[f];
    if (s.logConfig?.enable !== undefined) out["logConfig"] = { enable: s.logConfig.enable };
    return out;
  },

  normalize(live: IHealthCheck): Record<string, unknown> {
    const type = typeOf(live);
    const sub = subMessageOf(live, type);
    const out: Record<string, unknown> = { type };
    // A check whose port comes from the backend service (USE_SERVING_PORT) has no port
    // of its own, so a spec's port shows as a change.
    if (usesFixedPort(sub)) {
      const port = typeof sub["port"] === "number" ? sub["port"] : HEALTH_CHECK_DEFAULT_PORT[type];
      if (port !== undefined) out["port"] = port;
    }
    if (hasRequestPath(type)) {
      out["requestPath"] =
        typeof sub["requestPath"] === "string" && sub["requestPath"] !== ""
          ? sub["requestPath"]
          : HEALTH_CHECK_DEFAULT_PATH;
    }
    for (const f of TIMING_FIELDS) out[f] = live[f] ?? HEALTH_CHECK_LIMITS[f].default;
    // "This is false by default" (HealthCheckLogConfig.enable, compute.proto).
    out["logConfig"] = { enable: live.logConfig?.enable ?? false };
    return out;
  },

  disruptions(
    _changes: readonly FieldChange[],
    _observed: Observed<IHealthCheck>,
    _resource: Resource<"HealthCheck">,
  ): Disruption[] {
    // A health check is patched in place: same resource, same URL, nothing restarts and
    // backends keep serving. Probing with new settings changes how fast a failing
    // backend is marked unhealthy, which the plan shows as the change itself.
    return [];
  },

  async write(
    gcp: Gcp,
    observed: Observed<IHealthCheck>,
    _resource: Resource<"HealthCheck">,
    changes: readonly FieldChange[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    // healthChecks.patch and update have no validate-only mode.
    if (options.validateOnly) return { poller: undefined, validated: false };
    const live = observed.live;
    const liveType = typeOf(live);
    const patch: IHealthCheck = {};
    let type = liveType;
    let port: number | undefined;
    let requestPath: string | undefined;
    let enableLog: boolean | undefined;
    for (const c of changes) {
      const [head, sub] = c.path;
      if (isTimingField(head)) {
        patch[head] = Number(c.after);
      } else if (head === "type") {
        type = String(c.after) as HealthCheckType;
      } else if (head === "port") {
        port = Number(c.after);
      } else if (head === "requestPath") {
        requestPath = String(c.after);
      } else if (head === "logConfig" && (sub === "enable" || sub === undefined)) {
        const v = sub === undefined ? (c.after as { enable?: unknown } | undefined)?.enable : c.after;
        enableLog = v === true;
      } else {
        throw new HealthCheckWriteError(
          `could not update ${observed.name}: ${c.field} is not a field capstan writes on health checks`,
        );
      }
    }
    const key = subMessageKey(type);
    if ((port !== undefined || requestPath !== undefined || type !== liveType) && !key) {
      throw new HealthCheckWriteError(`could not update ${observed.name}: unknown health check type ${type}`);
    }
    if (requestPath !== undefined && !hasRequestPath(type)) {
      throw new HealthCheckWriteError(
        `could not update ${observed.name}: a ${type} health check has no request path`,
      );
    }
    if (enableLog !== undefined) patch.logConfig = { ...(live.logConfig ?? {}), enable: enableLog };

    // The sub-message goes whole, built from live, so its unmanaged fields (host,
    // proxyHeader, response) survive even where a server replaced nested messages
    // rather than merging them.
    let next: SubMessage | undefined;
    if (type !== liveType || port !== undefined || requestPath !== undefined) {
      const from = subMessageOf(live, liveType);
      next = {};
      for (const f of SUB_MESSAGE_FIELDS[key!])
        if (from[f] !== undefined && from[f] !== null) next[f] = from[f];
      if (type !== liveType && next["port"] === undefined && usesFixedPort(from)) {
        // The port checked stays what it was (the old type's default when unset), as the
        // plan showed: only the fields in `changes` change.
        const was = HEALTH_CHECK_DEFAULT_PORT[liveType];
        if (was !== undefined) next["port"] = was;
      }
      if (port !== undefined) {
        next["port"] = port;
        // A stated port only means something with a fixed port: with USE_SERVING_PORT
        // Compute takes the backend service's port instead (portSpecification).
        if (!usesFixedPort(next)) next["portSpecification"] = "USE_FIXED_PORT";
      }
      if (requestPath !== undefined) next["requestPath"] = requestPath;
    }

    // "This method supports PATCH semantics and uses the JSON merge patch format and
    // processing rules" (https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks/patch):
    // only the changed fields are sent, so a concurrent change to another field survives.
    let method: "patch" | "update" = "patch";
    let healthCheckResource = patch;
    if (type !== liveType) {
      // A merge patch cannot remove the old type's sub-message (the client drops nulls
      // while encoding), and Compute refuses a check whose sub-message does not match its
      // type: "Invalid value for field 'resource.httpHealthCheck': ''. HTTP healthCheck
      // specified for protocol HTTPS." (hashicorp/terraform-provider-google#92, fixed in
      // #944 by sending the old block as null). So a type change replaces the whole check
      // with healthChecks.update: live as read, the old sub-message dropped, the new one
      // set, with every other field sent back unchanged.
      const oldKey = subMessageKey(liveType);
      healthCheckResource = { ...live, ...patch, type };
      if (oldKey) delete healthCheckResource[oldKey];
      healthCheckResource[key!] = next as never;
      method = "update";
    } else if (next) {
      patch[key!] = next as never;
    }
    const project = observed.ref.project;
    const request = { project, healthCheck: observed.ref.id, healthCheckResource };
    const checks = gcp.clients.compute.healthChecks;
    const [lro] = await gcp.call(
      {
        api: COMPUTE_API,
        method: `healthChecks.${method}`,
        write: true,
        location: "global",
        resource: observed.name,
      },
      () =>
        method === "update"
          ? checks.update(request, gaxCallOptions())
          : checks.patch(request, gaxCallOptions()),
      options.signal,
    );
    return { poller: startedPoller(gcp, project, lro) };
  },

  pending(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<OperationPoller | undefined> {
    // A write while another runs is refused with 400 resourceNotReady, which is no
    // conflict the executor would retry: it waits for the running operation instead.
    return pendingComputeOperation(gcp, ref.project, computeUrl(healthCheckName(ref)), signal);
  },

  async check(
    _gcp: Gcp,
    resource: Resource<"HealthCheck">,
    observed: Observed<IHealthCheck>,
    _changes: readonly FieldChange[],
  ): Promise<CheckResult> {
    // The rules shared with the offline validator, judged with the live half: a timeout
    // above the live interval, a request path on a live TCP/SSL/GRPC check.
    const live = healthCheckReconciler.normalize(observed.live) as LiveSpecOf<"HealthCheck">;
    return { problems: checkAgainstLive(resource, live).problems.map((p) => p.message), notes: [] };
  },
} satisfies Reconciler<"HealthCheck", IHealthCheck>;
