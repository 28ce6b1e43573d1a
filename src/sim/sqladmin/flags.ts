import {
  flagFromJson,
  SQL_FLAG_SNAPSHOT,
  SQL_FLAG_SNAPSHOT_FILE,
  type SqlFlag,
  SqlFlagCatalog,
} from "../../gcp/catalog/sql.ts";
import type { JsonObject } from "../core/types.ts";
import { sqlError } from "./operations.ts";

/**
 * SqlFlags is the simulated flag catalog: the committed snapshot
 * (src/gcp/catalog/sql-flags.json, the shape of a real `flags.list` answer) plus the
 * fixture's `sql.flags` items, which stand for flags GCP added after the snapshot was
 * taken. `flags.list` answers it and instance writes are validated against it.
 */
export class SqlFlags {
  #items: readonly SqlFlag[] = SQL_FLAG_SNAPSHOT_FILE.items;
  #catalog: SqlFlagCatalog = SQL_FLAG_SNAPSHOT;

  /** load resets the catalog to the snapshot plus `extra` (flags.list items in JSON form). */
  load(extra: readonly JsonObject[] | undefined): void {
    const added = (extra ?? []).map((f) => flagFromJson({ kind: "sql#flag", ...f }));
    this.#items = [...SQL_FLAG_SNAPSHOT_FILE.items, ...added];
    this.#catalog = added.length
      ? new SqlFlagCatalog(this.#items, "the simulator's flags", SQL_FLAG_SNAPSHOT_FILE.units)
      : SQL_FLAG_SNAPSHOT;
  }

  /** dump returns the fixture's extra items. */
  dump(): JsonObject[] {
    return this.#items.slice(SQL_FLAG_SNAPSHOT_FILE.items.length) as JsonObject[];
  }

  /**
   * list answers `GET v1/flags` (SqlFlagsService.List): every item, or the items applying
   * to `databaseVersion` (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/flags/list).
   * Only PostgreSQL flags are catalogued, so a MySQL or SQL Server version lists none, and
   * so does the connection-pool scope.
   */
  list(request: JsonObject): JsonObject {
    const version = request["databaseVersion"] as string | undefined;
    const scope = request["flagScope"] as string | number | undefined;
    const poolScope = scope === "SQL_FLAG_SCOPE_CONNECTION_POOL" || scope === 2;
    const items = poolScope ? [] : this.#items.filter((f) => !version || f.appliesTo.includes(version));
    return { kind: "sql#flagsList", items };
  }

  /** requiresRestart says whether changing a flag restarts an instance of that version. */
  requiresRestart(name: string, version: string | undefined): boolean {
    return this.#catalog.requiresRestart(name, version);
  }

  /**
   * validate refuses a flag list the way Cloud SQL does: 400 with legacy reason
   * `invalidFlagValue` and a message starting "Value requested is not valid." followed by
   * what failed, as in "Value requested is not valid. Failed to set binlog_row_image:
   * MINIMAL was not an expected string." (https://github.com/wandb/terraform-google-wandb/pull/183).
   * The detail after "Failed to set <flag>:" is capstan's catalog message. An unknown flag
   * name gets the same reason: GCP's wording for it is not documented.
   */
  validate(
    flags: readonly JsonObject[],
    databaseVersion: string | undefined,
    tier: string | undefined,
  ): void {
    for (const f of flags) {
      const name = String(f["name"] ?? "");
      const problem = this.#catalog.check(name, String(f["value"] ?? ""), databaseVersion, tier);
      if (problem) {
        throw sqlError(`Value requested is not valid. Failed to set ${name}: ${problem}.`, {
          status: "INVALID_ARGUMENT",
          reason: "invalidFlagValue",
        });
      }
    }
  }
}
