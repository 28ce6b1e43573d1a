import { checkSqlFlag, SQL_FLAGS, type SqlFlagSpec } from "../../gcp/catalog/sql.ts";
import type { JsonObject } from "../core/types.ts";
import { sqlError } from "./operations.ts";

function flagJson(spec: SqlFlagSpec): JsonObject {
  return {
    kind: "sql#flag",
    name: spec.name,
    type: spec.type,
    appliesTo: [...spec.appliesTo],
    ...(spec.allowedStringValues ? { allowedStringValues: [...spec.allowedStringValues] } : {}),
    // The static list cannot know an instance's memory, so a memory-bound flag shows its
    // absolute range here; the per-tier bound is enforced when the flag is set.
    ...(spec.type === "INTEGER" && spec.min !== undefined ? { minValue: String(spec.min) } : {}),
    ...(spec.type === "INTEGER" && spec.max !== undefined ? { maxValue: String(spec.max) } : {}),
    requiresRestart: spec.requiresRestart,
    inBeta: spec.inBeta ?? false,
    flagScope: "SQL_FLAG_SCOPE_DATABASE",
  };
}

/**
 * listFlags answers `GET v1/flags` (SqlFlagsService.List): the flags of the catalog in
 * src/gcp/catalog/sql.ts, all of them or those applying to `databaseVersion`
 * (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/flags/list). Only
 * PostgreSQL flags are modelled, so a MySQL or SQL Server version lists none, and so does
 * the connection-pool scope.
 */
export function listFlags(request: JsonObject): JsonObject {
  const version = request["databaseVersion"] as string | undefined;
  const scope = request["flagScope"] as string | number | undefined;
  const poolScope = scope === "SQL_FLAG_SCOPE_CONNECTION_POOL" || scope === 2;
  const items = poolScope
    ? []
    : Object.values(SQL_FLAGS)
        .filter((f) => !version || f.appliesTo.includes(version))
        .map(flagJson);
  return { kind: "sql#flagsList", items };
}

/**
 * validateFlags refuses a flag list the way Cloud SQL does: 400 with legacy reason
 * `invalidFlagValue` and a message starting "Value requested is not valid." followed by
 * what failed, as in "Value requested is not valid. Failed to set binlog_row_image:
 * MINIMAL was not an expected string." (https://github.com/wandb/terraform-google-wandb/pull/183).
 * The detail after "Failed to set <flag>:" is capstan's catalog message. An unknown flag
 * name gets the same reason: GCP's wording for it is not documented.
 */
export function validateFlags(
  flags: readonly JsonObject[],
  databaseVersion: string | undefined,
  tier: string | undefined,
): void {
  for (const f of flags) {
    const name = String(f["name"] ?? "");
    const problem = checkSqlFlag(name, String(f["value"] ?? ""), databaseVersion, tier);
    if (problem) {
      throw sqlError(`Value requested is not valid. Failed to set ${name}: ${problem}.`, {
        status: "INVALID_ARGUMENT",
        reason: "invalidFlagValue",
      });
    }
  }
}
