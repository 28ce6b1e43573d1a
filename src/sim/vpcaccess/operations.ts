import { names } from "../../gcp/names.ts";
import { notFound, SimError, STATUS_CODE, type Status } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import type { JsonObject, SimContext } from "../core/types.ts";

/** METADATA_TYPE is the `@type` of every Serverless VPC Access operation's metadata. */
export const METADATA_TYPE = "type.googleapis.com/google.cloud.vpcaccess.v1.OperationMetadata";

/** LongRunningOperation is a google.longrunning.Operation kept in proto3-JSON form. */
interface LongRunningOperation {
  readonly name: string;
  readonly metadata: JsonObject;
  done: boolean;
  response?: JsonObject;
  error?: { code: number; message: string };
}

/**
 * OperationStore keeps the google.longrunning.Operations of the Serverless VPC Access API,
 * named `projects/{p}/locations/{l}/operations/{id}` and served by the Operations mixin
 * (GetOperation, ListOperations) whose routes the client configures in
 * `lroOptions.httpRules`. Operations start not done and are finished by the handler's
 * scheduled event, so a client polling them sees them take time, as on GCP.
 */
export class OperationStore {
  readonly #ctx: SimContext;
  #ops = new Map<string, LongRunningOperation>();

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
  }

  /** clear forgets every operation (on fixture load). */
  clear(): void {
    this.#ops = new Map();
  }

  /**
   * start records a new running operation in `parent` (`projects/p/locations/l`) for the
   * RPC `method` acting on `target`, with metadata shaped as GCP shapes it (observed in
   * k8s-config-connector testdata vpcaccessconnector/cidrconnector/_http.log).
   */
  start(parent: string, method: string, target: string): JsonObject {
    const op: LongRunningOperation = {
      name: `${parent}/operations/${this.#ctx.nextId("operation-")}`,
      metadata: { "@type": METADATA_TYPE, method, createTime: this.#ctx.nowIso(), target },
      done: false,
    };
    this.#ops.set(op.name, op);
    return this.#json(op);
  }

  /** succeed ends an operation with `response` (already carrying its `@type`). */
  succeed(name: string, response: JsonObject): void {
    const op = this.#ops.get(name);
    if (!op) return;
    op.done = true;
    op.response = response;
    op.metadata["endTime"] = this.#ctx.nowIso();
  }

  /** fail ends an operation with a google.rpc.Status. */
  fail(name: string, status: Status, message: string): void {
    const op = this.#ops.get(name);
    if (!op) return;
    op.done = true;
    op.error = { code: STATUS_CODE[status], message };
    op.metadata["endTime"] = this.#ctx.nowIso();
  }

  /** get serves GetOperation. */
  get(name: string): JsonObject {
    const op = this.#ops.get(name);
    if (!op) throw notFound(`Operation ${name}`);
    return this.#json(op);
  }

  /**
   * list serves ListOperations for `projects/p/locations/l`, newest first. Filters are
   * not modelled: capstan polls operations by name.
   */
  list(body: JsonObject): JsonObject {
    const parent = String(body["name"] ?? "");
    if (!names.vpcAccessLocation.parse(parent)) {
      throw new SimError(`Invalid resource name ${parent}`, { status: "INVALID_ARGUMENT" });
    }
    if (body["filter"]) {
      throw new SimError("ListOperations filters are not supported by the capstan simulator.", {
        status: "UNIMPLEMENTED",
      });
    }
    const all = [...this.#ops.values()].filter((o) => o.name.startsWith(`${parent}/operations/`)).reverse();
    // google.longrunning.ListOperationsRequest documents no default or maximum page size.
    const page = paginate(all, body["pageSize"], body["pageToken"], { defaultSize: 100, maxSize: 1000 });
    return { operations: page.items.map((o) => this.#json(o)), nextPageToken: page.nextPageToken ?? "" };
  }

  #json(op: LongRunningOperation): JsonObject {
    return {
      name: op.name,
      metadata: { ...op.metadata },
      done: op.done,
      ...(op.response ? { response: op.response } : {}),
      ...(op.error ? { error: op.error } : {}),
    };
  }
}
