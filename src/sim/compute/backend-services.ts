import { createHash } from "node:crypto";
import type protobuf from "protobufjs";
import { BACKEND_SERVICE_LIMITS, checkBackendServiceSettings } from "../../gcp/catalog/compute.ts";
import { computeUrl, relativeComputeName } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import { normalize } from "../core/codec.ts";
import type { JsonObject, SimContext } from "../core/types.ts";
import { type ComputeError, clone, invalid, resourceNotFound } from "./common.ts";
import { GlobalResources } from "./global-resources.ts";
import type { HealthChecks } from "./health-checks.ts";
import type { NetworkEndpointGroups } from "./network-endpoint-groups.ts";
import type { ComputeOperations } from "./operations.ts";

/**
 * absoluteReference turns a reference in any form Compute accepts (full URL,
 * `projects/...`, or project-relative `global/...` / `regions/...`) into the full URL the
 * API stores, or undefined when it is malformed.
 */
function absoluteReference(reference: string, project: string): string | undefined {
  const rel = relativeComputeName(reference);
  if (rel) return computeUrl(rel);
  if (/^(global|regions\/[^/]+|zones\/[^/]+)\/[a-zA-Z]+\/[^/]+$/.test(reference)) {
    return computeUrl(`projects/${project}/${reference}`);
  }
  return undefined;
}

/** malformed is Compute's 400 for a reference it cannot parse. */
function malformed(path: string, value: string): ComputeError {
  return invalid(`Invalid value for field 'resource.${path}': '${value}'. The URL is malformed.`);
}

/**
 * resolve makes every reference of a backend service absolute, checks that the health
 * checks and regional NEGs it names exist (Compute answers 404 for a missing one), and
 * tells whether the backends are serverless NEGs.
 */
function resolve(
  raw: JsonObject,
  project: string,
  negs: NetworkEndpointGroups,
  healthChecks: HealthChecks,
): { bs: JsonObject; serverless: boolean } {
  const out = clone(raw);
  let serverless = false;
  if (Array.isArray(out["healthChecks"])) {
    out["healthChecks"] = (out["healthChecks"] as string[]).map((ref, i) => {
      const abs = absoluteReference(ref, project);
      if (!abs) throw malformed(`healthChecks[${i}]`, ref);
      const rel = relativeComputeName(abs)!;
      if (names.computeHealthCheck.parse(rel) && !healthChecks.byReference(abs)) {
        throw resourceNotFound(rel);
      }
      return abs;
    });
  }
  if (Array.isArray(out["backends"])) {
    out["backends"] = (out["backends"] as JsonObject[]).map((b, i) => {
      const ref = b["group"];
      if (typeof ref !== "string")
        throw invalid(`Required field 'resource.backends[${i}].group' not specified`);
      const abs = absoluteReference(ref, project);
      if (!abs) throw malformed(`backends[${i}].group`, ref);
      if (negs.isRegionalNegReference(abs)) {
        const neg = negs.byReference(abs);
        if (!neg) throw resourceNotFound(relativeComputeName(abs)!);
        if (neg["networkEndpointType"] === "SERVERLESS") serverless = true;
      }
      return { ...b, group: abs };
    });
  }
  return { bs: out, serverless };
}

/**
 * BackendServices simulates global backend services: List, Get, Patch and Update with
 * fingerprint locking and the serverless-NEG restrictions
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices).
 */
export class BackendServices extends GlobalResources<"backendService"> {
  constructor(
    ctx: SimContext,
    ops: ComputeOperations,
    negs: NetworkEndpointGroups,
    healthChecks: HealthChecks,
    type: protobuf.Type,
  ) {
    super(ctx, ops, {
      noun: "backend service",
      template: names.computeBackendService,
      idParam: ["backendService", "backend_service"],
      bodyParam: ["backendServiceResource", "backend_service_resource"],
      listKind: "compute#backendServiceList",
      type,
      fingerprinted: true,
      /**
       * canonical fills Compute's defaults and validates. Defaults are those real GCP
       * returns for a backend service created without them (two VCR cassettes of Config
       * Connector recorded against real GCP, test/fixtures/recorded/compute/
       * backend-service-self-managed-vcr.json, whose create sent only its name, scheme,
       * draining, health check and IAP): description "", scheme EXTERNAL, session
       * affinity NONE, cookie TTL 0, draining 0, protocol HTTP (as both cassettes show;
       * none recorded a serverless backend service, which gets it too), and
       * for backends that are not serverless timeoutSec 30, port 80 ("The default value
       * is 80", BackendService.port in compute.proto) and portName `http`; serverless
       * ones refuse the timeout and the named port. `enableCDN` stays absent until set,
       * as in the cassettes. `capacityScaler` defaults to 1 and, outside serverless,
       * `balancingMode` to UTILIZATION (`backends[]`). The IAP client secret is input
       * only: "the SHA-256 hash of the value is returned in the oauth2ClientSecretSha256
       * field" (BackendServiceIAP.oauth2_client_secret), never the secret.
       */
      canonical(raw, project) {
        const { bs, serverless } = resolve(raw, project, negs, healthChecks);
        const violation = checkBackendServiceSettings(bs, { serverless })[0];
        if (violation) throw invalid(violation.message);
        bs["kind"] ??= "compute#backendService";
        bs["description"] ??= "";
        bs["protocol"] ??= "HTTP";
        bs["loadBalancingScheme"] ??= "EXTERNAL";
        bs["sessionAffinity"] ??= "NONE";
        bs["affinityCookieTtlSec"] ??= 0;
        bs["connectionDraining"] = {
          drainingTimeoutSec: BACKEND_SERVICE_LIMITS.drainingTimeoutSec.default,
          ...(bs["connectionDraining"] ?? {}),
        };
        if (!serverless) {
          bs["timeoutSec"] ??= BACKEND_SERVICE_LIMITS.timeoutSec.default;
          bs["port"] ??= 80;
          bs["portName"] ??= "http";
        }
        const iap = bs["iap"] as JsonObject | undefined;
        if (iap && typeof iap["oauth2ClientSecret"] === "string") {
          iap["oauth2ClientSecretSha256"] = createHash("sha256")
            .update(iap["oauth2ClientSecret"])
            .digest("hex");
          delete iap["oauth2ClientSecret"];
        }
        if (Array.isArray(bs["backends"])) {
          bs["backends"] = (bs["backends"] as JsonObject[]).map((b) => ({
            ...(serverless ? {} : { balancingMode: "UTILIZATION" }),
            capacityScaler: 1,
            ...b,
          }));
        }
        // "sampleRate ... The default value is 1.0" when logging is enabled (REST reference, logConfig).
        const log = bs["logConfig"] as JsonObject | undefined;
        if (log?.["enable"] === true) log["sampleRate"] ??= 1;
        return normalize(type, bs);
      },
    });
  }
}
