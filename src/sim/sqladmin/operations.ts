import { SimError } from "../core/errors.ts";
import type { FaultRule } from "../core/faults.ts";
import { paginate } from "../core/paging.ts";
import type { JsonObject, SimContext } from "../core/types.ts";

/** SQL_API_BASE is the base of every Cloud SQL Admin v1 self link. */
export const SQL_API_BASE = "https://sqladmin.googleapis.com/v1";

/**
 * SIM_USER is the `user` of every simulated operation. GCP puts the caller's email there;
 * the simulator does not know who the token belongs to, so it uses the placeholder Config
 * Connector's mockgcp uses (mockgcp/mocksql/testdata/instance/postgres/_http.log).
 */
export const SIM_USER = "user@example.com";

/** SqlOperationType is the subset of google.cloud.sql.v1.Operation.SqlOperationType simulated. */
export type SqlOperationType = "UPDATE" | "RESTART";

/** SqlOperationError is one `sql#operationError`: a Cloud SQL error code and message. */
export interface SqlOperationError {
  readonly code: string;
  readonly message: string;
}

interface Operation {
  readonly name: string;
  readonly project: string;
  readonly instance: string;
  readonly operationType: SqlOperationType;
  readonly seq: number;
  status: "PENDING" | "RUNNING" | "DONE";
  readonly insertTime: string;
  startTime?: string;
  endTime?: string;
  error?: SqlOperationError;
}

/** StartOptions describe one operation to run against an instance. */
export interface StartOptions {
  readonly project: string;
  readonly instance: string;
  readonly operationType: SqlOperationType;
  /** GCP time the operation takes, in seconds. */
  readonly durationSeconds: number;
  /** An injected `failOperation` fault: the operation then ends with its error. */
  readonly fault?: FaultRule | undefined;
  /**
   * finish runs when the operation ends, before it reads DONE, with the error it ends in
   * (undefined on success) so the caller applies or discards the change.
   */
  readonly finish: (error: SqlOperationError | undefined) => void;
}

/**
 * sqlError builds an error in Cloud SQL Admin's format: `code`, `message` and the legacy
 * `errors[]` array (`{message, domain: "global", reason}`), with no `status` and no
 * ErrorInfo, e.g. `{"code": 412, "message": "Condition does not match.", "errors": [{...,
 * "reason": "staleData"}]}` as captured in
 * https://github.com/hashicorp/terraform-provider-google/issues/12324, and the recorded 404
 * in test/fixtures/recorded/sql/error-404-instance.json. `status` only picks the HTTP code
 * when `httpCode` is not given.
 */
export function sqlError(
  message: string,
  options: { status: SimError["options"]["status"]; httpCode?: number; reason: string },
): SimError {
  return new SimError(message, {
    status: options.status,
    ...(options.httpCode !== undefined ? { httpCode: options.httpCode } : {}),
    reason: options.reason,
    legacyOnly: true,
  });
}

/**
 * SqlOperations holds the `sql#operation` resources of the simulated Cloud SQL Admin API
 * (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/operations). An operation
 * is PENDING when returned by the call that starts it (as GCP answers a patch, see the
 * mockgcp log above), RUNNING from then on, and DONE after its duration.
 */
export class SqlOperations {
  readonly #ctx: SimContext;
  #ops = new Map<string, Operation>();
  #seq = 0;

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
  }

  /** clear forgets every operation (fixture load). */
  clear(): void {
    this.#ops = new Map();
  }

  /**
   * start records a new operation and schedules its progress on simulated time. It
   * returns the operation as the starting call answers it.
   */
  start(options: StartOptions): JsonObject {
    const ctx = this.#ctx;
    const hex = ctx.nextId("sqlop").slice("sqlop".length);
    // Cloud SQL v1 operation names are UUIDs; this one is derived from a counter so runs
    // are deterministic.
    const name = `${hex}-0000-4000-8000-${hex.padStart(12, "0")}`;
    const t0 = ctx.now();
    const op: Operation = {
      name,
      project: options.project,
      instance: options.instance,
      operationType: options.operationType,
      seq: ++this.#seq,
      status: "PENDING",
      insertTime: new Date(t0).toISOString(),
    };
    this.#ops.set(`${options.project}/${name}`, op);
    const duration = Math.max(0, options.durationSeconds);
    // Events run lazily, so timestamps are taken from the schedule rather than from the
    // moment an event happens to be processed.
    const startedAt = op.insertTime;
    const endsAt = new Date(t0 + duration * 1000).toISOString();
    // The call that starts an operation answers PENDING; the work is picked up at once, so
    // any later read sees RUNNING.
    ctx.after(0, () => {
      op.status = "RUNNING";
      op.startTime = startedAt;
    });
    ctx.after(duration, () => {
      const fail = options.fault?.failOperation;
      const error: SqlOperationError | undefined = fail
        ? {
            // Cloud SQL operation errors carry the API's own codes, not google.rpc names
            // (https://cloud.google.com/sql/docs/postgres/admin-api-error-messages); an
            // injected fault reads as an internal failure unless it names a status.
            code: fail.status ?? "INTERNAL_ERROR",
            message: fail.message ?? `Injected fault ${options.fault?.id ?? ""}`.trim(),
          }
        : undefined;
      options.finish(error);
      op.startTime ??= startedAt;
      op.status = "DONE";
      op.endTime = endsAt;
      if (error) op.error = error;
    });
    return this.#toJson(op);
  }

  /** running returns the name of the operation not yet DONE on an instance, if any. */
  running(project: string, instance: string): string | undefined {
    for (const op of this.#ops.values()) {
      if (op.project === project && op.instance === instance && op.status !== "DONE") return op.name;
    }
    return undefined;
  }

  /** get returns an operation as `sql#operation` JSON, or throws the API's 404. */
  /** instanceOf names the instance an operation is about, undefined for an unknown operation. */
  instanceOf(project: string, name: string): string | undefined {
    return this.#ops.get(`${project}/${name}`)?.instance;
  }

  get(project: string, name: string): JsonObject {
    const op = this.#ops.get(`${project}/${name}`);
    if (!op) {
      // Modelled on the instance 404 ("The Cloud SQL instance does not exist."); the
      // operation variant's wording is not documented.
      throw sqlError("The Cloud SQL operation does not exist.", {
        status: "NOT_FOUND",
        reason: "operationDoesNotExist",
      });
    }
    return this.#toJson(op);
  }

  /**
   * list returns a project's operations, optionally of one instance, newest first ("in
   * the reverse chronological order of the start time", SqlOperationsService.List in
   * google/cloud/sql/v1/cloud_sql_operations.proto), paged by `maxResults`/`pageToken`.
   * The proto gives no default page size; the instances list's (500, at most 1000) is used.
   */
  list(project: string, instance: string | undefined, maxResults: unknown, pageToken: unknown): JsonObject {
    const all = [...this.#ops.values()]
      .filter((op) => op.project === project && (!instance || op.instance === instance))
      .sort((a, b) => b.seq - a.seq);
    const page = paginate(all, maxResults as number | undefined, (pageToken as string) || undefined, {
      defaultSize: 500,
      maxSize: 1000,
    });
    return {
      kind: "sql#operationsList",
      items: page.items.map((op) => this.#toJson(op)),
      nextPageToken: page.nextPageToken ?? "",
    };
  }

  #toJson(op: Operation): JsonObject {
    return {
      kind: "sql#operation",
      name: op.name,
      operationType: op.operationType,
      status: op.status,
      user: SIM_USER,
      insertTime: op.insertTime,
      ...(op.startTime ? { startTime: op.startTime } : {}),
      ...(op.endTime ? { endTime: op.endTime } : {}),
      ...(op.error
        ? {
            error: {
              kind: "sql#operationErrors",
              errors: [{ kind: "sql#operationError", code: op.error.code, message: op.error.message }],
            },
          }
        : {}),
      targetId: op.instance,
      targetProject: op.project,
      targetLink: `${SQL_API_BASE}/projects/${op.project}/instances/${op.instance}`,
      selfLink: `${SQL_API_BASE}/projects/${op.project}/operations/${op.name}`,
    };
  }
}
