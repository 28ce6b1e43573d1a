import type protobuf from "protobufjs";
import { checkHealthCheckTiming, HEALTH_CHECK_LIMITS } from "../../gcp/catalog/compute.ts";
import { computeUrl, relativeComputeName } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import { normalize } from "../core/codec.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import {
  clone,
  field,
  invalid,
  listPage,
  mergePatch,
  numericId,
  requiredString,
  resourceBody,
  resourceNotFound,
  resourceNotReady,
  withoutOutputOnly,
} from "./common.ts";
import { type FixtureItem, fixtureProject } from "./network-endpoint-groups.ts";
import type { ComputeOperations } from "./operations.ts";

// Which sub-message carries the settings of each health check type
// (https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks).
const SUB_MESSAGE: Readonly<Record<string, string>> = {
  HTTP: "httpHealthCheck",
  HTTPS: "httpsHealthCheck",
  HTTP2: "http2HealthCheck",
  TCP: "tcpHealthCheck",
  SSL: "sslHealthCheck",
  GRPC: "grpcHealthCheck",
  GRPC_WITH_TLS: "grpcTlsHealthCheck",
};

// Default ports per type, from the REST reference of each sub-message ("The default value
// is 80" for HTTP and TCP, 443 for HTTPS, HTTP/2 and SSL).
const DEFAULT_PORT: Readonly<Record<string, number>> = {
  HTTP: 80,
  HTTPS: 443,
  HTTP2: 443,
  TCP: 80,
  SSL: 443,
};

/**
 * withHealthCheckDefaults fills what Compute fills on a health check: the timing defaults
 * of {@link HEALTH_CHECK_LIMITS}, `type` (HTTP unless a sub-message says otherwise) and,
 * in the type's sub-message, `port`, `requestPath` "/" and `proxyHeader` "NONE" (a
 * recorded GET: https://github.com/GoogleCloudPlatform/k8s-config-connector,
 * mockgcp/mockcompute/testdata/healthcheck/crud/_http.log).
 */
export function withHealthCheckDefaults(hc: JsonObject): JsonObject {
  const out = clone(hc);
  for (const k of Object.keys(HEALTH_CHECK_LIMITS) as (keyof typeof HEALTH_CHECK_LIMITS)[]) {
    out[k] ??= HEALTH_CHECK_LIMITS[k].default;
  }
  out["type"] ??= Object.entries(SUB_MESSAGE).find(([, sub]) => out[sub] !== undefined)?.[0] ?? "HTTP";
  const type = String(out["type"]);
  const subName = SUB_MESSAGE[type];
  if (subName) {
    const sub: JsonObject = { ...(out[subName] ?? {}) };
    const spec = sub["portSpecification"];
    if (DEFAULT_PORT[type] !== undefined && sub["port"] === undefined && !sub["portName"] && !spec) {
      sub["port"] = DEFAULT_PORT[type];
    }
    if (type === "HTTP" || type === "HTTPS" || type === "HTTP2") sub["requestPath"] ??= "/";
    if (type !== "GRPC" && type !== "GRPC_WITH_TLS") sub["proxyHeader"] ??= "NONE";
    out[subName] = sub;
  }
  return out;
}

/**
 * HealthChecks simulates global health checks: List, Get, Patch and Update
 * (https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks). Health checks
 * carry no fingerprint, so Compute offers no optimistic locking on them: the last write
 * wins, and a write while another is still running is refused as not ready.
 */
export class HealthChecks {
  readonly #ctx: SimContext;
  readonly #ops: ComputeOperations;
  readonly #type: protobuf.Type;
  #items = new Map<string, JsonObject>();

  constructor(ctx: SimContext, ops: ComputeOperations, type: protobuf.Type) {
    this.#ctx = ctx;
    this.#ops = ops;
    this.#type = type;
  }

  #canonical(hc: JsonObject, what: string): JsonObject {
    const full = withHealthCheckDefaults(hc);
    const violation = checkHealthCheckTiming(full)[0];
    if (violation) throw invalid(violation.message);
    try {
      return normalize(this.#type, full);
    } catch (err) {
      throw invalid(`Invalid value for ${what}: ${(err as Error).message}`);
    }
  }

  /** load replaces the health checks with a fixture's, refusing any GCP would not hold. */
  load(items: readonly FixtureItem[], sectionProject: string | undefined): void {
    this.#items = new Map();
    for (const item of items) {
      const { project: _, ...api } = item;
      const project = fixtureProject(item, sectionProject, "health check");
      const name = api["name"];
      if (typeof name !== "string") throw new TypeError("compute: a health check needs `name`");
      const rel = names.computeHealthCheck.format({ project, healthCheck: name });
      try {
        this.#items.set(
          rel,
          this.#canonical(
            {
              kind: "compute#healthCheck",
              id: numericId(rel),
              creationTimestamp: this.#ctx.nowIso(),
              ...api,
              selfLink: computeUrl(rel),
            },
            "health check",
          ),
        );
      } catch (err) {
        throw new TypeError(`compute: health check \`${rel}\`: ${(err as Error).message}`);
      }
    }
  }

  /** dump returns the health checks in fixture form. */
  dump(): FixtureItem[] {
    return [...this.#items.entries()].map(([rel, json]) => ({
      project: names.computeHealthCheck.parse(rel)!.project,
      ...clone(json),
    }));
  }

  /** byReference returns the health check a reference (URL or relative name) names, if known. */
  byReference(reference: string): JsonObject | undefined {
    const rel = relativeComputeName(reference);
    return rel ? this.#items.get(rel) : undefined;
  }

  #nameOf(req: SimRequest): string {
    return names.computeHealthCheck.format({
      project: requiredString(req.body, "project", "project"),
      healthCheck: requiredString(req.body, "healthCheck", "health_check"),
    });
  }

  /** get serves HealthChecks.Get. */
  get(req: SimRequest): JsonObject {
    const rel = this.#nameOf(req);
    const hc = this.#items.get(rel);
    if (!hc) throw resourceNotFound(rel);
    return clone(hc);
  }

  /** list serves HealthChecks.List. */
  list(req: SimRequest): JsonObject {
    const project = requiredString(req.body, "project", "project");
    const prefix = `projects/${project}/global/healthChecks/`;
    const items = [...this.#items.entries()]
      .filter(([rel]) => rel.startsWith(prefix))
      .map(([, j]) => clone(j));
    return listPage(items, req, {
      kind: "compute#healthCheckList",
      collection: `projects/${project}/global/healthChecks`,
    });
  }

  /**
   * write serves Patch (a JSON merge patch onto the current resource) and Update (the body
   * replaces the resource; omitted fields return to their defaults). Validation is
   * synchronous; the change lands when the returned operation finishes.
   */
  write(req: SimRequest, mode: "patch" | "update"): JsonObject {
    const rel = this.#nameOf(req);
    const project = names.computeHealthCheck.parse(rel)!.project;
    const current = this.#items.get(rel);
    if (!current) throw resourceNotFound(rel);
    const body = resourceBody(req, "healthCheckResource", "health_check_resource", this.#type);
    const requestId = field(req.body, "requestId", "request_id") as string | undefined;
    const again = this.#ops.byRequestId(project, requestId);
    if (again) return again;
    if (this.#ops.running(rel)) throw resourceNotReady(rel);
    const server = {
      kind: current["kind"],
      id: current["id"],
      creationTimestamp: current["creationTimestamp"],
      name: current["name"],
      selfLink: current["selfLink"],
    };
    const requested = withoutOutputOnly(body);
    const candidate = this.#canonical(
      mode === "patch" ? { ...mergePatch(current, requested), ...server } : { ...requested, ...server },
      "health check",
    );
    const fault = req.takeOperationFault();
    return this.#ops.start({
      project,
      operationType: mode,
      target: rel,
      targetId: String(current["id"]),
      fault,
      requestId,
      apply: () => {
        this.#items.set(rel, candidate);
      },
    });
  }

  /**
   * edit changes a health check out of band, as a person in the console would: a merge
   * patch, validated like an API write, applied at once.
   */
  edit(name: string, patch: JsonObject): JsonObject {
    const rel = relativeComputeName(name) ?? name;
    const current = this.#items.get(rel);
    if (!current) throw new TypeError(`compute: no health check \`${name}\``);
    const next = this.#canonical(mergePatch(current, withoutOutputOnly(patch)), "health check");
    this.#items.set(rel, next);
    return clone(next);
  }
}
