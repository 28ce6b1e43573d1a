import {
  API_QUOTAS,
  type ApiQuotas,
  limitOf,
  type QuotaCategory,
  type QuotaOverride,
  quotaCallOfRpc,
  validateOverride,
} from "../../gcp/quotas.ts";

/**
 * QuotaLimit overrides an API's per-minute limits in a fixture (`quotas:`) or through
 * `PUT /__sim/quotas`: `readPerMinute` / `writePerMinute` set every read / write
 * category of the API, `perMinute` one category by name (see src/gcp/quotas.ts), e.g.
 * `{"sqladmin.googleapis.com": {"perMinute": {"mutate": 60}}}`.
 */
export type QuotaLimit = QuotaOverride;

/** QuotaCheck is the call being counted. */
export interface QuotaCheck {
  readonly api: string;
  /** RPC full name, e.g. `google.cloud.sql.v1.SqlInstancesService.Patch`. */
  readonly rpc: string;
  readonly write: boolean;
  /** The project the call is about (from its path). */
  readonly project: string | undefined;
  /** The region the call counts in, for per-region quotas. */
  readonly location: string | undefined;
  /** The caller, for per-user quotas. */
  readonly user: string;
}

/** QuotaVerdict says whether a call may proceed and, if not, which quota refused it. */
export type QuotaVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly category: QuotaCategory;
      readonly limit: number;
      /** The region counted in, for per-region quotas. */
      readonly location: string | undefined;
    };

const MINUTE = 60_000;

/**
 * Quotas counts calls per (API, quota category, project, and region and user where GCP
 * counts so), with GCP's default limits from src/gcp/quotas.ts (the table capstan's rate
 * limiter budgets by), and refuses a call that would exceed its limit. Refused calls do
 * not count. APIs the table does not list are not limited unless overridden.
 *
 * GCP counts per synchronized minute: a quota reached at 10:00:15 "refills at the start
 * of the next synchronized interval, such as 10:01:00" (https://cloud.google.com/compute/api-quota).
 * The simulator counts in a sliding 60-second window instead, which admits no more in
 * any minute GCP counts, and does not make a test's outcome depend on where the minute
 * boundaries of a real-time clock happen to fall.
 */
export class Quotas {
  #overrides: Record<string, QuotaLimit> = {};
  readonly #windows = new Map<string, number[]>();

  constructor(overrides: Readonly<Record<string, QuotaLimit>> = {}) {
    this.set(overrides);
  }

  /** set replaces the overrides of the named APIs (others are kept) and restarts the windows. */
  set(overrides: Readonly<Record<string, QuotaLimit>>): void {
    for (const [api, o] of Object.entries(overrides)) validateOverride(api, o, `quotas["${api}"]`);
    this.#overrides = { ...this.#overrides, ...overrides };
    this.#windows.clear();
  }

  /** reset drops every override: GCP's defaults apply again. */
  reset(): void {
    this.#overrides = {};
    this.#windows.clear();
  }

  /** limits returns the overrides in force (an API not named has GCP's defaults). */
  get limits(): Readonly<Record<string, QuotaLimit>> {
    return this.#overrides;
  }

  /** describe names the quota a call counts against and its limit, without counting it. */
  describe(call: Omit<QuotaCheck, "user">): { category: QuotaCategory; limit: number } | undefined {
    const quotas = API_QUOTAS[call.api];
    if (!quotas) return undefined;
    const name = quotas.categoryOf(quotaCallOfRpc(call.rpc, call.write));
    const category = quotas.categories[name]!;
    return { category, limit: limitOf(category, name, this.#overrides[call.api]) };
  }

  /** check counts a call at time `now` and says whether it is within quota. */
  check(call: QuotaCheck, now: number): QuotaVerdict {
    const override = this.#overrides[call.api];
    const quotas: ApiQuotas | undefined = API_QUOTAS[call.api];
    if (!quotas && !override) return { ok: true };
    const table = quotas ?? { categories: {}, categoryOf: () => "" };
    const name = quotas
      ? quotas.categoryOf(quotaCallOfRpc(call.rpc, call.write))
      : call.write
        ? "write"
        : "read";
    const category: QuotaCategory = table.categories[name] ?? {
      write: call.write,
      perMinute: Number.POSITIVE_INFINITY,
      scope: "project",
      quota: call.write ? "Write requests" : "Read requests",
      limit: call.write ? "Write requests per minute" : "Read requests per minute",
      source: "fixture override",
    };
    const limit = limitOf(category, name, override);
    if (!Number.isFinite(limit)) return { ok: true };
    const location = category.scope === "region" ? (call.location ?? "global") : undefined;
    const key = [call.api, name, call.project ?? "", location ?? "", category.perUser ? call.user : ""].join(
      "|",
    );
    let window = this.#windows.get(key);
    if (!window) {
      window = [];
      this.#windows.set(key, window);
    }
    while (window.length > 0 && window[0]! <= now - MINUTE) window.shift();
    if (window.length >= limit) {
      return { ok: false, category, limit, location };
    }
    window.push(now);
    return { ok: true };
  }
}
