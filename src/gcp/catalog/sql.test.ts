import { describe, expect, it } from "vitest";
import {
  checkSqlFlag,
  compareVersions,
  flagFromJson,
  SQL_DATABASE_VERSIONS,
  SQL_FLAG_SNAPSHOT,
  SQL_FLAG_SNAPSHOT_FILE,
  type SqlFlag,
  SqlFlagCatalog,
  sqlFlagRequiresRestart,
} from "./sql.ts";

const POSTGRES = SQL_DATABASE_VERSIONS.filter((v) => v.startsWith("POSTGRES_"));

/** A value the flag's own definition says is valid. */
function validValue(f: SqlFlag): string {
  switch (f.type) {
    case "BOOLEAN":
      return "on";
    case "STRING":
    case "REPEATED_STRING":
      return f.allowedStringValues?.[0] ?? "x";
    case "INTEGER":
    case "FLOAT":
      return f.allowedIntValues?.[0] ?? f.minValue ?? f.maxValue ?? "0";
    default:
      return "";
  }
}

describe("the Cloud SQL flag snapshot", () => {
  it("records its date, origin and sources", () => {
    expect(SQL_FLAG_SNAPSHOT_FILE.snapshotDate).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(SQL_FLAG_SNAPSHOT_FILE.origin).toMatch(/^(flags\.list|reconstructed)$/);
    expect(SQL_FLAG_SNAPSHOT_FILE.sources.length).toBeGreaterThan(0);
  });

  it("covers every PostgreSQL version from 9.6 to 18", () => {
    for (const v of ["9_6", "10", "11", "12", "13", "14", "15", "16", "17", "18"]) {
      expect(SQL_FLAG_SNAPSHOT.covers(`POSTGRES_${v}`), v).toBe(true);
    }
  });

  it("never refuses a flag that exists, with a value its definition allows, on any version it applies to", () => {
    const refused: string[] = [];
    for (const f of SQL_FLAG_SNAPSHOT_FILE.items) {
      for (const v of f.appliesTo) {
        const why = checkSqlFlag(f.name, validValue(f), v);
        if (why) refused.push(`${f.name}@${v}: ${why}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it("knows the flags Cloud SQL's release notes announced, which the reconstruction had left out", () => {
    // https://docs.cloud.google.com/sql/docs/postgres/release-notes: log_line_prefix
    // (2023-05-19), rdkit.* (2023-09-28), io_* for PostgreSQL 18 (2025-10-03),
    // cloudsql.pgaudit_mask_literals for PostgreSQL 14 and later (2026-08-31).
    expect(checkSqlFlag("log_line_prefix", "%m [%p] %q%u@%d ", "POSTGRES_16")).toBeUndefined();
    expect(checkSqlFlag("cloudsql.pg_shadow_select_role", "pgbouncer", "POSTGRES_15")).toBeUndefined();
    expect(sqlFlagRequiresRestart("cloudsql.pg_shadow_select_role", "POSTGRES_15")).toBe(false);
    expect(checkSqlFlag("rdkit.tanimoto_threshold", "0.7", "POSTGRES_14")).toBeUndefined();
    expect(checkSqlFlag("rdkit.do_chiral_sss", "on", "POSTGRES_14")).toBeUndefined();
    expect(checkSqlFlag("io_method", "worker", "POSTGRES_18")).toBeUndefined();
    expect(sqlFlagRequiresRestart("io_method", "POSTGRES_18")).toBe(true);
    expect(checkSqlFlag("io_workers", "4", "POSTGRES_18")).toBeUndefined();
    expect(checkSqlFlag("io_method", "worker", "POSTGRES_17")).toMatch(/does not apply to POSTGRES_17/);
    expect(checkSqlFlag("cloudsql.pgaudit_mask_literals", "on", "POSTGRES_14")).toBeUndefined();
    expect(checkSqlFlag("cloudsql.pgaudit_mask_literals", "on", "POSTGRES_13")).toMatch(/does not apply/);
    // A flag Cloud SQL does not offer stays refused, with what would be valid.
    expect(checkSqlFlag("log_line_prefixx", "%m", "POSTGRES_16")).toMatch(
      /unknown flag .*did you mean .*log_line_prefix/,
    );
  });

  it("knows flags beyond the tuning few, e.g. log_timezone and max_worker_processes", () => {
    expect(checkSqlFlag("log_timezone", "Europe/Paris", "POSTGRES_18")).toBeUndefined();
    expect(checkSqlFlag("max_worker_processes", "16", "POSTGRES_9_6")).toBeUndefined();
    expect(sqlFlagRequiresRestart("max_worker_processes", "POSTGRES_16")).toBe(true);
    expect(checkSqlFlag("cloudsql.enable_pgaudit", "on", "POSTGRES_18")).toBeUndefined();
  });

  it("follows PostgreSQL's changes between versions", () => {
    // autovacuum_max_workers takes effect on reload from PostgreSQL 18.
    expect(sqlFlagRequiresRestart("autovacuum_max_workers", "POSTGRES_17")).toBe(true);
    expect(sqlFlagRequiresRestart("autovacuum_max_workers", "POSTGRES_18")).toBe(false);
    // wal_keep_segments became wal_keep_size in 13.
    expect(checkSqlFlag("wal_keep_segments", "10", "POSTGRES_12")).toBeUndefined();
    expect(checkSqlFlag("wal_keep_segments", "10", "POSTGRES_13")).toMatch(/does not apply to POSTGRES_13/);
  });

  it("refuses a flag Cloud SQL manages itself and an unknown one, naming near ones", () => {
    expect(checkSqlFlag("wal_level", "logical", "POSTGRES_16")).toMatch(/^unknown flag `wal_level`/);
    expect(checkSqlFlag("max_connection", "100")).toBe(
      "unknown flag `max_connection`; did you mean `max_connections`?",
    );
  });

  it("does not judge a version it has no flags for", () => {
    expect(SQL_FLAG_SNAPSHOT.covers("POSTGRES_20")).toBe(false);
    expect(checkSqlFlag("some_future_flag", "1", "POSTGRES_20")).toBeUndefined();
  });
});

describe("SqlFlagCatalog", () => {
  it("reads flags.list items as the client decodes them: enum numbers, wrappers, int64 as strings", () => {
    const f = flagFromJson({
      kind: "sql#flag",
      name: "max_connections",
      type: 3,
      appliesTo: [272, "POSTGRES_17"],
      minValue: { value: "14" },
      maxValue: { value: 262143 },
      requiresRestart: { value: true },
      flagScope: 1,
    });
    expect(f).toEqual({
      kind: "sql#flag",
      name: "max_connections",
      type: "INTEGER",
      appliesTo: ["POSTGRES_16", "POSTGRES_17"],
      minValue: "14",
      maxValue: "262143",
      requiresRestart: true,
      flagScope: "SQL_FLAG_SCOPE_DATABASE",
    });
  });

  it("checks repeated strings element by element and integers against their allowed values", () => {
    const c = new SqlFlagCatalog(
      [
        {
          name: "pgaudit.log",
          type: "REPEATED_STRING",
          appliesTo: ["POSTGRES_16"],
          allowedStringValues: ["read", "write", "ddl"],
        },
        { name: "n", type: "INTEGER", appliesTo: ["POSTGRES_16"], allowedIntValues: ["1", "2", "4"] },
        { name: "skip", type: "NONE", appliesTo: ["POSTGRES_16"] },
      ],
      "test",
    );
    expect(c.check("pgaudit.log", "read, ddl", "POSTGRES_16")).toBeUndefined();
    expect(c.check("pgaudit.log", "read,all", "POSTGRES_16")).toBe(
      "`pgaudit.log` takes a comma-separated list of read, write, ddl, got `all`",
    );
    expect(c.check("n", "3", "POSTGRES_16")).toBe("`n` takes one of 1, 2, 4, got 3");
    expect(c.check("skip", "", "POSTGRES_16")).toBeUndefined();
  });

  it("orders versions by number, not by enum value", () => {
    expect(["POSTGRES_10", "POSTGRES_9_6", "MYSQL_8_0", "POSTGRES_18"].sort(compareVersions)).toEqual([
      "MYSQL_8_0",
      "POSTGRES_9_6",
      "POSTGRES_10",
      "POSTGRES_18",
    ]);
    expect(POSTGRES[0]).toBe("POSTGRES_9_6");
  });
});
