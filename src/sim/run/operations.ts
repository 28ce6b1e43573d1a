import type protobuf from "protobufjs";
import { names } from "../../gcp/names.ts";
import { SimError } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import { type RpcDescriptor, rpc } from "../core/protos.ts";
import type { Handler, JsonObject, SimContext } from "../core/types.ts";

const SERVICE_TYPE = "type.googleapis.com/google.cloud.run.v2.Service";
const OPS = "google.longrunning.Operations";

/** RunOperation is one google.longrunning.Operation of the Cloud Run Admin API. */
export interface RunOperation {
  /** `projects/{project}/locations/{location}/operations/{uuid}`. */
  readonly name: string;
  /** Simulated time (epoch ms) at which the operation is due to finish. */
  readonly doneAt: number;
  done: boolean;
  /** The Service as the operation last saw it (Cloud Run's metadata type is Service). */
  metadata: JsonObject;
  response?: JsonObject | undefined;
  error?: { readonly code: number; readonly message: string } | undefined;
  /** Finishes the operation now; does nothing once done. */
  readonly finish: () => void;
}

/**
 * operationJson renders an operation as google.longrunning.Operation: metadata and
 * response are Any-packed google.cloud.run.v2.Service, as the client's LRO decoder
 * expects (service.proto, `operation_info { response_type: "Service" metadata_type:
 * "Service" }`).
 */
export function operationJson(op: RunOperation): JsonObject {
  return {
    name: op.name,
    metadata: { "@type": SERVICE_TYPE, ...op.metadata },
    // proto3 JSON leaves out fields at their default, so a running operation has no `done`.
    ...(op.done ? { done: true } : {}),
    ...(op.error ? { error: op.error } : {}),
    ...(op.response ? { response: { "@type": SERVICE_TYPE, ...op.response } } : {}),
  };
}

/**
 * doneOperationJson renders an operation that was never stored: a `validateOnly` request
 * answers with the would-be Service and no operation id, since AIP-163 asks validation
 * to "omit auto-generated IDs" it cannot know (https://google.aip.dev/163).
 */
export function doneOperationJson(service: JsonObject): JsonObject {
  return {
    metadata: { "@type": SERVICE_TYPE, ...service },
    done: true,
    response: { "@type": SERVICE_TYPE, ...service },
  };
}

/**
 * RunOperations stores the operations of one simulated Cloud Run API and serves the
 * google.longrunning.Operations mixin the client configures for it.
 */
export class RunOperations {
  readonly #ctx: SimContext;
  #ops = new Map<string, RunOperation>();

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
  }

  /** clear forgets every operation (fixture load). */
  clear(): void {
    this.#ops = new Map();
  }

  /**
   * start records an operation in `projects/{project}/locations/{location}` that finishes
   * `seconds` of GCP time from now by calling `complete(at)`, where `at` is the time it
   * was due (events run lazily, so the clock may be later).
   */
  start(
    parent: string,
    seconds: number,
    metadata: JsonObject,
    complete: (op: RunOperation, at: number) => void,
  ): RunOperation {
    const hex = this.#ctx.nextId("run.op:").slice("run.op:".length);
    // Cloud Run operation ids are UUIDs; derive one from a counter so runs repeat.
    const id = `${hex}-0000-4000-8000-${hex.padStart(12, "0")}`;
    const doneAt = this.#ctx.now() + seconds * 1000;
    const op: RunOperation = {
      name: `${parent}/operations/${id}`,
      doneAt,
      done: false,
      metadata,
      finish: () => {
        if (op.done) return;
        // Done first, so a completion that finishes other operations cannot re-enter this one.
        op.done = true;
        complete(op, Math.min(doneAt, this.#ctx.now()));
      },
    };
    this.#ops.set(op.name, op);
    this.#ctx.after(seconds, op.finish);
    return op;
  }

  #get(name: string): RunOperation {
    const op = this.#ops.get(name);
    if (!op) throw new SimError(`operation "${name}" not found`, { status: "NOT_FOUND" });
    return op;
  }

  /** rpcs are the Operations mixin methods with the HTTP rules the Run client sets (services_client.js, lroOptions.httpRules). */
  static rpcs(root: protobuf.Root): RpcDescriptor[] {
    const name = "/v2/{name=projects/*/locations/*/operations/*}";
    return [
      rpc(
        root,
        `${OPS}.GetOperation`,
        "google.longrunning.GetOperationRequest",
        "google.longrunning.Operation",
        [{ method: "GET", template: name }],
      ),
      rpc(
        root,
        `${OPS}.ListOperations`,
        "google.longrunning.ListOperationsRequest",
        "google.longrunning.ListOperationsResponse",
        [{ method: "GET", template: "/v2/{name=projects/*/locations/*}/operations" }],
      ),
      rpc(
        root,
        `${OPS}.WaitOperation`,
        "google.longrunning.WaitOperationRequest",
        "google.longrunning.Operation",
        [{ method: "POST", template: `${name}:wait`, body: "*" }],
      ),
      rpc(
        root,
        `${OPS}.DeleteOperation`,
        "google.longrunning.DeleteOperationRequest",
        "google.protobuf.Empty",
        [{ method: "DELETE", template: name }],
      ),
    ];
  }

  /** handlers serve the mixin. */
  handlers(): Record<string, Handler> {
    return {
      [`${OPS}.GetOperation`]: (req) => operationJson(this.#get(String(req.body["name"]))),
      [`${OPS}.ListOperations`]: (req) => {
        const parent = String(req.body["name"]);
        if (!names.runLocation.parse(parent)) {
          throw new SimError(`Invalid resource name "${parent}"`, { status: "INVALID_ARGUMENT" });
        }
        const all = [...this.#ops.values()].filter((o) => o.name.startsWith(`${parent}/operations/`));
        const page = paginate(all, req.body["pageSize"], req.body["pageToken"], {
          defaultSize: 100,
          maxSize: 1000,
        });
        return { operations: page.items.map(operationJson), nextPageToken: page.nextPageToken ?? "" };
      },
      [`${OPS}.WaitOperation`]: async (req) => {
        const op = this.#get(String(req.body["name"]));
        if (!op.done) {
          // Wait until the operation is due or the request's timeout passes, on the
          // simulator's clock (scaled time), as google.longrunning.WaitOperation does.
          const timeout = /^(\d+(?:\.\d+)?)s$/.exec(String(req.body["timeout"] ?? ""));
          const until = timeout
            ? Math.min(op.doneAt, this.#ctx.now() + Number(timeout[1]) * 1000)
            : op.doneAt;
          await this.#ctx.clock.sleep(Math.max(0, until - this.#ctx.now()));
          // Timers may fire a hair early; a wait that ran to the due time finishes it.
          if (until >= op.doneAt) op.finish();
        }
        return operationJson(op);
      },
      [`${OPS}.DeleteOperation`]: (req) => {
        const name = String(req.body["name"]);
        this.#get(name);
        // Deleting an operation only drops the record; the work it tracks goes on (AIP-151).
        this.#ops.delete(name);
        return {};
      },
    };
  }
}
