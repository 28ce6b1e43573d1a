/**
 * Cloud SQL for PostgreSQL knowledge as data: the database flags (every flag, per database
 * version, as the SQL Admin API's `flags.list` describes it), the database versions, and
 * the memory of machine tiers. Pure functions only, shared by the offline spec validator,
 * `plan`'s live check and the simulator so all refuse the same values.
 *
 * Sources:
 * - The flag catalog: sql-flags.json beside this file, a snapshot in the shape of
 *   `flags.list` (its header names its date and sources; `npm run sql-flags:refresh`
 *   regenerates it from real GCP).
 * - Database versions: enum SqlDatabaseVersion in google/cloud/sql/v1/cloud_sql_resources.proto.
 * - Memory-relative flag bounds and machine types:
 *   https://cloud.google.com/sql/docs/postgres/flags and
 *   https://cloud.google.com/sql/docs/postgres/instance-settings
 * - Default `max_connections` by memory:
 *   https://cloud.google.com/sql/docs/quotas#postgresql
 * - Flag wire format (`DatabaseFlags.value`: booleans are `on`/`off`):
 *   google/cloud/sql/v1/cloud_sql_resources.proto, message DatabaseFlags.
 */
import { readFileSync } from "node:fs";
import { enumName, protoEnum } from "../enums.ts";

/** SqlFlagType is google.cloud.sql.v1.SqlFlagType by name. */
export type SqlFlagType =
  | "BOOLEAN"
  | "STRING"
  | "INTEGER"
  | "NONE"
  | "MYSQL_TIMEZONE_OFFSET"
  | "FLOAT"
  | "REPEATED_STRING";

/**
 * SqlFlag is one item of a `flags.list` answer in its JSON form (google.cloud.sql.v1.Flag
 * in cloud_sql_flags.proto): int64 values are strings, enums are names. A name can have
 * several items, one per definition, each naming the versions it applies to.
 */
export interface SqlFlag {
  /** `sql#flag`. */
  readonly kind?: string;
  readonly name: string;
  readonly type: SqlFlagType;
  /** SqlDatabaseVersion names. */
  readonly appliesTo: readonly string[];
  /** For STRING and REPEATED_STRING flags, the values accepted; none means any. */
  readonly allowedStringValues?: readonly string[];
  /** Inclusive lower bound (Int64Value) for INTEGER and FLOAT flags. */
  readonly minValue?: string;
  /** Inclusive upper bound (Int64Value) for INTEGER and FLOAT flags. */
  readonly maxValue?: string;
  /** Whether setting, changing or removing the flag restarts the instance. */
  readonly requiresRestart?: boolean;
  /** For INTEGER flags that take only some values. */
  readonly allowedIntValues?: readonly string[];
  readonly inBeta?: boolean;
  /** SqlFlagScope name; `SQL_FLAG_SCOPE_DATABASE` for database flags. */
  readonly flagScope?: string;
}

/** SqlFlagSnapshot is the committed catalog file (sql-flags.json): a `flags.list` answer plus its provenance. */
export interface SqlFlagSnapshot {
  readonly description: string;
  /** The day the items were taken, `YYYY-MM-DD`. */
  readonly snapshotDate: string;
  /** `flags.list` when the refresh script read real GCP; `reconstructed` when built from documentation. */
  readonly origin: string;
  readonly method?: string;
  readonly sources: readonly string[];
  /** The unit PostgreSQL reads a bare number of a flag in (capstan's annotation; flags.list has none). */
  readonly units: Readonly<Record<string, string>>;
  readonly items: readonly SqlFlag[];
}

/**
 * SQL_DATABASE_VERSIONS are every SqlDatabaseVersion value of the proto but the
 * unspecified one, in the proto's order: all of them are accepted in a spec.
 */
export const SQL_DATABASE_VERSIONS: readonly string[] = Object.values(
  protoEnum("sql", "google.cloud.sql.v1.SqlDatabaseVersion"),
)
  .filter((v) => v !== "SQL_DATABASE_VERSION_UNSPECIFIED")
  .sort(compareVersions);

/**
 * compareVersions orders SqlDatabaseVersion names by engine, then by version number
 * (`POSTGRES_9_6` before `POSTGRES_10`), rather than by their enum numbers.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split("_");
  const pb = b.split("_");
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = Number(x);
    const ny = Number(y);
    if (Number.isInteger(nx) && Number.isInteger(ny)) return nx - ny;
    return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * MEMORY_BOUNDS are the flag bounds Cloud SQL sets relative to the instance's memory,
 * which the static `flags.list` cannot carry (https://cloud.google.com/sql/docs/postgres/flags):
 * `shared_buffers` up to 60% of memory, `effective_cache_size` between 10% and 70% of it.
 */
const MEMORY_BOUNDS: Readonly<Record<string, { readonly min?: number; readonly max?: number }>> = {
  shared_buffers: { max: 0.6 },
  effective_cache_size: { min: 0.1, max: 0.7 },
};

/** Bytes per unit of PostgreSQL's GUC units (https://www.postgresql.org/docs/current/config-setting.html). */
const UNIT_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1024,
  "8kB": 8192,
  MB: 1024 * 1024,
  "16MB": 16 * 1024 * 1024,
};

/** FlagCheck is what a catalog says of one flag value: nothing when it is valid. */
export type FlagCheck = string | undefined;

/**
 * SqlFlagCatalog answers questions about flags from one `flags.list` answer: the
 * committed snapshot ({@link SQL_FLAG_SNAPSHOT}) or a live one ({@link SqlFlagCatalog.fromList}).
 */
export class SqlFlagCatalog {
  /** Where the items came from, for messages: e.g. `the flags.list snapshot of 2026-12-03`. */
  readonly source: string;
  readonly #byName = new Map<string, SqlFlag[]>();
  readonly #versions = new Set<string>();
  readonly #units: Readonly<Record<string, string>>;

  constructor(items: readonly SqlFlag[], source: string, units: Readonly<Record<string, string>> = {}) {
    this.source = source;
    this.#units = units;
    for (const item of items) {
      if (item.flagScope === "SQL_FLAG_SCOPE_CONNECTION_POOL") continue;
      const list = this.#byName.get(item.name) ?? [];
      list.push(item);
      this.#byName.set(item.name, list);
      for (const v of item.appliesTo) this.#versions.add(v);
    }
  }

  /**
   * fromList builds a catalog from a live `flags.list` answer, decoded by the client
   * (enums may be names or numbers, int64 strings or numbers), keeping the snapshot's units.
   */
  static fromList(items: readonly Record<string, unknown>[], source: string): SqlFlagCatalog {
    return new SqlFlagCatalog(items.map(flagFromJson), source, SQL_FLAG_SNAPSHOT_FILE.units);
  }

  /** names lists every flag name, sorted. */
  names(): string[] {
    return [...this.#byName.keys()].sort();
  }

  /** has says whether a flag of that name exists for any version. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /** covers says whether the catalog knows any flag of a database version. */
  covers(version: string): boolean {
    return this.#versions.has(version);
  }

  /** items returns every definition of a flag (one per set of versions). */
  items(name: string): readonly SqlFlag[] {
    return this.#byName.get(name) ?? [];
  }

  /** unit is the unit PostgreSQL reads a bare number of the flag in, if it has one. */
  unit(name: string): string | undefined {
    return this.#units[name];
  }

  /** flag returns the definition of a flag for a version, or undefined when none applies. */
  flag(name: string, version: string): SqlFlag | undefined {
    return this.items(name).find((f) => f.appliesTo.includes(version));
  }

  /**
   * limits returns the effective inclusive range of a numeric flag for a version (the
   * newest definition when none is given), narrowed by the tier's memory when the flag
   * has a memory-relative bound and the tier is known.
   */
  limits(
    name: string,
    tier?: string,
    version?: string,
  ): { readonly min: number; readonly max: number } | undefined {
    const f = version === undefined ? this.items(name).at(-1) : this.flag(name, version);
    if (!f || f.minValue === undefined || f.maxValue === undefined) return undefined;
    let min = Number(f.minValue);
    let max = Number(f.maxValue);
    const bound = MEMORY_BOUNDS[name];
    const bytes = UNIT_BYTES[this.unit(name) ?? ""];
    const mib = tier === undefined ? undefined : sqlTierMemoryMiB(tier);
    if (bound && bytes && mib !== undefined) {
      const inUnits = (fraction: number) => Math.floor((mib * 1024 * 1024 * fraction) / bytes);
      if (bound.max !== undefined) max = Math.min(max, inUnits(bound.max));
      if (bound.min !== undefined) min = Math.max(min, inUnits(bound.min));
    }
    return { min, max };
  }

  /**
   * requiresRestart says whether setting, changing or removing a flag restarts the
   * instance on that version; without a version, whether it does on any.
   */
  requiresRestart(name: string, version?: string): boolean {
    const f = version === undefined ? undefined : this.flag(name, version);
    if (f) return f.requiresRestart ?? false;
    return this.items(name).some((i) => i.requiresRestart ?? false);
  }

  /**
   * unknown returns the message for a flag name the catalog does not have, naming the
   * flags whose names contain it or are contained in it (the spec validator adds the
   * nearest by edit distance when none does).
   */
  unknown(name: string): string {
    const near = this.names().filter((k) => k.includes(name) || name.includes(k));
    return `unknown flag \`${name}\`${near.length ? `; did you mean ${near.map((n) => `\`${n}\``).join(", ")}?` : ""}`;
  }

  /**
   * check returns why `value` is not valid for flag `name` (and what would be), or
   * undefined when it is. `version` (e.g. `POSTGRES_15`) picks the definition; one the
   * catalog has no flag for at all (a version newer than the snapshot, or another engine)
   * is not judged, since the catalog cannot know its flags. Without a version a value is
   * valid when some definition accepts it. `tier` applies the memory-relative bounds.
   * Values are what the API carries in `DatabaseFlags.value`: integers without units,
   * booleans as `on`/`off`, a repeated string as a comma-separated list; `null` asks only
   * whether the flag exists (to remove it).
   */
  check(name: string, value: string | null, version?: string, tier?: string): FlagCheck {
    if (version !== undefined && !this.covers(version)) return undefined;
    const items = this.items(name);
    if (items.length === 0) return this.unknown(name);
    if (version !== undefined) {
      const f = this.flag(name, version);
      if (!f) {
        return `flag \`${name}\` does not apply to ${version}; it applies to ${versionList(items.flatMap((i) => i.appliesTo))}`;
      }
      return value === null ? undefined : this.#checkValue(f, value, tier, version);
    }
    if (value === null) return undefined;
    // Valid when some version takes it; otherwise say what the definition most versions
    // share would take.
    const widest = [...items].sort((a, b) => b.appliesTo.length - a.appliesTo.length);
    const problems = widest.map((f) => this.#checkValue(f, value, tier, f.appliesTo.at(-1)));
    return problems.includes(undefined) ? undefined : problems[0];
  }

  #checkValue(f: SqlFlag, value: string, tier: string | undefined, version: string | undefined): FlagCheck {
    const name = f.name;
    switch (f.type) {
      case "BOOLEAN":
        return value === "on" || value === "off"
          ? undefined
          : `\`${name}\` takes on or off, got \`${value}\``;
      case "NONE":
        return value === "" ? undefined : `\`${name}\` takes no value, got \`${value}\``;
      case "STRING": {
        const allowed = f.allowedStringValues;
        if (!allowed?.length || allowed.includes(value)) return undefined;
        return `\`${name}\` takes one of ${allowed.join(", ")}, got \`${value}\``;
      }
      case "REPEATED_STRING": {
        const allowed = f.allowedStringValues;
        if (!allowed?.length) return undefined;
        const bad = value
          .split(",")
          .map((v) => v.trim())
          .filter((v) => !allowed.includes(v));
        if (bad.length === 0) return undefined;
        return `\`${name}\` takes a comma-separated list of ${allowed.join(", ")}, got \`${bad.join(",")}\``;
      }
      case "MYSQL_TIMEZONE_OFFSET":
        return /^[+-](0\d|1[0-4]):[0-5]\d$/.test(value)
          ? undefined
          : `\`${name}\` takes an offset such as +01:00, got \`${value}\``;
      case "INTEGER":
      case "FLOAT": {
        const integer = f.type === "INTEGER";
        const re = integer ? /^-?\d+$/ : /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
        const limits = this.limits(name, tier, version);
        const unit = this.unit(name);
        const unitText = unit ? ` (${unit})` : "";
        const range = limits ? ` between ${limits.min} and ${limits.max}${unitText}` : "";
        const what = integer ? "an integer" : "a number";
        if (!re.test(value)) return `\`${name}\` takes ${what}${range}, got \`${value}\``;
        const n = Number(value);
        if (f.allowedIntValues?.length && !f.allowedIntValues.map(Number).includes(n)) {
          return `\`${name}\` takes one of ${f.allowedIntValues.join(", ")}, got ${value}`;
        }
        if (limits && (n < limits.min || n > limits.max)) {
          const why = tier !== undefined && MEMORY_BOUNDS[name] ? ` for tier ${tier}` : "";
          return `\`${name}\` must be ${what}${range}${why}, got ${value}`;
        }
        return undefined;
      }
      default:
        return undefined;
    }
  }
}

/** versionList prints versions compactly, in the proto's order. */
function versionList(versions: readonly string[]): string {
  const set = new Set(versions);
  return [...set].sort(compareVersions).join(", ");
}

const SQL_FLAG_TYPES: readonly SqlFlagType[] = [
  "BOOLEAN",
  "STRING",
  "INTEGER",
  "NONE",
  "MYSQL_TIMEZONE_OFFSET",
  "FLOAT",
  "REPEATED_STRING",
];
const DATABASE_VERSION = protoEnum("sql", "google.cloud.sql.v1.SqlDatabaseVersion");
const FLAG_TYPE = protoEnum("sql", "google.cloud.sql.v1.SqlFlagType");
const FLAG_SCOPE = protoEnum("sql", "google.cloud.sql.v1.SqlFlagScope");

/** wrapperValue reads a google.protobuf wrapper as the client decodes it: `{value}` or the bare value. */
function wrapperValue(v: unknown): unknown {
  return v !== null && typeof v === "object" && "value" in v ? (v as { value: unknown }).value : v;
}

/**
 * flagFromJson reads one `flags.list` item as a client library decodes it (enum names or
 * numbers, wrappers as `{value}`, int64 as strings, numbers or Long objects) into a {@link SqlFlag}.
 */
export function flagFromJson(raw: Record<string, unknown>): SqlFlag {
  const str = (v: unknown) => {
    const w = wrapperValue(v);
    return w === undefined || w === null || w === "" ? undefined : String(w);
  };
  const type = enumName(raw["type"], FLAG_TYPE) as SqlFlagType | undefined;
  const bool = (v: unknown) => {
    const w = wrapperValue(v);
    return typeof w === "boolean" ? w : undefined;
  };
  const list = (v: unknown) => (Array.isArray(v) ? v : []);
  const flag: Record<string, unknown> = {
    ...(typeof raw["kind"] === "string" && raw["kind"] ? { kind: raw["kind"] } : {}),
    name: String(raw["name"] ?? ""),
    type: type && SQL_FLAG_TYPES.includes(type) ? type : "STRING",
    appliesTo: list(raw["appliesTo"]).flatMap((v) => enumName(v, DATABASE_VERSION) ?? []),
  };
  const allowed = list(raw["allowedStringValues"]).map(String);
  if (allowed.length) flag["allowedStringValues"] = allowed;
  const min = str(raw["minValue"]);
  const max = str(raw["maxValue"]);
  if (min !== undefined) flag["minValue"] = min;
  if (max !== undefined) flag["maxValue"] = max;
  const restart = bool(raw["requiresRestart"]);
  if (restart !== undefined) flag["requiresRestart"] = restart;
  const ints = list(raw["allowedIntValues"]).map(String);
  if (ints.length) flag["allowedIntValues"] = ints;
  const beta = bool(raw["inBeta"]);
  if (beta !== undefined) flag["inBeta"] = beta;
  const scope = enumName(raw["flagScope"], FLAG_SCOPE);
  if (scope !== undefined) flag["flagScope"] = scope;
  return flag as unknown as SqlFlag;
}

/** SQL_FLAG_SNAPSHOT_FILE is the committed catalog file, parsed. */
export const SQL_FLAG_SNAPSHOT_FILE: SqlFlagSnapshot = JSON.parse(
  readFileSync(new URL("./sql-flags.json", import.meta.url), "utf8"),
) as SqlFlagSnapshot;

/** SQL_FLAG_SNAPSHOT is the committed catalog: what offline validation and the simulator use. */
export const SQL_FLAG_SNAPSHOT = new SqlFlagCatalog(
  SQL_FLAG_SNAPSHOT_FILE.items,
  `the flags.list snapshot of ${SQL_FLAG_SNAPSHOT_FILE.snapshotDate}`,
  SQL_FLAG_SNAPSHOT_FILE.units,
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

/** sqlFlagLimits is {@link SqlFlagCatalog.limits} of the snapshot. */
export function sqlFlagLimits(
  name: string,
  tier?: string,
  version?: string,
): { readonly min: number; readonly max: number } | undefined {
  return SQL_FLAG_SNAPSHOT.limits(name, tier, version);
}

/** checkSqlFlag is {@link SqlFlagCatalog.check} of the snapshot. */
export function checkSqlFlag(
  name: string,
  value: string | null,
  databaseVersion?: string,
  tier?: string,
): FlagCheck {
  return SQL_FLAG_SNAPSHOT.check(name, value, databaseVersion, tier);
}

/** sqlFlagRequiresRestart is {@link SqlFlagCatalog.requiresRestart} of the snapshot. */
export function sqlFlagRequiresRestart(name: string, version?: string): boolean {
  return SQL_FLAG_SNAPSHOT.requiresRestart(name, version);
}
