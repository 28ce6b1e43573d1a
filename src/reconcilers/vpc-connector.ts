import type { protos } from "@google-cloud/vpc-access";
import type { FieldChange } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { Code, gaxCallOptions } from "../gcp/call.ts";
import {
  CONNECTOR_DEFAULT_MACHINE_TYPE,
  CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE,
} from "../gcp/catalog/vpcaccess.ts";
import { enumName, protoEnum } from "../gcp/enums.ts";
import { names } from "../gcp/names.ts";
import type { OperationPoller, OperationStatus } from "../gcp/operations.ts";
import { getOrUndefined, listAllPages } from "../gcp/read.ts";
import {
  type ConnectorChanges,
  connectorOperationPoller,
  patchConnector,
  VPC_ACCESS_API,
} from "../gcp/vpcaccess.ts";
import type { Disruption } from "../plan/model.ts";
import type { Resource, VpcConnectorSpec } from "../spec/types.ts";
import type {
  CheckResult,
  Observed,
  Readiness,
  Reconciler,
  ResourceRef,
  Scope,
  WriteOptions,
  WriteResult,
} from "./types.ts";

type IConnector = protos.google.cloud.vpcaccess.v1.IConnector;

const State = protoEnum("vpcaccess", "google.cloud.vpcaccess.v1.Connector.State");

/**
 * VPC_CONNECTOR_LIST_PAGE_SIZE is the `pageSize` capstan asks connectors.list for.
 * ListConnectorsRequest documents no default or maximum ("Maximum number of functions to
 * return per call", google/cloud/vpcaccess/v1/vpc_access.proto); a server that allows
 * fewer coerces the size down (https://google.aip.dev/158) and capstan follows the
 * tokens either way. A region rarely holds more than a handful of connectors, so one
 * page per project and region is the norm.
 */
export const VPC_CONNECTOR_LIST_PAGE_SIZE = 100;

/**
 * CONNECTOR_DEFAULT_MIN_THROUGHPUT and CONNECTOR_DEFAULT_MAX_THROUGHPUT are the throughput
 * a connector has when it states none: "Default and min is 200" and "Default is 300"
 * (Connector.min_throughput / max_throughput in vpc_access.proto), i.e. 2 and 3 instances.
 */
export const CONNECTOR_DEFAULT_MIN_THROUGHPUT = 200;
/** See {@link CONNECTOR_DEFAULT_MIN_THROUGHPUT}. */
export const CONNECTOR_DEFAULT_MAX_THROUGHPUT = 300;

/** The fields a connector takes at creation and never changes afterwards. */
const CREATION_ONLY = ["network", "ipCidrRange", "subnet"] as const;
type CreationOnlyField = (typeof CREATION_ONLY)[number];
type InstanceField = "minInstances" | "maxInstances";

/** NormalizedConnector is a connector in VpcConnectorSpec's shape, consent left out. */
interface NormalizedConnector {
  machineType: string;
  minInstances: number;
  maxInstances: number;
  network?: string;
  ipCidrRange?: string;
  subnet?: { name: string; projectId?: string };
}

/**
 * VpcConnectorWriteError is a change this reconciler refuses to write. Codes:
 * - `REPLACEMENT_REQUIRED`: lowering minInstances or maxInstances, which GCP can only do
 *   by replacing the connector; capstan never deletes resources, so a person must;
 * - `IMMUTABLE_FIELD`: network, ipCidrRange or subnet, fixed at creation;
 * - `UNWRITABLE_FIELD`: a field capstan does not manage on connectors, or a bad value.
 */
export class VpcConnectorWriteError extends Error {
  readonly code: "REPLACEMENT_REQUIRED" | "IMMUTABLE_FIELD" | "UNWRITABLE_FIELD";

  constructor(code: VpcConnectorWriteError["code"], message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "VpcConnectorWriteError";
    this.code = code;
  }
}

/** stateOf reads a connector's state, which the client may hand over as its name or its number. */
function stateOf(live: IConnector): string {
  return enumName(live.state, State) ?? "STATE_UNSPECIFIED";
}

/**
 * readinessOf judges a connector by its state (Connector.State in vpc_access.proto):
 * READY serves; CREATING, UPDATING and DELETING are transient; ERROR is "a bad state,
 * manual deletion recommended", which waiting does not fix.
 */
function readinessOf(live: IConnector): Readiness {
  const state = stateOf(live);
  switch (state) {
    case "READY":
      return { ready: true };
    case "ERROR":
      return {
        ready: false,
        failed: true,
        reason: 'connector is ERROR: "Connector is in a bad state, manual deletion recommended"',
      };
    default:
      return { ready: false, reason: `connector is ${state}` };
  }
}

/** isTransient says whether a state means an operation is running on the connector. */
function isTransient(state: string): boolean {
  return state === "CREATING" || state === "UPDATING" || state === "DELETING";
}

function connectorName(ref: Pick<ResourceRef, "project" | "location" | "id">): string {
  return names.connector.format({ project: ref.project, location: ref.location, connector: ref.id });
}

/** lastSegment turns a network given as a URL or path (`projects/p/global/networks/n`) into its name. */
function lastSegment(s: string): string {
  return s.slice(s.lastIndexOf("/") + 1);
}

function observe(live: IConnector, scope: Scope): Observed<IConnector> {
  const name = String(live.name ?? "");
  const parts = names.connector.parse(name);
  const project = parts?.project ?? scope.project;
  const location = parts?.location ?? scope.location;
  const id = parts?.connector ?? lastSegment(name);
  return {
    ref: { kind: "VpcConnector", project, location, id },
    name: connectorName({ project, location, id }),
    live,
    // Connectors carry no etag (vpc_access.proto has none, and the PATCH takes no
    // precondition): the executor's re-read right before each write, which refuses to
    // overwrite a value someone changed since the plan, is the only guard.
    version: undefined,
    readiness: readinessOf(live),
  };
}

/** positive reads an int32 that proto3 reports as 0 (or omits) when unset. */
function positive(v: number | null | undefined): number | undefined {
  return typeof v === "number" && v > 0 ? v : undefined;
}

/**
 * normalizeConnector maps a live connector into the spec's shape. Instance counts come
 * from the throughput fields when a connector made before instance counts existed has
 * only those ("If both min-throughput and min-instances are provided, min-instances takes
 * precedence", Connector reference), at 100 Mbps per instance; failing both, from the
 * documented throughput defaults.
 */
function normalizeConnector(live: IConnector): NormalizedConnector {
  const per = CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE;
  const out: NormalizedConnector = {
    machineType: live.machineType || CONNECTOR_DEFAULT_MACHINE_TYPE,
    minInstances:
      positive(live.minInstances) ??
      Math.floor((positive(live.minThroughput) ?? CONNECTOR_DEFAULT_MIN_THROUGHPUT) / per),
    maxInstances:
      positive(live.maxInstances) ??
      Math.floor((positive(live.maxThroughput) ?? CONNECTOR_DEFAULT_MAX_THROUGHPUT) / per),
  };
  // A connector holds either a network and a range or a subnet; proto3 reports the other
  // as empty strings, which mean "not set".
  if (live.network) out.network = lastSegment(live.network);
  if (live.ipCidrRange) out.ipCidrRange = live.ipCidrRange;
  if (live.subnet?.name) {
    // "If not set, this project is assumed to be the project for which the connector
    // create request was issued" (Connector.Subnet.project_id).
    const project = live.subnet.projectId || names.connector.parse(String(live.name ?? ""))?.project;
    out.subnet = { name: live.subnet.name, ...(project ? { projectId: project } : {}) };
  }
  return out;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return "unset";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** creationOnlyValue reads a creation-only field of the spec's shape, for messages. */
function creationOnlyValue(
  shape: Partial<NormalizedConnector>,
  field: CreationOnlyField,
): string | undefined {
  const v = shape[field];
  if (v === undefined) return undefined;
  return typeof v === "object" ? v.name + (v.projectId ? ` (project ${v.projectId})` : "") : v;
}

/** Shrink is one instance count the spec lowers below its live value. */
interface Shrink {
  readonly field: InstanceField;
  readonly from: number;
  readonly to: number;
}

function shrinkText(s: Shrink): string {
  return `lowering ${s.field} from ${s.from} to ${s.to}`;
}

/** REPLACE_BY_HAND tells a person how to do what capstan will not. */
const REPLACE_BY_HAND =
  "create a new connector with the settings you want, point the services that use this one at it (their spec.vpcAccess.connector, which capstan can roll out), check traffic flows, then delete this connector";

function isInstanceField(f: unknown): f is InstanceField {
  return f === "minInstances" || f === "maxInstances";
}

function isCreationOnly(f: unknown): f is CreationOnlyField {
  return typeof f === "string" && (CREATION_ONLY as readonly string[]).includes(f);
}

/** readConnector gets one connector, or undefined when it does not exist. */
async function readConnector(
  gcp: Gcp,
  ref: ResourceRef,
  signal?: AbortSignal,
): Promise<IConnector | undefined> {
  // 404 "The connector is not found." (k8s-config-connector mockgcp testdata).
  const got = await getOrUndefined(() =>
    gcp.call(
      {
        api: VPC_ACCESS_API,
        method: "connectors.get",
        write: false,
        location: ref.location,
        resource: connectorName(ref),
      },
      () => gcp.clients.vpcAccess.getConnector({ name: connectorName(ref) }, gaxCallOptions()),
      signal,
    ),
  );
  return got?.[0];
}

/**
 * readyPoller waits for a connector to leave a transient state: done when it is READY
 * again, done with an error when it ends in ERROR or disappears.
 */
function readyPoller(gcp: Gcp, ref: ResourceRef): OperationPoller {
  const name = connectorName(ref);
  return async (signal): Promise<OperationStatus> => {
    const live = await readConnector(gcp, ref, signal);
    if (!live)
      return { done: true, error: { code: Code.NOT_FOUND, message: `connector ${name} no longer exists` } };
    const state = stateOf(live);
    if (state === "READY") return { done: true };
    if (state === "ERROR") {
      return {
        done: true,
        error: { code: Code.INTERNAL, message: `connector ${name} ended in state ERROR` },
      };
    }
    return { done: false };
  };
}

/** shrinksOf lists the instance counts that `want` lowers below `live`. */
function shrinksOf(want: Partial<Record<InstanceField, number>>, live: NormalizedConnector): Shrink[] {
  const out: Shrink[] = [];
  for (const field of ["minInstances", "maxInstances"] as const) {
    const to = want[field];
    if (to !== undefined && to < live[field]) out.push({ field, from: live[field], to });
  }
  return out;
}

/**
 * vpcConnectorReconciler manages Serverless VPC Access connectors
 * (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest/v1/projects.locations.connectors):
 * machine type and instance counts, which GCP changes in place with the REST-only PATCH
 * (src/gcp/vpcaccess.ts), instance counts upwards only.
 *
 * network, ipCidrRange and subnet are part of the managed shape even though they can
 * never be written: a spec that states them is compared, so a connector that differs
 * shows the difference in the plan, and `check` refuses it ("immutable after creation;
 * capstan does not recreate connectors"). Leaving them out would let a spec claim a
 * network the connector does not use and plan "no changes".
 *
 * Lowering an instance count means replacing the connector (the Terraform provider's
 * `isInstanceShrinkage` forces a new resource). capstan never deletes resources: the
 * plan shows the replacement (refused unless `allowReplacement: true` acknowledges it),
 * and `write` refuses to perform it, explaining the manual create/switch/delete procedure.
 */
export const vpcConnectorReconciler = {
  kind: "VpcConnector",
  diffOptions: {},

  scopeOf(ref: ResourceRef): Scope {
    // connectors.list is per project and region.
    return { project: ref.project, location: ref.location };
  },

  fullName(ref: ResourceRef): string {
    return connectorName(ref);
  },

  async list(gcp: Gcp, scope: Scope, signal?: AbortSignal): Promise<Observed<IConnector>[]> {
    const parent = names.vpcAccessLocation.format({ project: scope.project, location: scope.location });
    const items = await listAllPages(
      gcp,
      {
        api: VPC_ACCESS_API,
        method: "connectors.list",
        write: false,
        location: scope.location,
        resource: parent,
      },
      (page, options) =>
        gcp.clients.vpcAccess.listConnectors(
          { parent, pageSize: VPC_CONNECTOR_LIST_PAGE_SIZE, ...page },
          options,
        ),
      signal,
    );
    return items.map((live) => observe(live, scope));
  },

  async get(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<Observed<IConnector> | undefined> {
    const live = await readConnector(gcp, ref, signal);
    return live ? observe(live, vpcConnectorReconciler.scopeOf(ref)) : undefined;
  },

  desired(resource: Resource<"VpcConnector">): Record<string, unknown> {
    const s: VpcConnectorSpec = resource.spec;
    const out: Record<string, unknown> = {};
    if (s.machineType !== undefined) out["machineType"] = s.machineType;
    if (s.minInstances !== undefined) out["minInstances"] = s.minInstances;
    if (s.maxInstances !== undefined) out["maxInstances"] = s.maxInstances;
    if (s.network !== undefined) out["network"] = lastSegment(s.network);
    if (s.ipCidrRange !== undefined) out["ipCidrRange"] = s.ipCidrRange;
    if (s.subnet !== undefined) {
      out["subnet"] = {
        name: s.subnet.name,
        ...(s.subnet.projectId !== undefined ? { projectId: s.subnet.projectId } : {}),
      };
    }
    return out;
  },

  normalize(live: IConnector): Record<string, unknown> {
    return { ...normalizeConnector(live) };
  },

  disruptions(
    changes: readonly FieldChange[],
    observed: Observed<IConnector>,
    _resource: Resource<"VpcConnector">,
  ): Disruption[] {
    const live = normalizeConnector(observed.live);
    const want: Partial<Record<InstanceField, number>> = {};
    const fixed: FieldChange[] = [];
    for (const c of changes) {
      const head = c.path[0];
      if (isInstanceField(head) && typeof c.after === "number") want[head] = c.after;
      else if (isCreationOnly(head)) fixed.push(c);
    }
    const shrinks = shrinksOf(want, live);
    if (shrinks.length === 0 && fixed.length === 0) return [];
    // Raising instances and changing the machine type happen in place, with no
    // documented interruption; everything else costs a new connector.
    const why = [
      ...shrinks.map((s) => `${shrinkText(s)} cannot be done in place (GCP only raises connector instances)`),
      ...fixed.map(
        (c) => `${c.field} is fixed at creation (${show(c.before)} live, ${show(c.after)} wanted)`,
      ),
    ];
    return [
      {
        kind: "replacement",
        reason: `${why.join("; ")}: the connector must be replaced (a new connector created, its services switched to it, this one deleted), which capstan never does itself`,
        fields: [...shrinks.map((s) => s.field), ...fixed.map((c) => c.field)],
      },
    ];
  },

  async write(
    gcp: Gcp,
    observed: Observed<IConnector>,
    _resource: Resource<"VpcConnector">,
    changes: readonly FieldChange[],
    options: WriteOptions = {},
  ): Promise<WriteResult> {
    // The connector PATCH has no validate-only mode.
    if (options.validateOnly) return { poller: undefined, validated: false };
    const live = normalizeConnector(observed.live);
    const next: { machineType?: string; minInstances?: number; maxInstances?: number } = {};
    for (const c of changes) {
      const head = c.path[0];
      if (head === "machineType" && c.path.length === 1 && typeof c.after === "string") {
        next.machineType = c.after;
      } else if (isInstanceField(head) && c.path.length === 1 && Number.isInteger(c.after)) {
        next[head] = c.after as number;
      } else if (isCreationOnly(head)) {
        throw new VpcConnectorWriteError(
          "IMMUTABLE_FIELD",
          `could not update ${observed.name}: ${head} is immutable after creation (${show(creationOnlyValue(live, head))} live); capstan does not recreate connectors. To move it, ${REPLACE_BY_HAND}`,
        );
      } else {
        throw new VpcConnectorWriteError(
          "UNWRITABLE_FIELD",
          `could not update ${observed.name}: ${c.field} = ${show(c.after)} is not a connector setting capstan writes (machineType, minInstances and maxInstances are)`,
        );
      }
    }
    // Judged against live, not the change's `before`: a rollback or a stale plan may carry
    // a decrease that no longer looks like one.
    const shrinks = shrinksOf(next, live);
    if (shrinks.length > 0) {
      const keep = shrinks.map((s) => `${s.field} at ${s.from} or more`).join(" and ");
      throw new VpcConnectorWriteError(
        "REPLACEMENT_REQUIRED",
        `could not update ${observed.name}: ${shrinks.map(shrinkText).join(" and ")} requires replacing the connector, because GCP only raises connector instances in place, and capstan never deletes resources. Replace it by hand: ${REPLACE_BY_HAND}. Or keep ${keep}.`,
      );
    }
    if (Object.keys(next).length === 0) return { poller: undefined };
    // A change of one count is sent with the other at its live value (read just before
    // this write), in the body and the mask: the Terraform provider does exactly this
    // whenever one count changes alone (terraform-provider-google,
    // resourceVPCAccessConnectorUpdate), and src/gcp/vpcaccess.ts notes that GCP judges
    // min < max on the request. Being unchanged, it overwrites nothing; the machine type
    // stays out of the mask unless it changes.
    if (next.minInstances !== undefined && next.maxInstances === undefined)
      next.maxInstances = live.maxInstances;
    if (next.maxInstances !== undefined && next.minInstances === undefined)
      next.minInstances = live.minInstances;
    const body: ConnectorChanges = next;
    const operation = await patchConnector(gcp, observed.name, body, options.signal);
    return { poller: connectorOperationPoller(gcp, operation) };
  },

  async pending(gcp: Gcp, ref: ResourceRef, signal?: AbortSignal): Promise<OperationPoller | undefined> {
    // A connector refuses a second update while one runs (it must be READY), so the
    // executor waits for the connector to settle instead of colliding with it. Waiting on
    // the connector rather than on its operation covers updates anyone started.
    const live = await readConnector(gcp, ref, signal);
    if (!live || !isTransient(stateOf(live))) return undefined;
    return readyPoller(gcp, ref);
  },

  async check(
    _gcp: Gcp,
    resource: Resource<"VpcConnector">,
    observed: Observed<IConnector>,
    changes: readonly FieldChange[],
  ): Promise<CheckResult> {
    const s = resource.spec;
    const live = normalizeConnector(observed.live);
    const problems: string[] = [];
    const notes: string[] = [];
    for (const sh of shrinksOf(s, live)) {
      if (!s.allowReplacement) {
        problems.push(
          `spec.${sh.field}: ${shrinkText(sh)} requires replacing the connector (GCP only raises connector instances in place); set spec.allowReplacement: true to acknowledge, then replace it by hand: capstan never deletes resources. Or keep ${sh.field} at ${sh.from} or more`,
        );
      } else {
        notes.push(
          `${shrinkText(sh)} requires replacing the connector, which capstan never does: apply stops at this change. Replace it by hand: ${REPLACE_BY_HAND}`,
        );
      }
    }
    // The offline validator judges stated values; min below max can only be judged here
    // when the spec states one count and the other is live.
    const bothStated = s.minInstances !== undefined && s.maxInstances !== undefined;
    const min = s.minInstances ?? live.minInstances;
    const max = s.maxInstances ?? live.maxInstances;
    if (!bothStated && min >= max) {
      const field = s.minInstances !== undefined ? "minInstances" : "maxInstances";
      problems.push(
        `spec.${field}: maxInstances (${max}) must be greater than minInstances (${min}); the other count is ${field === "minInstances" ? `maxInstances ${live.maxInstances}` : `minInstances ${live.minInstances}`} live`,
      );
    }
    if (changes.length > 0 && stateOf(observed.live) === "ERROR") {
      // GCP refuses to update a connector that is not READY, and ERROR does not pass.
      problems.push(
        `the connector is in state ERROR ("a bad state, manual deletion recommended", Connector.State), so GCP will not update it; ${REPLACE_BY_HAND}`,
      );
    }
    const want = vpcConnectorReconciler.desired(resource) as Partial<NormalizedConnector>;
    for (const field of CREATION_ONLY) {
      const w = creationOnlyValue(want, field);
      if (w === undefined) continue;
      const have = creationOnlyValue(live, field);
      const same =
        field === "subnet"
          ? want.subnet?.name === live.subnet?.name &&
            (want.subnet?.projectId === undefined || want.subnet.projectId === live.subnet?.projectId)
          : w === have;
      if (same) continue;
      problems.push(
        `spec.${field}: ${field} is ${show(have)} live and immutable after creation; capstan does not recreate connectors. Set ${field} to what the connector has, or remove it from the spec; to move the connector, ${REPLACE_BY_HAND}`,
      );
    }
    return { problems, notes };
  },
} satisfies Reconciler<"VpcConnector", IConnector>;
