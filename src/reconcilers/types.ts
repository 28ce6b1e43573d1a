import type { MaintenanceWindow } from "../apply/window.ts";
import type { DiffOptions, FieldChange } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import type { Disruption, ResourceKind } from "../plan/model.ts";
import type { Resource } from "../spec/types.ts";

/** Scope is where a list call looks: a project and a location (`global` for global resources). */
export interface Scope {
  readonly project: string;
  readonly location: string;
}

/** ResourceRef identifies one live resource. */
export interface ResourceRef extends Scope {
  readonly kind: ResourceKind;
  /** The resource id, e.g. `backend`. */
  readonly id: string;
}

/** Readiness is whether a resource can take traffic and further changes. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, e.g. `connector is UPDATING` or `revision backend-00007-abc failed: ...`. */
  readonly reason?: string | undefined;
  /** A failure that waiting will not fix. */
  readonly failed?: boolean | undefined;
}

/**
 * Observed is one live resource as read from GCP. `live` is the API object untouched, so
 * a write can send every unmanaged field back as it was; `state` is the same resource
 * normalised into the spec's shape, which is what diffs compare.
 */
export interface Observed<L> {
  readonly ref: ResourceRef;
  /** Full GCP resource name. */
  readonly name: string;
  readonly live: L;
  /** The optimistic-concurrency token: etag (Run), settingsVersion (SQL), fingerprint (Compute). */
  readonly version: string | undefined;
  readonly readiness: Readiness;
}

/** WriteOptions tune one write. */
export interface WriteOptions {
  /**
   * Ask GCP to validate without persisting (Cloud Run `validateOnly`). A reconciler whose
   * API has no such mode returns `{validated: false}` and writes nothing.
   */
  readonly validateOnly?: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** WriteResult is what a write started. */
export interface WriteResult {
  /** Polls the operation the write started; undefined when the write completed at once. */
  readonly poller: OperationPoller | undefined;
  /** For validateOnly: whether the API validated the change server-side. */
  readonly validated?: boolean;
}

/** CheckResult is what a reconciler's server-side checks found for one resource. */
export interface CheckResult {
  /** Things GCP would refuse, e.g. a disabled secret version or a validateOnly rejection. */
  readonly problems: readonly string[];
  /** Facts a reviewer should see, e.g. `secret db-password latest = version 3`. */
  readonly notes: readonly string[];
}

/**
 * Reconciler is everything capstan knows about one kind of resource, and nothing
 * generic: how to read live state (list calls per scope), how to normalise it into the
 * spec's shape, how to write a set of field changes in one call with the resource's
 * concurrency token, which changes are disruptive, and when the resource is ready.
 * Diff, ordering, rate limits, retries, gates and rendering live elsewhere.
 *
 * `K` is the kind; `L` the API's resource type. The managed shape that `desired` and
 * `normalize` return is the kind's spec type (src/spec/types.ts) with references as
 * full GCP names and units as the spec normalises them (seconds, bytes, vCPUs); consent
 * fields (allowRestart, allowReplacement) are not part of it.
 */
export interface Reconciler<K extends ResourceKind, L> {
  readonly kind: K;
  /** Diff options for this kind's spec shape (keyed lists such as env by name). */
  readonly diffOptions: DiffOptions;
  /** scopeOf says where a spec's resource lives, so observe can group list calls. */
  scopeOf(ref: ResourceRef): Scope;
  /** fullName prints a resource's GCP name. */
  fullName(ref: ResourceRef): string;
  /**
   * list reads every resource of this kind in one scope, following pages: one call per
   * page rather than one get per resource.
   */
  list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<L>[]>;
  /** get reads one resource; undefined when it does not exist. Used to re-read after a conflict. */
  get(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<Observed<L> | undefined>;
  /** desired turns a spec into the managed shape that diffs compare: only stated fields. */
  desired(resource: Resource<K>): Record<string, unknown>;
  /** normalize turns a live resource into the same shape, server defaults included. */
  normalize(live: L): Record<string, unknown>;
  /** disruptions says what applying `changes` costs (revision, restart, replacement). */
  disruptions(changes: readonly FieldChange[], observed: Observed<L>, resource: Resource<K>): Disruption[];
  /**
   * write sets each change's `after` value in one API call (a rollout step may carry an
   * intermediate value, not the spec's final one), built from `observed.live` so
   * unmanaged fields are sent back unchanged, with `observed.version` as the
   * precondition. A conflict surfaces as the API's error (409/412).
   */
  write(
    gcp: Gcp,
    observed: Observed<L>,
    resource: Resource<K>,
    changes: readonly FieldChange[],
    options?: WriteOptions,
  ): Promise<WriteResult>;
  /**
   * pending returns a poller for an operation already running on the resource (started
   * by anyone), so the executor waits for it instead of colliding with it (Cloud SQL
   * allows one operation per instance). Optional: kinds whose API queues writes leave it out.
   */
  pending?(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<OperationPoller | undefined>;
  /**
   * maintenanceWindow returns the window the spec names for disruptive changes, if any;
   * the executor starts a disruptive step on this resource only inside it.
   */
  maintenanceWindow?(resource: Resource<K>): MaintenanceWindow | undefined;
  /**
   * check runs the server-side checks a plan should show before anything is written:
   * referenced secrets exist and are enabled (metadata only), validateOnly where the API
   * has it. Optional: kinds without such checks leave it out.
   */
  check?(
    gcp: Gcp,
    resource: Resource<K>,
    observed: Observed<L>,
    changes: readonly FieldChange[],
  ): Promise<CheckResult>;
}
