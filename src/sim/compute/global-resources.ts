import type protobuf from "protobufjs";
import { computeUrl, relativeComputeName } from "../../gcp/compute.ts";
import type { NameTemplate } from "../../gcp/names.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import {
  ComputeError,
  clone,
  field,
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
import { type FixtureItem, fixtureProject } from "./network-endpoint-groups.ts";
import type { ComputeOperations } from "./operations.ts";

/** GlobalResourceKind is what {@link GlobalResources} needs to know about one kind of global Compute resource. */
export interface GlobalResourceKind<K extends string> {
  /** The kind in messages, e.g. `health check`. */
  readonly noun: string;
  /** Its relative name, e.g. `projects/{project}/global/healthChecks/{healthCheck}`. */
  readonly template: NameTemplate<"project" | K>;
  /** The template's id variable, which is the request's path parameter too, and its proto name: `["healthCheck", "health_check"]`. */
  readonly idParam: readonly [K, string];
  /** The request field that carries the resource in a write, and its proto name. */
  readonly bodyParam: readonly [string, string];
  /** The list answer's `kind`, e.g. `compute#healthCheckList`. */
  readonly listKind: string;
  /** The resource's message type, against which write bodies are checked. */
  readonly type: protobuf.Type;
  /** Fields a fixture resource starts from, before its own (e.g. its `kind`). */
  readonly seed?: JsonObject | undefined;
  /** Whether the resource carries a `fingerprint`, Compute's optimistic lock (see `write`). */
  readonly fingerprinted: boolean;
  /** canonical fills Compute's defaults and validates, throwing Compute's 400 for what it refuses. */
  canonical(resource: JsonObject, project: string): JsonObject;
}

/**
 * GlobalResources simulates one collection of global Compute resources: fixture load
 * and dump, Get, List, Patch and Update through global operations, and out-of-band
 * edits. A write while another runs on the same resource is refused as not ready; the
 * change lands when its operation finishes.
 */
export class GlobalResources<K extends string> {
  readonly #ctx: SimContext;
  readonly #ops: ComputeOperations;
  readonly #kind: GlobalResourceKind<K>;
  #items = new Map<string, JsonObject>();

  constructor(ctx: SimContext, ops: ComputeOperations, kind: GlobalResourceKind<K>) {
    this.#ctx = ctx;
    this.#ops = ops;
    this.#kind = kind;
  }

  #relativeName(project: string, id: string): string {
    return this.#kind.template.format({ project, [this.#kind.idParam[0]]: id } as Record<
      "project" | K,
      string
    >);
  }

  /** load replaces the resources with a fixture's, refusing any GCP would not hold. */
  load(items: readonly FixtureItem[], sectionProject: string | undefined): void {
    const { noun, seed, fingerprinted } = this.#kind;
    this.#items = new Map();
    for (const item of items) {
      const { project: _, ...api } = item;
      const project = fixtureProject(item, sectionProject, noun);
      const name = api["name"];
      if (typeof name !== "string") throw new TypeError(`compute: a ${noun} needs \`name\``);
      const rel = this.#relativeName(project, name);
      try {
        const server: JsonObject = {
          ...seed,
          id: numericId(rel),
          creationTimestamp: this.#ctx.nowIso(),
          ...(fingerprinted ? { fingerprint: newFingerprint(this.#ctx) } : {}),
        };
        this.#items.set(rel, this.#kind.canonical({ ...server, ...api, selfLink: computeUrl(rel) }, project));
      } catch (err) {
        throw new TypeError(`compute: ${noun} \`${rel}\`: ${(err as Error).message}`);
      }
    }
  }

  /** dump returns the resources in fixture form. */
  dump(): FixtureItem[] {
    return [...this.#items.entries()].map(([rel, json]) => ({
      project: this.#kind.template.parse(rel)!.project,
      ...clone(json),
    }));
  }

  /** byReference returns the resource a reference (URL or relative name) names, if known. */
  byReference(reference: string): JsonObject | undefined {
    const rel = relativeComputeName(reference);
    return rel ? this.#items.get(rel) : undefined;
  }

  #nameOf(req: SimRequest): string {
    const [camel, snake] = this.#kind.idParam;
    return this.#relativeName(
      requiredString(req.body, "project", "project"),
      requiredString(req.body, camel, snake),
    );
  }

  /** get serves Get. */
  get(req: SimRequest): JsonObject {
    const rel = this.#nameOf(req);
    const item = this.#items.get(rel);
    if (!item) throw resourceNotFound(rel);
    return clone(item);
  }

  /** list serves List. */
  list(req: SimRequest): JsonObject {
    const project = requiredString(req.body, "project", "project");
    const prefix = this.#relativeName(project, "");
    const items = [...this.#items.entries()]
      .filter(([rel]) => rel.startsWith(prefix))
      .map(([, j]) => clone(j));
    return listPage(items, req, { kind: this.#kind.listKind, collection: prefix.slice(0, -1) });
  }

  /**
   * write serves Patch (a JSON merge patch onto the current resource) and Update (the body
   * replaces the resource; omitted fields return to their defaults). Validation is
   * synchronous; the change lands when the returned operation finishes.
   *
   * On a fingerprinted kind the fingerprint is the optimistic lock: "An up-to-date
   * fingerprint must be provided in order to update the BackendService, otherwise the
   * request will fail with error 412 conditionNotMet"
   * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices). An Update
   * without one is refused with 400 "Required field 'resource.fingerprint' not specified"
   * (https://github.com/ansible-collections/google.cloud/issues/342); a Patch may omit it,
   * being a merge of the fields sent. A stale one is 412 "Precondition Failed"
   * (https://github.com/GoogleCloudPlatform/gke-autoneg-controller/issues/4). The
   * fingerprint changes when the operation lands. Kinds without one (health checks) have
   * no locking: the last write wins.
   */
  write(req: SimRequest, mode: "patch" | "update"): JsonObject {
    const { bodyParam, type, fingerprinted } = this.#kind;
    const rel = this.#nameOf(req);
    const project = this.#kind.template.parse(rel)!.project;
    const current = this.#items.get(rel);
    if (!current) throw resourceNotFound(rel);
    const body = resourceBody(req, bodyParam[0], bodyParam[1], type);
    const requestId = field(req.body, "requestId", "request_id") as string | undefined;
    const again = this.#ops.byRequestId(project, requestId);
    if (again) return again;
    if (this.#ops.running(rel)) throw resourceNotReady(rel);
    if (fingerprinted) {
      const fingerprint = body["fingerprint"];
      if (mode === "update" && (fingerprint === undefined || fingerprint === "")) {
        throw new ComputeError(400, "required", "Required field 'resource.fingerprint' not specified");
      }
      if (fingerprint !== undefined && fingerprint !== current["fingerprint"]) {
        throw new ComputeError(412, "conditionNotMet", "Precondition Failed");
      }
    }
    const server = {
      kind: current["kind"],
      id: current["id"],
      creationTimestamp: current["creationTimestamp"],
      name: current["name"],
      selfLink: current["selfLink"],
      ...(fingerprinted ? { fingerprint: current["fingerprint"] } : {}),
    };
    const requested = withoutOutputOnly(body);
    const candidate = this.#kind.canonical(
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
        this.#items.set(
          rel,
          fingerprinted ? { ...candidate, fingerprint: newFingerprint(this.#ctx) } : candidate,
        );
      },
    });
  }

  /**
   * edit changes a resource out of band, as a person in the console would: a merge patch,
   * validated like an API write, applied at once (with a new fingerprint where the kind
   * has one). The console writes through the same API, so like a write it is refused
   * with resourceNotReady while an operation runs on the resource; were it not, the
   * running operation would land over it.
   */
  edit(name: string, patch: JsonObject): JsonObject {
    const rel = relativeComputeName(name) ?? name;
    const current = this.#items.get(rel);
    const parsed = this.#kind.template.parse(rel);
    if (!current || !parsed) throw new TypeError(`compute: no ${this.#kind.noun} \`${name}\``);
    if (this.#ops.running(rel)) throw resourceNotReady(rel);
    const canonical = this.#kind.canonical(mergePatch(current, withoutOutputOnly(patch)), parsed.project);
    const next = this.#kind.fingerprinted
      ? { ...canonical, fingerprint: newFingerprint(this.#ctx) }
      : canonical;
    this.#items.set(rel, next);
    return clone(next);
  }
}
