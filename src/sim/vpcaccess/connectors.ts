import protobuf from "protobufjs";
import {
  CONNECTOR_DEFAULT_MACHINE_TYPE,
  CONNECTOR_UPDATABLE_FIELDS,
  type ConnectorScaling,
  connectorScalingIssues,
  connectorThroughputFields,
} from "../../gcp/catalog/vpcaccess.ts";
import { names } from "../../gcp/names.ts";
import { invalidArgument, SimError, type Status } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import type { RpcDescriptor } from "../core/protos.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import type { OperationStore } from "./operations.ts";

const SVC = "google.cloud.vpcaccess.v1.VpcAccessService";
const CONNECTOR_TYPE = "type.googleapis.com/google.cloud.vpcaccess.v1.Connector";
const EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty";

/** UPDATE_CONNECTOR_RPC is the full name the simulator gives the REST-only PATCH method. */
export const UPDATE_CONNECTOR_RPC = `${SVC}.UpdateConnector`;

/** ConnectorState mirrors google.cloud.vpcaccess.v1.Connector.State. */
export type ConnectorState = "READY" | "CREATING" | "DELETING" | "ERROR" | "UPDATING";

/**
 * ConnectorInput is one connector of the fixture section `vpcaccess.connectors`, in the
 * API's JSON shape; omitted fields get GCP's defaults.
 */
export interface ConnectorInput {
  readonly name: string;
  readonly network?: string;
  readonly ipCidrRange?: string;
  readonly subnet?: { readonly name?: string; readonly projectId?: string };
  readonly machineType?: string;
  readonly minInstances?: number;
  readonly maxInstances?: number;
  readonly connectedProjects?: readonly string[];
  /** READY or ERROR; transient states only exist while an operation runs. */
  readonly state?: ConnectorState;
}

interface Connector {
  readonly name: string;
  readonly network?: string;
  readonly ipCidrRange?: string;
  readonly subnet?: { name?: string; projectId?: string };
  machineType: string;
  minInstances: number;
  maxInstances: number;
  connectedProjects: string[];
  state: ConnectorState;
  /** The running operation and what to restore if it fails. */
  pending?: { readonly operation: string; readonly previous: ConnectorScaling };
}

/**
 * updateConnectorRpc describes `PATCH /v1/{connector.name=projects/* /locations/* /connectors/*}`
 * (without spaces). The method is documented in REST
 * (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest/v1/projects.locations.connectors/patch)
 * but absent from the vpc_access.proto bundled with @google-cloud/vpc-access 4.x, so the
 * request type is built here: `{connector: Connector, update_mask: FieldMask}`, the usual
 * AIP-134 shape. The mask is declared as a string because the bundled protos lack
 * google/protobuf/field_mask.proto and a FieldMask's JSON form is exactly that string of
 * comma-separated paths. The RPC is named UpdateConnector, the name discovery's `patch`
 * maps to in googleapis convention.
 */
export function updateConnectorRpc(root: protobuf.Root): RpcDescriptor {
  const full = "capstan.sim.vpcaccess.v1.UpdateConnectorRequest";
  let type = root.lookup(full) as protobuf.Type | null;
  if (!type) {
    type = new protobuf.Type("UpdateConnectorRequest")
      .add(new protobuf.Field("connector", 1, ".google.cloud.vpcaccess.v1.Connector"))
      .add(new protobuf.Field("update_mask", 2, "string"));
    root.define("capstan.sim.vpcaccess.v1").add(type);
    type.resolveAll();
  }
  return {
    fullName: UPDATE_CONNECTOR_RPC,
    requestType: type,
    responseType: root.lookupType("google.longrunning.Operation"),
    rules: [
      {
        method: "PATCH",
        template: "/v1/{connector.name=projects/*/locations/*/connectors/*}",
        body: "connector",
      },
    ],
  };
}

/**
 * Connectors holds the simulated Serverless VPC Access connectors of every project and
 * region and implements their methods.
 */
export class Connectors {
  readonly #ctx: SimContext;
  readonly #ops: OperationStore;
  #items = new Map<string, Connector>();

  constructor(ctx: SimContext, ops: OperationStore) {
    this.#ctx = ctx;
    this.#ops = ops;
  }

  /** load replaces every connector with the fixture's, filling GCP's server-side defaults. */
  load(inputs: readonly ConnectorInput[]): void {
    this.#items = new Map();
    for (const input of inputs) {
      if (!input || typeof input.name !== "string" || !names.connector.parse(input.name)) {
        throw new TypeError(
          `vpcaccess: bad connector name \`${input?.name}\`; expected ${names.connector.pattern}`,
        );
      }
      if (input.state && input.state !== "READY" && input.state !== "ERROR") {
        throw new TypeError(
          `vpcaccess: connector \`${input.name}\` has state ${input.state}; a fixture may only give READY or ERROR`,
        );
      }
      const c = withDefaults(input);
      const issues = connectorScalingIssues(undefined, c);
      if (issues.length > 0) {
        throw new TypeError(
          `vpcaccess: connector \`${input.name}\`: ${issues.map((i) => i.message).join("; ")}`,
        );
      }
      this.#items.set(c.name, c);
    }
  }

  /**
   * dump returns the connectors in fixture form. A connector mid-operation is written as
   * the state its operation will leave it in, since a fixture cannot carry the operation.
   */
  dump(): ConnectorInput[] {
    const out: ConnectorInput[] = [];
    for (const c of this.#items.values()) {
      if (c.state === "DELETING") continue;
      const { pending: _pending, ...rest } = c;
      out.push({ ...rest, state: c.state === "ERROR" ? "ERROR" : "READY" });
    }
    return out;
  }

  /** get serves GetConnector. */
  get(name: string): JsonObject {
    return connectorJson(this.#find(name));
  }

  /** list serves ListConnectors for `projects/p/locations/l`, in name order. */
  list(body: JsonObject): JsonObject {
    const parent = String(body["parent"] ?? "");
    const all = [...this.#items.values()]
      .filter((c) => c.name.startsWith(`${parent}/connectors/`))
      .sort((a, b) => a.name.localeCompare(b.name));
    // ListConnectorsRequest.page_size documents no default or maximum.
    const page = paginate(all, body["pageSize"], body["pageToken"], { defaultSize: 100, maxSize: 1000 });
    return { connectors: page.items.map(connectorJson), nextPageToken: page.nextPageToken ?? "" };
  }

  /**
   * create serves CreateConnector. GCP validates a connector's settings inside the
   * operation: the call answers with an operation that then fails with INVALID_ARGUMENT
   * "Operation failed: ..." (e.g. "A Connector must specify either max_throughput or
   * max_instances.", terraform-provider-google#16690, magic-modules#8205).
   */
  create(req: SimRequest): JsonObject {
    const parent = String(req.body["parent"] ?? "");
    const id = String(req.body["connectorId"] ?? "");
    const loc = names.vpcAccessLocation.parse(parent);
    // Connector ids follow Compute naming: lowercase letters, digits and hyphens, starting
    // with a letter (https://cloud.google.com/vpc/docs/configure-serverless-vpc-access).
    if (!loc || !/^[a-z](?:[-a-z0-9]{0,23}[a-z0-9])?$/.test(id)) {
      throw invalidArgument("Request contains an invalid argument.", {
        fieldViolations: [{ field: "connector_id", description: `Invalid connector id \`${id}\`` }],
      });
    }
    const name = `${parent}/connectors/${id}`;
    if (this.#items.has(name)) {
      throw new SimError(`Connector ${name} already exists.`, { status: "ALREADY_EXISTS" });
    }
    const body = (req.body["connector"] ?? {}) as JsonObject;
    const fault = req.takeOperationFault();
    const op = this.#ops.start(parent, `${SVC}.CreateConnector`, name);
    const opName = String(op["name"]);
    const input = fromThroughput(body);
    const problem =
      input.maxInstances === undefined
        ? "A Connector must specify either max_throughput or max_instances."
        : connectorScalingIssues(undefined, withDefaults({ ...input, name }))
            .map((i) => i.message)
            .join("; ");
    if (problem) {
      this.#ctx.after(this.#ctx.durationOf("vpcaccess.create-rejected", 10), () =>
        this.#ops.fail(opName, "INVALID_ARGUMENT", `Operation failed: ${problem}`),
      );
      return op;
    }
    const c: Connector = { ...withDefaults({ ...input, name }), state: "CREATING" };
    this.#items.set(name, c);
    c.pending = { operation: opName, previous: scalingOf(c) };
    // A connector takes minutes to create; the Terraform provider waits up to 20.
    this.#ctx.after(this.#ctx.durationOf("vpcaccess.create", 180), () => {
      delete c.pending;
      if (fault?.failOperation) {
        // A failed create leaves the connector behind in ERROR: "Connector is in a bad
        // state, manual deletion recommended" (Connector.State.ERROR).
        c.state = "ERROR";
        this.#failFromFault(opName, fault.failOperation);
        return;
      }
      c.state = "READY";
      this.#ops.succeed(opName, { "@type": CONNECTOR_TYPE, ...connectorJson(c) });
    });
    return op;
  }

  /** delete serves DeleteConnector: DELETING for the operation's duration, then gone. */
  delete(req: SimRequest): JsonObject {
    const name = String(req.body["name"] ?? "");
    const c = this.#find(name);
    this.#requireSettled(c, "deleted");
    const fault = req.takeOperationFault();
    const parent = name.slice(0, name.indexOf("/connectors/"));
    const op = this.#ops.start(parent, `${SVC}.DeleteConnector`, name);
    const opName = String(op["name"]);
    const before = c.state;
    c.state = "DELETING";
    c.pending = { operation: opName, previous: scalingOf(c) };
    this.#ctx.after(this.#ctx.durationOf("vpcaccess.delete", 120), () => {
      delete c.pending;
      if (fault?.failOperation) {
        c.state = before;
        this.#failFromFault(opName, fault.failOperation);
        return;
      }
      this.#items.delete(name);
      this.#ops.succeed(opName, { "@type": EMPTY_TYPE });
    });
    return op;
  }

  /**
   * update serves the REST-only PATCH. Only machineType, minInstances and maxInstances may
   * be named in the mask; instance counts may only grow; the connector is UPDATING for the
   * operation's duration and shows the new settings from the start (as Cloud Run and
   * most AIP-style APIs report the desired spec while reconciling). An injected
   * `failOperation` fault ends the operation in error and restores the previous settings
   * with state READY: the connector keeps serving on its old instances.
   */
  update(req: SimRequest): JsonObject {
    const body = (req.body["connector"] ?? {}) as JsonObject;
    const name = String(body["name"] ?? "");
    const c = this.#find(name);
    const paths = maskPaths(req.body["updateMask"], body);
    const desired: { -readonly [K in keyof ConnectorScaling]: ConnectorScaling[K] } = scalingOf(c);
    for (const p of paths) {
      if (p === "machineType") desired.machineType = String(body["machineType"] ?? "");
      else desired[p] = Number(body[p] ?? 0);
    }
    this.#requireSettled(c, "updated");
    const issues = connectorScalingIssues(scalingOf(c), desired);
    if (issues.length > 0) {
      throw invalidArgument(issues.map((i) => i.message).join("; "), {
        fieldViolations: issues.map((i) => ({
          field: `connector.${snake(i.field)}`,
          description: i.message,
        })),
      });
    }
    const fault = req.takeOperationFault();
    const parent = name.slice(0, name.indexOf("/connectors/"));
    const op = this.#ops.start(parent, UPDATE_CONNECTOR_RPC, name);
    const opName = String(op["name"]);
    c.pending = { operation: opName, previous: scalingOf(c) };
    Object.assign(c, desired);
    c.state = "UPDATING";
    // Not documented; an update replaces connector instances, which takes minutes like a
    // create. The Terraform provider's update timeout is 20 minutes.
    this.#ctx.after(this.#ctx.durationOf("vpcaccess.update", 120), () => {
      const previous = c.pending?.previous;
      delete c.pending;
      c.state = "READY";
      if (fault?.failOperation) {
        if (previous) Object.assign(c, previous);
        this.#failFromFault(opName, fault.failOperation);
        return;
      }
      this.#ops.succeed(opName, { "@type": CONNECTOR_TYPE, ...connectorJson(c) });
    });
    return op;
  }

  /**
   * edit applies an out-of-band change, as from the console: scaling fields (validated
   * against the catalog's ranges, without the in-place rule, as a replace would allow),
   * `connectedProjects` or `state` (e.g. ERROR). Throughput fields follow the instances.
   */
  edit(name: string, patch: JsonObject): JsonObject {
    const c = this.#find(name);
    const allowed = new Set(["machineType", "minInstances", "maxInstances", "connectedProjects", "state"]);
    for (const key of Object.keys(patch)) {
      if (!allowed.has(key)) {
        throw new TypeError(`vpcaccess: cannot edit \`${key}\`; editable: ${[...allowed].join(", ")}`);
      }
    }
    const next: Connector = {
      ...c,
      ...(patch["machineType"] !== undefined ? { machineType: String(patch["machineType"]) } : {}),
      ...(patch["minInstances"] !== undefined ? { minInstances: Number(patch["minInstances"]) } : {}),
      ...(patch["maxInstances"] !== undefined ? { maxInstances: Number(patch["maxInstances"]) } : {}),
    };
    const issues = connectorScalingIssues(undefined, next);
    if (issues.length > 0) {
      throw new TypeError(`vpcaccess: ${issues.map((i) => i.message).join("; ")}`);
    }
    Object.assign(c, scalingOf(next));
    if (Array.isArray(patch["connectedProjects"]))
      c.connectedProjects = patch["connectedProjects"].map(String);
    if (patch["state"] !== undefined) {
      const state = String(patch["state"]);
      if (state !== "READY" && state !== "ERROR") {
        throw new TypeError(`vpcaccess: an edit may set state READY or ERROR, got ${state}`);
      }
      c.state = state;
    }
    return connectorJson(c);
  }

  #find(name: string): Connector {
    const c = this.#items.get(name);
    // GCP's wording, observed in k8s-config-connector testdata
    // vpcaccessconnector/cidrconnector/_http.log.
    if (!c) throw new SimError("The connector is not found.", { status: "NOT_FOUND" });
    return c;
  }

  /**
   * requireSettled refuses to start a second operation on a connector that is not READY.
   * GCP's behaviour here is undocumented; FAILED_PRECONDITION is what AIP-216 prescribes
   * for an action the resource's current state does not permit (https://google.aip.dev/216).
   */
  #requireSettled(c: Connector, verb: string): void {
    if (c.state === "READY" || (verb === "deleted" && c.state === "ERROR")) return;
    throw new SimError(
      `Connector ${c.name} cannot be ${verb} while it is in state ${c.state}${c.pending ? ` (operation ${c.pending.operation} is running)` : ""}.`,
      { status: "FAILED_PRECONDITION" },
    );
  }

  #failFromFault(opName: string, f: { readonly message?: string; readonly status?: Status }): void {
    this.#ops.fail(opName, f.status ?? "INTERNAL", f.message ?? "Operation failed: internal error.");
  }
}

function withDefaults(input: ConnectorInput): Connector {
  const usesSubnet = input.subnet !== undefined;
  return {
    name: input.name,
    // A connector names either a network and a /28 range or an existing subnet; GCP
    // returns only what was given (k8s-config-connector testdata subnetconnector/_http.log).
    // gcloud's defaults are network "default"; 10.8.0.0/28 is the documented example range.
    ...(usesSubnet
      ? {}
      : { network: input.network ?? "default", ipCidrRange: input.ipCidrRange ?? "10.8.0.0/28" }),
    ...(usesSubnet ? { subnet: { ...input.subnet } } : {}),
    machineType: input.machineType ?? CONNECTOR_DEFAULT_MACHINE_TYPE,
    // gcloud's defaults: --min-instances 2, --max-instances 10
    // (https://cloud.google.com/sdk/gcloud/reference/compute/networks/vpc-access/connectors/create).
    minInstances: input.minInstances ?? 2,
    maxInstances: input.maxInstances ?? 10,
    connectedProjects: [...(input.connectedProjects ?? [])],
    state: input.state ?? "READY",
  };
}

/**
 * fromThroughput reads a create body. "If both min-throughput and min-instances are
 * provided, min-instances takes precedence" (Connector reference); throughput alone maps
 * to instances at 100 Mbps each (throughput 400/800 creates 4/8 instances,
 * terraform-provider-google resource_vpc_access_connector_test.go).
 */
function fromThroughput(body: JsonObject): Omit<ConnectorInput, "name"> & { maxInstances?: number } {
  const per = 100;
  const minI = Number(body["minInstances"] ?? 0) || Math.floor(Number(body["minThroughput"] ?? 0) / per);
  const maxI = Number(body["maxInstances"] ?? 0) || Math.floor(Number(body["maxThroughput"] ?? 0) / per);
  return {
    ...(body["network"] ? { network: String(body["network"]) } : {}),
    ...(body["ipCidrRange"] ? { ipCidrRange: String(body["ipCidrRange"]) } : {}),
    ...(body["subnet"] ? { subnet: body["subnet"] as JsonObject } : {}),
    ...(body["machineType"] ? { machineType: String(body["machineType"]) } : {}),
    // "min must be greater than or equal to 2" when min is omitted (magic-modules#13989).
    minInstances: minI,
    ...(maxI ? { maxInstances: maxI } : {}),
  };
}

function scalingOf(c: ConnectorScaling): { machineType: string; minInstances: number; maxInstances: number } {
  return { machineType: c.machineType, minInstances: c.minInstances, maxInstances: c.maxInstances };
}

function connectorJson(c: Connector): JsonObject {
  return {
    name: c.name,
    ...(c.network !== undefined ? { network: c.network } : {}),
    ...(c.ipCidrRange !== undefined ? { ipCidrRange: c.ipCidrRange } : {}),
    state: c.state,
    ...connectorThroughputFields(c.minInstances, c.maxInstances),
    connectedProjects: c.connectedProjects,
    ...(c.subnet ? { subnet: c.subnet } : {}),
    machineType: c.machineType,
    minInstances: c.minInstances,
    maxInstances: c.maxInstances,
  };
}

type Updatable = (typeof CONNECTOR_UPDATABLE_FIELDS)[number];

/**
 * maskPaths reads an update mask (comma-separated, lowerCamel or snake_case paths, as the
 * JSON form of google.protobuf.FieldMask allows). Without a mask, the fields present in
 * the body are the mask (AIP-134). A path outside the updatable set is a 400.
 */
function maskPaths(mask: unknown, body: JsonObject): Updatable[] {
  const raw =
    typeof mask === "string" && mask.trim() !== ""
      ? mask.split(",").map((p) => p.trim())
      : Object.keys(body).filter((k) => k !== "name");
  if (raw.length === 0) {
    throw invalidArgument("update_mask must name at least one field.", {
      fieldViolations: [{ field: "update_mask", description: "no fields to update" }],
    });
  }
  const out: Updatable[] = [];
  const bad: string[] = [];
  for (const p of raw) {
    const camel = p.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
    if ((CONNECTOR_UPDATABLE_FIELDS as readonly string[]).includes(camel)) {
      if (!out.includes(camel as Updatable)) out.push(camel as Updatable);
    } else {
      bad.push(p);
    }
  }
  if (bad.length > 0) {
    const message = `Field(s) ${bad.join(", ")} cannot be updated; only ${CONNECTOR_UPDATABLE_FIELDS.map(snake).join(", ")} can be changed in place.`;
    throw invalidArgument(message, {
      fieldViolations: bad.map((p) => ({ field: "update_mask", description: `${p} is not updatable` })),
    });
  }
  return out;
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}
