/**
 * GCP's default API rate quotas, as GCP counts them: per API, per category of method, per
 * minute, per project or per region (Cloud SQL also per user). This is the one place the
 * numbers live: capstan's rate limiter (src/gcp/ratelimit.ts) budgets its calls by them
 * and the simulator (src/sim/core/quotas.ts) enforces them, so a client tuned against
 * the simulator stays within what a fresh project is allowed. Each figure cites the page
 * it comes from.
 */

/** QuotaScope says what GCP counts a quota per, beside the project. */
export type QuotaScope = "project" | "region";

/** QuotaCategory is one quota of an API: a group of methods sharing a per-minute limit. */
export interface QuotaCategory {
  /** Whether its methods are writes; `--limit API:write=N` sets every write category. */
  readonly write: boolean;
  /** Default requests per minute. */
  readonly perMinute: number;
  /** Per project, or per project and region. */
  readonly scope: QuotaScope;
  /** GCP also counts it per user (per identity) within the project. */
  readonly perUser?: boolean;
  /** The quota's display name, as GCP's quota answers and the console name it. */
  readonly quota: string;
  /** The limit's display name. */
  readonly limit: string;
  /** The quota metric, where the documentation names it. */
  readonly metric?: string;
  /** Where the figure comes from. */
  readonly source: string;
}

/** QuotaCall is what decides a call's category: its verb, whether it reads an operation, whether it writes. */
export interface QuotaCall {
  /** The method's verb, lower case: `get`, `list`, `patch`, `wait`, ... */
  readonly verb: string;
  /** It reads or waits for a long-running operation. */
  readonly operation: boolean;
  readonly write: boolean;
}

/** ApiQuotas are the rate quotas of one API and how its methods fall into them. */
export interface ApiQuotas {
  readonly categories: Readonly<Record<string, QuotaCategory>>;
  /** categoryOf names the category a call counts against. */
  categoryOf(call: QuotaCall): string;
}

const SQL_QUOTAS = "https://cloud.google.com/sql/docs/quotas#api-rate-quotas";
const COMPUTE_QUOTAS = "https://cloud.google.com/compute/api-quota";
const RUN_QUOTAS = "https://cloud.google.com/run/quotas#api";

/**
 * readWriteQuotas are the two quotas of an API that counts reads and writes apart
 * ("Read requests" and "Write requests", each `limits`, e.g. "per minute per region").
 */
function readWriteQuotas(o: {
  readonly read: number;
  readonly write: number;
  readonly scope: QuotaScope;
  readonly limits: string;
  readonly source: string;
}): ApiQuotas {
  const category = (write: boolean): QuotaCategory => {
    const quota = write ? "Write requests" : "Read requests";
    return {
      write,
      perMinute: write ? o.write : o.read,
      scope: o.scope,
      quota,
      limit: `${quota} ${o.limits}`,
      source: o.source,
    };
  };
  return {
    categories: { read: category(false), write: category(true) },
    categoryOf: (c) => (c.write ? "write" : "read"),
  };
}

/**
 * API_QUOTAS are GCP's documented defaults for the APIs capstan calls.
 *
 * - Cloud SQL Admin API: rate quotas per minute, per user, per region, by category: get
 *   500, list 500, mutate 180; `operations.get` counts as a get (SQL_QUOTAS). A call about
 *   an instance counts in the instance's region; a project-wide list in "global".
 * - Compute Engine API: rate quotas per project, per group of methods
 *   (COMPUTE_QUOTAS, "Rate quotas for global metrics"): Queries (global mutation methods,
 *   `compute.googleapis.com/default`, defaultPerMinutePerProject) 1,500; Read requests
 *   (global *.get, `read_requests`) 1,500; List requests (global *.list, `list_requests`)
 *   1,500; Operation read requests (globalOperations.get, `operation_read_requests`) 1,500.
 *   A regional method (regionNetworkEndpointGroups.get) counts against the regional group
 *   of the same kind, which capstan budgets with the same figure per region.
 * - Cloud Run Admin API: per project and region (RUN_QUOTAS): "Read requests per minute
 *   per region" 1,000; "Write requests per minute per region" depends on the region, 60
 *   in some regions and more in others. capstan cannot learn a project's regional figure
 *   without the Cloud Quotas API, so it budgets the lowest default, 60; raise it with
 *   `--limit run.googleapis.com:write=N` where your region allows more.
 * - Serverless VPC Access API: 1,200 reads and 60 writes per minute
 *   (https://cloud.google.com/vpc/docs/serverless-vpc-access#quotas); writes are rare.
 * - Secret Manager API: 600 read (metadata) requests per minute; capstan never accesses
 *   payloads, whose own quota is separate (https://cloud.google.com/secret-manager/quotas).
 * - Cloud Monitoring API: 6,000 time series reads per minute
 *   (https://cloud.google.com/monitoring/quotas).
 */
export const API_QUOTAS: Readonly<Record<string, ApiQuotas>> = {
  "sqladmin.googleapis.com": {
    categories: {
      get: {
        write: false,
        perMinute: 500,
        scope: "region",
        perUser: true,
        quota: "Get requests",
        limit: "Get requests per minute per user per region",
        source: SQL_QUOTAS,
      },
      list: {
        write: false,
        perMinute: 500,
        scope: "region",
        perUser: true,
        quota: "List requests",
        limit: "List requests per minute per user per region",
        source: SQL_QUOTAS,
      },
      mutate: {
        write: true,
        perMinute: 180,
        scope: "region",
        perUser: true,
        quota: "Mutate requests",
        limit: "Mutate requests per minute per user per region",
        source: SQL_QUOTAS,
      },
    },
    categoryOf: (c) => (c.write ? "mutate" : c.verb === "list" ? "list" : "get"),
  },
  "compute.googleapis.com": {
    categories: {
      mutate: {
        write: true,
        perMinute: 1500,
        scope: "project",
        quota: "Queries",
        limit: "Queries per minute",
        metric: "compute.googleapis.com/default",
        source: COMPUTE_QUOTAS,
      },
      get: {
        write: false,
        perMinute: 1500,
        scope: "project",
        quota: "Read requests",
        limit: "Read requests per minute",
        metric: "compute.googleapis.com/read_requests",
        source: COMPUTE_QUOTAS,
      },
      list: {
        write: false,
        perMinute: 1500,
        scope: "project",
        quota: "List requests",
        limit: "List requests per minute",
        metric: "compute.googleapis.com/list_requests",
        source: COMPUTE_QUOTAS,
      },
      operationGet: {
        write: false,
        perMinute: 1500,
        scope: "project",
        quota: "Operation read requests",
        limit: "Operation read requests per minute",
        metric: "compute.googleapis.com/operation_read_requests",
        source: COMPUTE_QUOTAS,
      },
    },
    // globalOperations.wait is a POST that reads an operation: it counts as one.
    categoryOf: (c) =>
      c.operation && (c.verb === "get" || c.verb === "wait")
        ? "operationGet"
        : c.verb === "list"
          ? "list"
          : c.write
            ? "mutate"
            : "get",
  },
  "run.googleapis.com": readWriteQuotas({
    read: 1000,
    write: 60,
    scope: "region",
    limits: "per minute per region",
    source: RUN_QUOTAS,
  }),
  "vpcaccess.googleapis.com": readWriteQuotas({
    read: 1200,
    write: 60,
    scope: "project",
    limits: "per minute",
    source: "https://cloud.google.com/vpc/docs/serverless-vpc-access#quotas",
  }),
  "secretmanager.googleapis.com": readWriteQuotas({
    read: 600,
    write: 600,
    scope: "project",
    limits: "per minute per project",
    source: "https://cloud.google.com/secret-manager/quotas",
  }),
  "monitoring.googleapis.com": {
    categories: {
      read: {
        write: false,
        perMinute: 6000,
        scope: "project",
        quota: "Time series queries",
        limit: "Time series queries per minute",
        source: "https://cloud.google.com/monitoring/quotas",
      },
    },
    categoryOf: () => "read",
  },
};

/**
 * FALLBACK_QUOTAS budget an API the table does not list (capstan's own calls to one, such
 * as `capstan doctor`'s Service Usage and Resource Manager reads): a handful of calls,
 * kept well below any API's documented default.
 */
export const FALLBACK_QUOTAS: ApiQuotas = readWriteQuotas({
  read: 600,
  write: 60,
  scope: "project",
  limits: "per minute",
  source: "capstan's own ceiling for an API without a listed default",
});

/**
 * QuotaOverride changes an API's per-minute limits: `readPerMinute` / `writePerMinute`
 * set every read / write category, `perMinute` one category by name (and wins).
 */
export interface QuotaOverride {
  readonly readPerMinute?: number;
  readonly writePerMinute?: number;
  readonly perMinute?: Readonly<Record<string, number>>;
}

/** quotasOf returns an API's quotas, the fallback for an API the table does not list. */
export function quotasOf(api: string): ApiQuotas {
  return API_QUOTAS[api] ?? FALLBACK_QUOTAS;
}

/** limitOf is the per-minute limit of one category, after an override. */
export function limitOf(category: QuotaCategory, name: string, override: QuotaOverride | undefined): number {
  return (
    override?.perMinute?.[name] ??
    (category.write ? override?.writePerMinute : override?.readPerMinute) ??
    category.perMinute
  );
}

/**
 * validateOverride checks an override against an API's categories, with the exact
 * message a user needs (`what`, e.g. `limits["run.googleapis.com"]`, names it).
 */
export function validateOverride(api: string, override: QuotaOverride, what: string): void {
  const categories = quotasOf(api).categories;
  const check = (key: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 1) {
      throw new TypeError(`Expected \`${what}.${key}\` to be a number >= 1, got \`${String(v)}\``);
    }
  };
  if (override.readPerMinute !== undefined) check("readPerMinute", override.readPerMinute);
  if (override.writePerMinute !== undefined) check("writePerMinute", override.writePerMinute);
  for (const [name, v] of Object.entries(override.perMinute ?? {})) {
    if (!(name in categories)) {
      throw new TypeError(
        `Expected \`${what}.perMinute\` to name one of ${Object.keys(categories).join(", ")}, got \`${name}\``,
      );
    }
    check(`perMinute.${name}`, v);
  }
}

/** verbOf is the lower-case first word of a method name: `GetService` → `get`, `list` → `list`. */
function verbOf(name: string): string {
  return (/^[A-Za-z][a-z]*/.exec(name)?.[0] ?? name).toLowerCase();
}

/**
 * quotaCallOfMethod describes a call capstan makes, by its CallMeta method
 * (`globalOperations.get`, `instances.patch`, `services.list`).
 */
export function quotaCallOfMethod(method: string, write: boolean): QuotaCall {
  const dot = method.lastIndexOf(".");
  const resource = method.slice(0, Math.max(0, dot));
  return { verb: verbOf(method.slice(dot + 1)), operation: /operations$/i.test(resource), write };
}

/**
 * quotaCallOfRpc describes a call the simulator serves, by its RPC full name
 * (`google.cloud.compute.v1.GlobalOperations.Get`, `google.cloud.run.v2.Services.GetService`,
 * `google.longrunning.Operations.GetOperation`).
 */
export function quotaCallOfRpc(rpc: string, write: boolean): QuotaCall {
  const parts = rpc.split(".");
  const method = parts.at(-1) ?? "";
  const service = parts.at(-2) ?? "";
  return {
    verb: verbOf(method),
    operation: /operations/i.test(service) || /operation$/i.test(method),
    write,
  };
}
