import type protobuf from "protobufjs";
import { BACKEND_SERVICE_LIMITS, checkBackendServiceSettings } from "../../gcp/catalog/compute.ts";
import { computeUrl, relativeComputeName } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import { normalize } from "../core/codec.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import {
  ComputeError,
  clone,
  field,
  invalid,
  listPage,
  mergePatch,
  newFingerprint,
  numericId,
  requiredString,
  resourceBody,
  resourceNotFound,
  resourceNotReady,
  withoutOutputOnly,
} from "./common.ts";
import type { HealthChecks } from "./health-checks.ts";
import { type FixtureItem, fixtureProject, type NetworkEndpointGroups } from "./network-endpoint-groups.ts";
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
 * BackendServices simulates global backend services: List, Get, Patch and Update with
 * fingerprint locking and the serverless-NEG restrictions
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices).
 */
export class BackendServices {
  readonly #ctx: SimContext;
  readonly #ops: ComputeOperations;
  readonly #negs: NetworkEndpointGroups;
  readonly #healthChecks: HealthChecks;
  readonly #type: protobuf.Type;
  #items = new Map<string, JsonObject>();

  constructor(
    ctx: SimContext,
    ops: ComputeOperations,
    negs: NetworkEndpointGroups,
    healthChecks: HealthChecks,
    type: protobuf.Type,
  ) {
    this.#ctx = ctx;
    this.#ops = ops;
    this.#negs = negs;
    this.#healthChecks = healthChecks;
    this.#type = type;
  }

  /**
   * #resolve makes every reference absolute, checks that the health checks and regional
   * NEGs it names exist (Compute answers 404 for a missing one), and tells whether the
   * backends are serverless NEGs.
   */
  #resolve(bs: JsonObject, project: string): { bs: JsonObject; serverless: boolean } {
    const out = clone(bs);
    let serverless = false;
    if (Array.isArray(out["healthChecks"])) {
      out["healthChecks"] = (out["healthChecks"] as string[]).map((ref, i) => {
        const abs = absoluteReference(ref, project);
        if (!abs) throw malformed(`healthChecks[${i}]`, ref);
        const rel = relativeComputeName(abs)!;
        if (names.computeHealthCheck.parse(rel) && !this.#healthChecks.byReference(abs)) {
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
        if (this.#negs.isRegionalNegReference(abs)) {
          const neg = this.#negs.byReference(abs);
          if (!neg) throw resourceNotFound(relativeComputeName(abs)!);
          if (neg["networkEndpointType"] === "SERVERLESS") serverless = true;
        }
        return { ...b, group: abs };
      });
    }
    return { bs: out, serverless };
  }

  /**
   * #canonical fills Compute's defaults and validates. Defaults are those of a recorded
   * GET (https://github.com/GoogleCloudPlatform/k8s-config-connector,
   * mockgcp/mockcompute/testdata/backendservice/crud/_http.log): protocol HTTP, scheme
   * EXTERNAL, session affinity NONE, draining 0, and for non-serverless backends
   * timeoutSec 30 and port 80. Serverless backends get no timeout or port, which they
   * refuse; `capacityScaler` defaults to 1 and, outside serverless, `balancingMode` to
   * UTILIZATION (REST reference, `backends[]`).
   */
  #canonical(raw: JsonObject, project: string): JsonObject {
    const { bs, serverless } = this.#resolve(raw, project);
    const violation = checkBackendServiceSettings(bs, { serverless })[0];
    if (violation) throw invalid(violation.message);
    bs["kind"] ??= "compute#backendService";
    bs["description"] ??= "";
    bs["protocol"] ??= "HTTP";
    bs["loadBalancingScheme"] ??= "EXTERNAL";
    bs["sessionAffinity"] ??= "NONE";
    bs["affinityCookieTtlSec"] ??= 0;
    bs["enableCDN"] ??= false;
    bs["connectionDraining"] = {
      drainingTimeoutSec: BACKEND_SERVICE_LIMITS.drainingTimeoutSec.default,
      ...(bs["connectionDraining"] ?? {}),
    };
    if (!serverless) {
      bs["timeoutSec"] ??= BACKEND_SERVICE_LIMITS.timeoutSec.default;
      bs["port"] ??= 80;
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
    return normalize(this.#type, bs);
  }

  /** load replaces the backend services with a fixture's, refusing any GCP would not hold. */
  load(items: readonly FixtureItem[], sectionProject: string | undefined): void {
    this.#items = new Map();
    for (const item of items) {
      const { project: _, ...api } = item;
      const project = fixtureProject(item, sectionProject, "backend service");
      const name = api["name"];
      if (typeof name !== "string") throw new TypeError("compute: a backend service needs `name`");
      const rel = names.computeBackendService.format({ project, backendService: name });
      try {
        this.#items.set(
          rel,
          this.#canonical(
            {
              id: numericId(rel),
              creationTimestamp: this.#ctx.nowIso(),
              fingerprint: newFingerprint(this.#ctx),
              ...api,
              selfLink: computeUrl(rel),
            },
            project,
          ),
        );
      } catch (err) {
        throw new TypeError(`compute: backend service \`${rel}\`: ${(err as Error).message}`);
      }
    }
  }

  /** dump returns the backend services in fixture form. */
  dump(): FixtureItem[] {
    return [...this.#items.entries()].map(([rel, json]) => ({
      project: names.computeBackendService.parse(rel)!.project,
      ...clone(json),
    }));
  }

  #nameOf(req: SimRequest): string {
    return names.computeBackendService.format({
      project: requiredString(req.body, "project", "project"),
      backendService: requiredString(req.body, "backendService", "backend_service"),
    });
  }

  /** get serves BackendServices.Get. */
  get(req: SimRequest): JsonObject {
    const rel = this.#nameOf(req);
    const bs = this.#items.get(rel);
    if (!bs) throw resourceNotFound(rel);
    return clone(bs);
  }

  /** list serves BackendServices.List. */
  list(req: SimRequest): JsonObject {
    const project = requiredString(req.body, "project", "project");
    const prefix = `projects/${project}/global/backendServices/`;
    const items = [...this.#items.entries()]
      .filter(([rel]) => rel.startsWith(prefix))
      .map(([, j]) => clone(j));
    return listPage(items, req, {
      kind: "compute#backendServiceList",
      collection: `projects/${project}/global/backendServices`,
    });
  }

  /**
   * write serves Patch (JSON merge patch) and Update (replacement, omitted fields back to
   * their defaults). The fingerprint is Compute's optimistic lock: "An up-to-date
   * fingerprint must be provided in order to update the BackendService, otherwise the
   * request will fail with error 412 conditionNotMet"
   * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices). An Update
   * without one is refused with 400 "Required field 'resource.fingerprint' not specified"
   * (https://github.com/ansible-collections/google.cloud/issues/342); a Patch may omit it,
   * being a merge of the fields sent. A stale one is 412 "Precondition Failed"
   * (https://github.com/GoogleCloudPlatform/gke-autoneg-controller/issues/4). The
   * fingerprint changes when the operation lands.
   */
  write(req: SimRequest, mode: "patch" | "update"): JsonObject {
    const rel = this.#nameOf(req);
    const project = names.computeBackendService.parse(rel)!.project;
    const current = this.#items.get(rel);
    if (!current) throw resourceNotFound(rel);
    const body = resourceBody(req, "backendServiceResource", "backend_service_resource", this.#type);
    const requestId = field(req.body, "requestId", "request_id") as string | undefined;
    const again = this.#ops.byRequestId(project, requestId);
    if (again) return again;
    if (this.#ops.running(rel)) throw resourceNotReady(rel);
    const fingerprint = body["fingerprint"];
    if (mode === "update" && (fingerprint === undefined || fingerprint === "")) {
      throw new ComputeError(400, "required", "Required field 'resource.fingerprint' not specified");
    }
    if (fingerprint !== undefined && fingerprint !== current["fingerprint"]) {
      throw new ComputeError(412, "conditionNotMet", "Precondition Failed");
    }
    const server = {
      kind: current["kind"],
      id: current["id"],
      creationTimestamp: current["creationTimestamp"],
      name: current["name"],
      selfLink: current["selfLink"],
      fingerprint: current["fingerprint"],
    };
    const requested = withoutOutputOnly(body);
    const candidate = this.#canonical(
      mode === "patch" ? { ...mergePatch(current, requested), ...server } : { ...requested, ...server },
      project,
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
        this.#items.set(rel, { ...candidate, fingerprint: newFingerprint(this.#ctx) });
      },
    });
  }

  /**
   * edit changes a backend service out of band, as a person in the console would: a
   * merge patch, validated like an API write, applied at once with a new fingerprint.
   */
  edit(name: string, patch: JsonObject): JsonObject {
    const rel = relativeComputeName(name) ?? name;
    const current = this.#items.get(rel);
    const parsed = names.computeBackendService.parse(rel);
    if (!current || !parsed) throw new TypeError(`compute: no backend service \`${name}\``);
    const next = {
      ...this.#canonical(mergePatch(current, withoutOutputOnly(patch)), parsed.project),
      fingerprint: newFingerprint(this.#ctx),
    };
    this.#items.set(rel, next);
    return clone(next);
  }
}
