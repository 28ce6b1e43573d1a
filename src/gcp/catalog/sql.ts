/**
 * Cloud SQL for PostgreSQL knowledge as data: the database flags capstan tunes, their
 * types and ranges, which ones restart the instance, and the memory of machine tiers.
 * Pure functions only, shared by the offline spec validator and the simulator so both
 * refuse the same values.
 *
 * Sources:
 * - Supported flags, types, ranges and "Restart required":
 *   https://cloud.google.com/sql/docs/postgres/flags#list-flags-postgres
 * - Machine types (custom tier rules, shared-core memory):
 *   https://cloud.google.com/sql/docs/postgres/instance-settings
 * - Default `max_connections` by memory:
 *   https://cloud.google.com/sql/docs/quotas#postgresql
 * - Flag wire format (`DatabaseFlags.value`: booleans are `on`/`off`):
 *   google/cloud/sql/v1/cloud_sql_resources.proto, message DatabaseFlags.
 */

/** SqlFlagType mirrors google.cloud.sql.v1.SqlFlagType for the types capstan models. */
export type SqlFlagType = "INTEGER" | "STRING" | "BOOLEAN" | "FLOAT";

/** SqlFlagUnit is the unit PostgreSQL reads an integer flag's bare number in. */
export type SqlFlagUnit = "count" | "ms" | "s" | "kB" | "8kB" | "MB";

/**
 * SqlFlagSpec describes one database flag. A memory-relative bound (`maxMemoryFraction`,
 * `minMemoryFraction`) applies on top of `min`/`max` once the tier is known: Cloud SQL
 * checks those flags against the instance's memory, so the static list (`flags.list`)
 * cannot carry them.
 */
export interface SqlFlagSpec {
  readonly name: string;
  readonly type: SqlFlagType;
  /** Inclusive lower bound for INTEGER and FLOAT flags, in `unit`. */
  readonly min?: number;
  /** Inclusive upper bound for INTEGER and FLOAT flags, in `unit`. */
  readonly max?: number;
  readonly unit?: SqlFlagUnit;
  /** Highest value as a fraction of the tier's memory (converted to `unit`). */
  readonly maxMemoryFraction?: number;
  /** Lowest value as a fraction of the tier's memory (converted to `unit`). */
  readonly minMemoryFraction?: number;
  /** For STRING flags, the values accepted. */
  readonly allowedStringValues?: readonly string[];
  /** Whether setting, changing or removing the flag restarts the instance. */
  readonly requiresRestart: boolean;
  /** Database versions (API enum names) the flag applies to. */
  readonly appliesTo: readonly string[];
  readonly inBeta?: boolean;
}

/** POSTGRES_VERSIONS are the Cloud SQL PostgreSQL major versions the catalog covers. */
export const POSTGRES_VERSIONS: readonly string[] = [
  "POSTGRES_12",
  "POSTGRES_13",
  "POSTGRES_14",
  "POSTGRES_15",
  "POSTGRES_16",
  "POSTGRES_17",
];

/** PostgreSQL's INT_MAX, the ceiling of most integer GUCs. */
const INT_MAX = 2_147_483_647;
const PG = POSTGRES_VERSIONS;
const LOG_LEVELS = ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error"];

function flag(spec: Omit<SqlFlagSpec, "appliesTo"> & { appliesTo?: readonly string[] }): SqlFlagSpec {
  return { appliesTo: PG, ...spec };
}

/**
 * SQL_FLAGS are the PostgreSQL flags capstan knows, by name. Ranges follow the Cloud SQL
 * flags table (link in the file header); where Cloud SQL bounds a flag by the instance's
 * memory the fraction is modelled: `shared_buffers` up to 60% of memory and
 * `effective_cache_size` between 10% and 70% of it.
 */
export const SQL_FLAGS: Readonly<Record<string, SqlFlagSpec>> = Object.fromEntries(
  [
    // Connections: each one is a backend process; changing the limit resizes shared memory.
    flag({
      name: "max_connections",
      type: "INTEGER",
      min: 14,
      max: 262_143,
      unit: "count",
      requiresRestart: true,
    }),
    flag({
      name: "shared_buffers",
      type: "INTEGER",
      min: 13_107,
      max: 1_073_741_823,
      unit: "8kB",
      maxMemoryFraction: 0.6,
      requiresRestart: true,
    }),
    flag({
      name: "effective_cache_size",
      type: "INTEGER",
      min: 1,
      max: INT_MAX,
      unit: "8kB",
      minMemoryFraction: 0.1,
      maxMemoryFraction: 0.7,
      requiresRestart: false,
    }),
    flag({ name: "work_mem", type: "INTEGER", min: 64, max: INT_MAX, unit: "kB", requiresRestart: false }),
    flag({
      name: "maintenance_work_mem",
      type: "INTEGER",
      min: 1024,
      max: INT_MAX,
      unit: "kB",
      requiresRestart: false,
    }),
    flag({
      name: "temp_buffers",
      type: "INTEGER",
      min: 100,
      max: 1_073_741_823,
      unit: "8kB",
      requiresRestart: false,
    }),
    flag({
      name: "idle_in_transaction_session_timeout",
      type: "INTEGER",
      min: 0,
      max: INT_MAX,
      unit: "ms",
      requiresRestart: false,
    }),
    flag({
      name: "statement_timeout",
      type: "INTEGER",
      min: 0,
      max: INT_MAX,
      unit: "ms",
      requiresRestart: false,
    }),
    flag({ name: "lock_timeout", type: "INTEGER", min: 0, max: INT_MAX, unit: "ms", requiresRestart: false }),
    flag({
      name: "log_min_duration_statement",
      type: "INTEGER",
      min: -1,
      max: INT_MAX,
      unit: "ms",
      requiresRestart: false,
    }),
    flag({ name: "max_wal_size", type: "INTEGER", min: 2, max: INT_MAX, unit: "MB", requiresRestart: false }),
    flag({
      name: "min_wal_size",
      type: "INTEGER",
      min: 32,
      max: INT_MAX,
      unit: "MB",
      requiresRestart: false,
    }),
    flag({
      name: "checkpoint_timeout",
      type: "INTEGER",
      min: 30,
      max: 86_400,
      unit: "s",
      requiresRestart: false,
    }),
    flag({
      name: "max_locks_per_transaction",
      type: "INTEGER",
      min: 10,
      max: INT_MAX,
      unit: "count",
      requiresRestart: true,
    }),
    flag({
      name: "max_prepared_transactions",
      type: "INTEGER",
      min: 0,
      max: 262_143,
      unit: "count",
      requiresRestart: true,
    }),
    flag({
      name: "max_parallel_workers_per_gather",
      type: "INTEGER",
      min: 0,
      max: 1024,
      unit: "count",
      requiresRestart: false,
    }),
    flag({ name: "random_page_cost", type: "FLOAT", min: 0, max: INT_MAX, requiresRestart: false }),
    flag({ name: "autovacuum", type: "BOOLEAN", requiresRestart: false }),
    flag({ name: "log_connections", type: "BOOLEAN", requiresRestart: false }),
    flag({ name: "log_disconnections", type: "BOOLEAN", requiresRestart: false }),
    flag({ name: "log_lock_waits", type: "BOOLEAN", requiresRestart: false }),
    flag({ name: "cloudsql.iam_authentication", type: "BOOLEAN", requiresRestart: false }),
    flag({
      name: "log_statement",
      type: "STRING",
      allowedStringValues: ["none", "ddl", "mod", "all"],
      requiresRestart: false,
    }),
    flag({
      name: "log_min_error_statement",
      type: "STRING",
      allowedStringValues: [...LOG_LEVELS, "log", "fatal", "panic"],
      requiresRestart: false,
    }),
    flag({
      name: "huge_pages",
      type: "STRING",
      allowedStringValues: ["try", "off"],
      requiresRestart: true,
    }),
  ].map((f) => [f.name, f]),
);

/** SqlTier is a machine tier broken into what capacity checks need. */
export interface SqlTier {
  readonly tier: string;
  /** vCPUs; shared-core tiers count as a fraction. */
  readonly vcpus: number;
  /** Memory in MiB. */
  readonly memoryMiB: number;
  readonly sharedCore: boolean;
}

/**
 * Shared-core and predefined tiers with their memory
 * (https://cloud.google.com/sql/docs/postgres/instance-settings): db-f1-micro 0.6 GB,
 * db-g1-small 1.7 GB; db-n1-standard-N 3.75 GB per vCPU; db-n1-highmem-N 6.5 GB per vCPU.
 */
const SHARED_CORE: Readonly<Record<string, SqlTier>> = {
  "db-f1-micro": { tier: "db-f1-micro", vcpus: 0.2, memoryMiB: 614, sharedCore: true },
  "db-g1-small": { tier: "db-g1-small", vcpus: 0.5, memoryMiB: 1741, sharedCore: true },
};

/**
 * parseSqlTier returns the vCPUs and memory of a tier name (`db-custom-2-7680`,
 * `db-n1-standard-4`, `db-n1-highmem-2`, `db-f1-micro`, `db-g1-small`), or undefined when
 * the name is not one of those shapes. It does not check the custom-tier rules: see
 * {@link checkSqlTier}.
 */
export function parseSqlTier(tier: string): SqlTier | undefined {
  const shared = SHARED_CORE[tier];
  if (shared) return shared;
  const custom = /^db-custom-(\d+)-(\d+)$/.exec(tier);
  if (custom) return { tier, vcpus: Number(custom[1]), memoryMiB: Number(custom[2]), sharedCore: false };
  const predefined = /^db-n1-(standard|highmem)-(\d+)$/.exec(tier);
  if (predefined) {
    const vcpus = Number(predefined[2]);
    const perCpu = predefined[1] === "standard" ? 3840 : 6656;
    return { tier, vcpus, memoryMiB: vcpus * perCpu, sharedCore: false };
  }
  return undefined;
}

/** sqlTierMemoryMiB returns a tier's memory in MiB, or undefined for an unknown tier. */
export function sqlTierMemoryMiB(tier: string): number | undefined {
  return parseSqlTier(tier)?.memoryMiB;
}

/**
 * checkSqlTier returns why a tier is invalid, or undefined when it is valid. Custom
 * tiers follow Cloud SQL's rules: 1 vCPU or an even number up to 96; 0.9 to 6.5 GB of
 * memory per vCPU, a multiple of 256 MB and at least 3.75 GB
 * (https://cloud.google.com/sql/docs/postgres/instance-settings, "Cores" and "Memory").
 */
export function checkSqlTier(tier: string): string | undefined {
  const t = parseSqlTier(tier);
  if (!t) {
    return `unknown tier \`${tier}\`; expected db-custom-<vCPUs>-<MiB>, db-n1-standard-<N>, db-n1-highmem-<N>, db-f1-micro or db-g1-small`;
  }
  if (t.sharedCore) return undefined;
  if (t.vcpus < 1 || t.vcpus > 96 || (t.vcpus !== 1 && t.vcpus % 2 !== 0)) {
    return `tier \`${tier}\` has ${t.vcpus} vCPUs; expected 1 or an even number up to 96`;
  }
  if (t.memoryMiB % 256 !== 0)
    return `tier \`${tier}\` memory ${t.memoryMiB} MiB is not a multiple of 256 MiB`;
  if (t.memoryMiB < 3840)
    return `tier \`${tier}\` has ${t.memoryMiB} MiB; expected at least 3840 MiB (3.75 GB)`;
  const perCpu = t.memoryMiB / t.vcpus;
  if (perCpu < 921.6 || perCpu > 6656) {
    return `tier \`${tier}\` has ${Math.round(perCpu)} MiB per vCPU; expected 922 to 6656 MiB (0.9 to 6.5 GB) per vCPU`;
  }
  return undefined;
}

/**
 * defaultMaxConnections is the `max_connections` Cloud SQL sets when the flag is not
 * given, by tier memory (https://cloud.google.com/sql/docs/quotas#postgresql):
 * db-f1-micro 25, db-g1-small 50, under 6 GB 100, under 7.5 GB 200, under 15 GB 400,
 * under 30 GB 500, under 60 GB 600, under 120 GB 800, then 1000.
 */
export function defaultMaxConnections(tier: string): number | undefined {
  if (tier === "db-f1-micro") return 25;
  if (tier === "db-g1-small") return 50;
  const mib = sqlTierMemoryMiB(tier);
  if (mib === undefined) return undefined;
  const gb = mib / 1024;
  if (gb < 6) return 100;
  if (gb < 7.5) return 200;
  if (gb < 15) return 400;
  if (gb < 30) return 500;
  if (gb < 60) return 600;
  if (gb < 120) return 800;
  return 1000;
}

const UNIT_BYTES: Readonly<Record<SqlFlagUnit, number>> = {
  count: 1,
  ms: 1,
  s: 1,
  kB: 1024,
  "8kB": 8192,
  MB: 1024 * 1024,
};

/**
 * sqlFlagLimits returns the effective inclusive range of a numeric flag, narrowed by
 * the tier's memory when the flag has a memory-relative bound and the tier is known.
 */
export function sqlFlagLimits(
  name: string,
  tier?: string,
): { readonly min: number; readonly max: number } | undefined {
  const spec = SQL_FLAGS[name];
  if (!spec || spec.min === undefined || spec.max === undefined) return undefined;
  let { min, max } = spec;
  const mib = tier === undefined ? undefined : sqlTierMemoryMiB(tier);
  if (mib !== undefined && spec.unit) {
    const inUnits = (fraction: number) => Math.floor((mib * 1024 * 1024 * fraction) / UNIT_BYTES[spec.unit!]);
    if (spec.maxMemoryFraction !== undefined) max = Math.min(max, inUnits(spec.maxMemoryFraction));
    if (spec.minMemoryFraction !== undefined) min = Math.max(min, inUnits(spec.minMemoryFraction));
  }
  return { min, max };
}

function unitText(spec: SqlFlagSpec): string {
  return spec.unit && spec.unit !== "count" ? ` (${spec.unit})` : "";
}

/**
 * checkSqlFlag returns a human message saying why `value` is not valid for flag `name`
 * (and what would be), or undefined when it is valid. `databaseVersion` (e.g.
 * `POSTGRES_15`) rejects flags that do not apply to it; `tier` applies the
 * memory-relative bounds. Values are what the API carries in `DatabaseFlags.value`:
 * integers without units, booleans as `on`/`off`.
 */
export function checkSqlFlag(
  name: string,
  value: string,
  databaseVersion?: string,
  tier?: string,
): string | undefined {
  const spec = SQL_FLAGS[name];
  if (!spec) {
    const near = Object.keys(SQL_FLAGS).filter((k) => k.includes(name) || name.includes(k));
    return `unknown flag \`${name}\`${near.length ? `; did you mean ${near.map((n) => `\`${n}\``).join(", ")}?` : ""}`;
  }
  if (databaseVersion !== undefined && !spec.appliesTo.includes(databaseVersion)) {
    return `flag \`${name}\` does not apply to ${databaseVersion}; it applies to ${spec.appliesTo.join(", ")}`;
  }
  switch (spec.type) {
    case "BOOLEAN":
      return value === "on" || value === "off" ? undefined : `\`${name}\` takes on or off, got \`${value}\``;
    case "STRING": {
      const allowed = spec.allowedStringValues;
      if (!allowed || allowed.includes(value)) return undefined;
      return `\`${name}\` takes one of ${allowed.join(", ")}, got \`${value}\``;
    }
    case "INTEGER":
    case "FLOAT": {
      const integer = spec.type === "INTEGER";
      const re = integer ? /^-?\d+$/ : /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
      const limits = sqlFlagLimits(name, tier);
      const range = limits ? ` between ${limits.min} and ${limits.max}${unitText(spec)}` : "";
      const what = integer ? "an integer" : "a number";
      if (!re.test(value)) return `\`${name}\` takes ${what}${range}, got \`${value}\``;
      const n = Number(value);
      if (limits && (n < limits.min || n > limits.max)) {
        const why =
          tier !== undefined && (spec.maxMemoryFraction !== undefined || spec.minMemoryFraction !== undefined)
            ? ` for tier ${tier}`
            : "";
        return `\`${name}\` must be ${what}${range}${why}, got ${value}`;
      }
      return undefined;
    }
  }
}

/** sqlFlagRequiresRestart says whether changing flag `name` restarts the instance. */
export function sqlFlagRequiresRestart(name: string): boolean {
  return SQL_FLAGS[name]?.requiresRestart ?? false;
}
