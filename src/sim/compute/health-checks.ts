import type protobuf from "protobufjs";
import { checkHealthCheckTiming, HEALTH_CHECK_LIMITS } from "../../gcp/catalog/compute.ts";
import { HEALTH_CHECK_DEFAULT_PORT, HEALTH_CHECK_SUB_MESSAGE } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import { normalize } from "../core/codec.ts";
import type { JsonObject, SimContext } from "../core/types.ts";
import { clone, invalid } from "./common.ts";
import { GlobalResources } from "./global-resources.ts";
import type { ComputeOperations } from "./operations.ts";

// Which sub-message carries the settings of each type, by name.
const SUB_MESSAGE: Readonly<Record<string, string>> = HEALTH_CHECK_SUB_MESSAGE;

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
    const port = HEALTH_CHECK_DEFAULT_PORT[type];
    if (port !== undefined && sub["port"] === undefined && !sub["portName"] && !sub["portSpecification"]) {
      sub["port"] = port;
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
export class HealthChecks extends GlobalResources<"healthCheck"> {
  constructor(ctx: SimContext, ops: ComputeOperations, type: protobuf.Type) {
    super(ctx, ops, {
      noun: "health check",
      template: names.computeHealthCheck,
      idParam: ["healthCheck", "health_check"],
      bodyParam: ["healthCheckResource", "health_check_resource"],
      listKind: "compute#healthCheckList",
      type,
      seed: { kind: "compute#healthCheck" },
      fingerprinted: false,
      canonical(hc) {
        const full = withHealthCheckDefaults(hc);
        const violation = checkHealthCheckTiming(full)[0];
        if (violation) throw invalid(violation.message);
        try {
          return normalize(type, full);
        } catch (err) {
          throw invalid(`Invalid value for health check: ${(err as Error).message}`);
        }
      },
    });
  }
}
