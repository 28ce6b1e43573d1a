import { computeUrl } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import { STATUS_HTTP, type Status } from "../core/errors.ts";
import type { FaultRule } from "../core/faults.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import { clone, listPage, numericId, requiredString, resourceNotFound } from "./common.ts";

/**
 * WAIT_DEADLINE_SECONDS is how long `globalOperations.wait` holds a call: "Waits for the
 * specified Operation resource to return as DONE or for the request to approach the 2
 * minute deadline ... there is no guarantee that the operation is actually done when the
 * method returns" (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/wait).
 */
export const WAIT_DEADLINE_SECONDS = 120;

/** The principal the simulator reports as an operation's `user`. */
const SIM_USER = "capstan-sim@example.com";

// The codes Compute puts in Operation.error.errors[].code for the common failure kinds
// (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations: `error.errors[].code`).
const OPERATION_ERROR_CODE: Partial<Record<Status, string>> = {
  INVALID_ARGUMENT: "INVALID_FIELD_VALUE",
  NOT_FOUND: "RESOURCE_NOT_FOUND",
  FAILED_PRECONDITION: "CONDITION_NOT_MET",
  RESOURCE_EXHAUSTED: "QUOTA_EXCEEDED",
  ABORTED: "RESOURCE_NOT_READY",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  INTERNAL: "INTERNAL_ERROR",
};

// HTTP reason phrases as Compute spells them in `httpErrorMessage`.
const HTTP_MESSAGE: Readonly<Record<number, string>> = {
  400: "BAD REQUEST",
  403: "FORBIDDEN",
  404: "NOT FOUND",
  409: "CONFLICT",
  429: "TOO MANY REQUESTS",
  500: "INTERNAL SERVER ERROR",
  503: "SERVICE UNAVAILABLE",
  504: "GATEWAY TIMEOUT",
};

interface OperationRecord {
  readonly project: string;
  readonly json: JsonObject;
  readonly targetLink: string;
  readonly doneAt: number;
  readonly apply: () => void;
  readonly fault: FaultRule | undefined;
  finished: boolean;
}

/** StartOperation describes a write whose effect lands when its operation finishes. */
export interface StartOperation {
  readonly project: string;
  /** e.g. `patch`, `update`. */
  readonly operationType: string;
  /** Relative name of the resource written. */
  readonly target: string;
  readonly targetId: string;
  /** Applies the change; not called when `fault` makes the operation fail. */
  readonly apply: () => void;
  readonly fault: FaultRule | undefined;
  readonly requestId?: string | undefined;
}

/**
 * ComputeOperations holds the global `compute#operation`s of the simulated Compute
 * Engine. A write validates synchronously, answers with a RUNNING operation, and its
 * change lands when the operation finishes `compute.update` seconds later (the shape of
 * Compute's recorded traffic: https://github.com/GoogleCloudPlatform/k8s-config-connector,
 * mockgcp/mockcompute/testdata/backendservice/crud/_http.log). A failed operation leaves
 * the resource as it was.
 */
export class ComputeOperations {
  readonly #ctx: SimContext;
  #ops = new Map<string, OperationRecord>();
  #byRequestId = new Map<string, string>();

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
  }

  /** reset forgets every operation, for a fixture load. */
  reset(): void {
    this.#ops = new Map();
    this.#byRequestId = new Map();
  }

  /**
   * byRequestId returns the operation an earlier call with the same `requestId` started,
   * which Compute answers again instead of repeating the write
   * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices/patch, `requestId`).
   */
  byRequestId(project: string, requestId: string | undefined): JsonObject | undefined {
    if (!requestId) return undefined;
    const name = this.#byRequestId.get(`${project}/${requestId}`);
    const op = name ? this.#ops.get(name) : undefined;
    return op ? clone(op.json) : undefined;
  }

  /** running tells whether an operation on the resource is still in progress. */
  running(target: string): boolean {
    this.settle();
    const link = computeUrl(target);
    for (const op of this.#ops.values()) if (!op.finished && op.targetLink === link) return true;
    return false;
  }

  /** start records a RUNNING operation and schedules its end. */
  start(s: StartOperation): JsonObject {
    const ctx = this.#ctx;
    const now = ctx.now();
    const seq = ctx.nextId("compute-operation-");
    const hex = seq.slice("compute-operation-".length);
    const name = `operation-${Math.floor(now)}-${hex}`;
    const rel = names.computeGlobalOperation.format({ project: s.project, operation: name });
    const json: JsonObject = {
      kind: "compute#operation",
      id: numericId(`${s.project}/${seq}`),
      name,
      operationType: s.operationType,
      targetLink: computeUrl(s.target),
      targetId: s.targetId,
      status: "RUNNING",
      user: SIM_USER,
      progress: 0,
      insertTime: ctx.nowIso(),
      startTime: ctx.nowIso(),
      selfLink: computeUrl(rel),
    };
    const doneAt = now + ctx.durationOf("compute.update", 8) * 1000;
    this.#ops.set(name, {
      project: s.project,
      json,
      targetLink: json["targetLink"] as string,
      doneAt,
      apply: s.apply,
      fault: s.fault,
      finished: false,
    });
    if (s.requestId) this.#byRequestId.set(`${s.project}/${s.requestId}`, name);
    ctx.at(doneAt, () => this.settle());
    return clone(json);
  }

  /**
   * settle finishes, in time order, every operation whose time has come. It runs from the
   * scheduled event and from `wait`, which must see an operation end while it holds a call.
   */
  settle(): void {
    const now = this.#ctx.now();
    const due = [...this.#ops.values()].filter((o) => !o.finished && o.doneAt <= now);
    due.sort((a, b) => a.doneAt - b.doneAt);
    for (const op of due) this.#finish(op);
  }

  #finish(op: OperationRecord): void {
    op.finished = true;
    const json = op.json;
    json["status"] = "DONE";
    json["progress"] = 100;
    json["endTime"] = new Date(op.doneAt).toISOString();
    if (op.fault?.failOperation) {
      const status = op.fault.failOperation.status ?? "INTERNAL";
      const http = STATUS_HTTP[status];
      json["error"] = {
        errors: [
          {
            code: OPERATION_ERROR_CODE[status] ?? status,
            message: op.fault.failOperation.message ?? `Injected operation failure (${op.fault.id})`,
          },
        ],
      };
      json["httpErrorStatusCode"] = http;
      json["httpErrorMessage"] = HTTP_MESSAGE[http] ?? status;
      return;
    }
    op.apply();
  }

  #get(req: SimRequest): OperationRecord {
    this.settle();
    const project = requiredString(req.body, "project", "project");
    const operation = requiredString(req.body, "operation", "operation");
    const op = this.#ops.get(operation);
    if (!op || op.project !== project) {
      throw resourceNotFound(names.computeGlobalOperation.format({ project, operation }));
    }
    return op;
  }

  /** get serves GlobalOperations.Get. */
  get(req: SimRequest): JsonObject {
    return clone(this.#get(req).json);
  }

  /**
   * wait serves GlobalOperations.Wait: it holds the call, in clock time, until the
   * operation is DONE or {@link WAIT_DEADLINE_SECONDS} passed, and returns the operation
   * as it then is (possibly still RUNNING).
   */
  async wait(req: SimRequest): Promise<JsonObject> {
    const op = this.#get(req);
    const deadline = this.#ctx.now() + WAIT_DEADLINE_SECONDS * 1000;
    while (!op.finished) {
      const left = Math.min(op.doneAt, deadline) - this.#ctx.now();
      if (left <= 0) {
        this.settle();
        break;
      }
      // Timers may fire a hair early: sleep at least 1 ms and look again.
      await this.#ctx.clock.sleep(Math.max(left, 1));
      this.settle();
    }
    return clone(op.json);
  }

  /** list serves GlobalOperations.List. */
  list(req: SimRequest): JsonObject {
    this.settle();
    const project = requiredString(req.body, "project", "project");
    const items = [...this.#ops.values()].filter((o) => o.project === project).map((o) => clone(o.json));
    return listPage(items, req, {
      kind: "compute#operationList",
      collection: `projects/${project}/global/operations`,
    });
  }
}
