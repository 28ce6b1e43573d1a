import type { protos } from "@google-cloud/sql";
import type { Gcp } from "./access.ts";
import { gaxCallOptions } from "./call.ts";
import { SQL_FLAG_SNAPSHOT, SqlFlagCatalog } from "./catalog/sql.ts";
import { enumName, protoEnum } from "./enums.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

type IOperation = protos.google.cloud.sql.v1.IOperation;

/** SQL_API is the service name capstan's rate limits and metrics know the Cloud SQL Admin API by. */
export const SQL_API = "sqladmin.googleapis.com";

/** SQL_OPERATION_STATUS names Operation.SqlOperationStatus values by number. */
export const SQL_OPERATION_STATUS = protoEnum("sql", "google.cloud.sql.v1.Operation.SqlOperationStatus");

// Cloud SQL operation errors carry the API's own error codes
// (https://cloud.google.com/sql/docs/postgres/admin-api-error-messages); the few whose
// canonical equivalent is plain are mapped, the rest read as UNKNOWN.
const RPC_CODE_OF_SQL_ERROR: Readonly<Record<string, number>> = {
  INVALID_REQUEST: 3,
  INVALID_OPERATION: 9,
  INTERNAL_ERROR: 13,
  NOT_FOUND: 5,
  QUOTA_EXCEEDED: 8,
};

/**
 * sqlOperationStatusOf maps a `sql#operation` to the API-neutral status: done when its
 * status is DONE, failed when `error.errors[]` is not empty
 * (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/operations). The status
 * may arrive as its name or its enum number, depending on the client's enum encoding.
 */
function sqlOperationStatusOf(op: IOperation): OperationStatus {
  const done = enumName(op.status, SQL_OPERATION_STATUS) === "DONE";
  const errors = op.error?.errors ?? [];
  if (!done || errors.length === 0) return { done };
  const first = errors[0]!;
  const message = errors
    .map((e) => (e.code ? `${e.code}: ${e.message ?? ""}` : (e.message ?? "")))
    .join("; ");
  return {
    done,
    error: { code: RPC_CODE_OF_SQL_ERROR[first.code ?? ""] ?? 2, message: message || "operation failed" },
  };
}

/**
 * sqlOperationPoller reads a Cloud SQL operation (`operations.get`) once per call, for
 * {@link waitForOperation}. `operation` is the operation's `name` as returned by the call
 * that started it. Each read goes through `gcp.call`, so polls spend capstan's read
 * budget and are retried on its clock, never by gax on real timers. `location` is the
 * instance's region, where Cloud SQL counts the read.
 */
export function sqlOperationPoller(
  gcp: Gcp,
  project: string,
  operation: string,
  location?: string,
): OperationPoller {
  return async (signal) => {
    signal?.throwIfAborted();
    const [op] = await gcp.call(
      // Counts as a get in the instance's region (src/gcp/quotas.ts).
      {
        api: SQL_API,
        method: "operations.get",
        write: false,
        location,
        resource: `projects/${project}/operations/${operation}`,
      },
      () => gcp.clients.sql.operations.get({ project, operation }, gaxCallOptions()),
      signal,
    );
    return sqlOperationStatusOf(op);
  };
}

/** LiveSqlFlags is the flag catalog a plan judges flags by, and how it was had. */
export interface LiveSqlFlags {
  readonly catalog: SqlFlagCatalog;
  /** Set when the live answer could not be read and the snapshot stands in for it. */
  readonly note?: string;
}

/**
 * liveSqlFlags reads `flags.list` (SqlFlagsService.List,
 * https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/flags/list) into a
 * catalog. It asks for every version at once, so a flag of another version is told
 * apart from an unknown one, and the read is keyed, so a plan reads it once however many
 * instances it checks. When it fails (no permission, no network) the committed snapshot
 * is used and the note says so, naming the instance's version; flags are then judged as
 * `capstan validate` judges them.
 */
export async function liveSqlFlags(
  gcp: Gcp,
  databaseVersion: string,
  signal?: AbortSignal,
): Promise<LiveSqlFlags> {
  try {
    const [answer] = await gcp.call(
      { api: SQL_API, method: "flags.list", write: false, key: "flags.list" },
      () => gcp.clients.sql.flags.list({}, gaxCallOptions()),
      signal,
    );
    return {
      catalog: SqlFlagCatalog.fromList((answer.items ?? []) as Record<string, unknown>[], "flags.list"),
    };
  } catch (err) {
    signal?.throwIfAborted();
    return {
      catalog: SQL_FLAG_SNAPSHOT,
      note: `database flags checked against ${SQL_FLAG_SNAPSHOT.source}: could not read flags.list for ${databaseVersion} (${err instanceof Error ? err.message : String(err)})`,
    };
  }
}
