import type { DiffOptions, FieldChange } from "../diff/index.ts";
import type { GcpClients } from "../gcp/clients.ts";
import type { OperationPoller } from "../gcp/operations.ts";
import type { Disruption, ResourceKind } from "../plan/model.ts";

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

/**
 * Reconciler is everything capstan knows about one kind of resource, and nothing
 * generic: how to read live state (list calls per scope), how to normalise it into the
 * spec's shape, how to write a set of field changes in one call with the resource's
 * concurrency token, which changes are disruptive, and when the resource is ready.
 * Diff, ordering, rate limits, retries, gates and rendering live elsewhere.
 *
 * `S` is the kind's normalised spec body; `L` the API's resource type.
 */
export interface Reconciler<S, L> {
  readonly kind: ResourceKind;
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
  list(gcp: GcpClients, scope: Scope, signal?: AbortSignal): Promise<Observed<L>[]>;
  /** get reads one resource; undefined when it does not exist. Used to re-read after a conflict. */
  get(gcp: GcpClients, ref: ResourceRef, signal?: AbortSignal): Promise<Observed<L> | undefined>;
  /** desired turns a spec into the managed shape that diffs compare: only stated fields. */
  desired(spec: S): Record<string, unknown>;
  /** normalize turns a live resource into the same shape, server defaults included. */
  normalize(live: L): Record<string, unknown>;
  /** disruptions says what applying `changes` costs (revision, restart, replacement). */
  disruptions(changes: readonly FieldChange[], observed: Observed<L>, spec: S): Disruption[];
  /**
   * write applies the spec's values for `changes` in one API call, built from
   * `observed.live` so unmanaged fields are sent back unchanged, with `observed.version`
   * as the precondition. A conflict surfaces as the API's error (409/412).
   */
  write(
    gcp: GcpClients,
    observed: Observed<L>,
    spec: S,
    changes: readonly FieldChange[],
    options?: WriteOptions,
  ): Promise<WriteResult>;
}
