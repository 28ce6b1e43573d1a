/**
 * sql-flags-refresh regenerates src/gcp/catalog/sql-flags.json, the committed Cloud SQL
 * flag snapshot, from the SQL Admin API's `flags.list` (SqlFlagsService.List,
 * https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/flags/list) through the
 * real @google-cloud/sql client: against real GCP with Application Default Credentials,
 * or against any endpoint (the simulator) with `--endpoint URL`.
 *
 *   npm run sql-flags:refresh [-- --endpoint URL] [--out FILE]
 *
 * It keeps the PostgreSQL items (Cloud SQL answers every engine's flags in one list) of
 * database scope and the snapshot's `units` annotation, which flags.list does not carry.
 */
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import {
  compareVersions,
  flagFromJson,
  SQL_FLAG_SNAPSHOT_FILE,
  type SqlFlag,
  type SqlFlagSnapshot,
} from "../src/gcp/catalog/sql.ts";
import { createClients } from "../src/gcp/clients.ts";

/** SNAPSHOT_PATH is the committed snapshot the script writes by default. */
export const SNAPSHOT_PATH = new URL("../src/gcp/catalog/sql-flags.json", import.meta.url);

/** Options of {@link refreshSqlFlags}. */
export interface RefreshOptions {
  /**
   * Where to send flags.list instead of Google, e.g. the simulator's URL.
   * @default real GCP
   */
  readonly endpoint?: string | undefined;
  /**
   * The snapshot's date.
   * @default today (UTC)
   */
  readonly now?: Date;
}

/**
 * refreshSqlFlags reads flags.list and returns the snapshot it makes: the PostgreSQL
 * items of database scope, sorted by name and first version, each with only its
 * PostgreSQL versions.
 */
export async function refreshSqlFlags(options: RefreshOptions = {}): Promise<SqlFlagSnapshot> {
  const clients = createClients({ endpoint: options.endpoint });
  try {
    // No databaseVersion: one answer with every version's flags.
    const [answer] = await clients.sql.flags.list({});
    const items: SqlFlag[] = [];
    for (const raw of (answer.items ?? []) as Record<string, unknown>[]) {
      const f = flagFromJson(raw);
      const appliesTo = f.appliesTo.filter((v) => v.startsWith("POSTGRES_")).sort(compareVersions);
      if (appliesTo.length === 0 || f.flagScope === "SQL_FLAG_SCOPE_CONNECTION_POOL") continue;
      items.push({ ...f, appliesTo });
    }
    items.sort((a, b) =>
      a.name === b.name ? compareVersions(a.appliesTo[0]!, b.appliesTo[0]!) : a.name < b.name ? -1 : 1,
    );
    const date = (options.now ?? new Date()).toISOString().slice(0, 10);
    const where = options.endpoint ? `the endpoint ${options.endpoint}` : "sqladmin.googleapis.com";
    return {
      description: SQL_FLAG_SNAPSHOT_FILE.description,
      snapshotDate: date,
      origin: "flags.list",
      method: `The PostgreSQL items of database scope of one SQL Admin API flags.list answer (no databaseVersion), read from ${where} with @google-cloud/sql by scripts/sql-flags-refresh.ts. \`units\` is capstan's annotation, kept from the previous snapshot: the unit PostgreSQL reads a bare number of that flag in.`,
      sources: [
        `SQL Admin API v1 flags.list, ${where}, ${date}`,
        ...SQL_FLAG_SNAPSHOT_FILE.sources.filter((s) => s.startsWith("PostgreSQL pg_settings")),
      ],
      units: SQL_FLAG_SNAPSHOT_FILE.units,
      items,
    };
  } finally {
    await clients.close();
  }
}

/**
 * formatSnapshot prints a snapshot as the committed file is laid out: the header
 * indented, then one unit and one item a line, so a refresh diffs flag by flag.
 */
export function formatSnapshot(s: SqlFlagSnapshot): string {
  const { units, items, ...header } = s;
  const head = JSON.stringify(header, null, 2).replace(/\n}$/, "");
  const unitLines = Object.keys(units)
    .sort()
    .map((k) => `    ${JSON.stringify(k)}: ${JSON.stringify(units[k])}`);
  const itemLines = items.map((i) => `    ${JSON.stringify(i)}`);
  return `${head},\n  "units": {\n${unitLines.join(",\n")}\n  },\n  "items": [\n${itemLines.join(",\n")}\n  ]\n}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { endpoint: { type: "string" }, out: { type: "string" } } });
  const snapshot = await refreshSqlFlags({ endpoint: values.endpoint });
  const out = values.out ?? SNAPSHOT_PATH;
  const before = await readFile(out, "utf8").catch(() => "");
  const text = formatSnapshot(snapshot);
  await writeFile(out, text);
  const names = new Set(snapshot.items.map((i) => i.name)).size;
  process.stdout.write(
    `${before === text ? "unchanged" : "wrote"} ${String(out)}: ${snapshot.items.length} items, ${names} flags, ${snapshot.snapshotDate}\n`,
  );
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`sql-flags-refresh: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
