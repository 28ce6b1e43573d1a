/**
 * QuotaLimit is a per-minute request limit of one API, counted separately for reads
 * (GET) and writes (everything else), optionally per region.
 */
export interface QuotaLimit {
  /** Read requests per minute; omitted means unlimited. */
  readonly readPerMinute?: number;
  /** Write requests per minute; omitted means unlimited. */
  readonly writePerMinute?: number;
  /** Count per region (location in the path) rather than per project. */
  readonly perRegion?: boolean;
}

/**
 * DEFAULT_QUOTAS are close to GCP's published defaults. They are deliberately the
 * per-minute figures GCP documents, so a client tuned against the simulator stays within
 * GCP's limits.
 * - Cloud Run Admin API v2: "Read requests per minute per region" 1000 and "Write
 *   requests per minute per region" 180 (https://cloud.google.com/run/quotas#api).
 * - Cloud SQL Admin API: 180 queries per minute per project for writes are the
 *   documented "mutate" quota; reads are not separately limited beyond the 3000/min
 *   general quota (https://cloud.google.com/sql/docs/quotas#fixed-limits).
 * - Compute Engine: "Read requests per minute" 1500 and "Heavy-weight/Write requests
 *   per minute" 1600 are the usual defaults; writes are effectively further bounded by
 *   operation rate (https://cloud.google.com/compute/api-quota).
 * - Serverless VPC Access: 1200 reads, 60 writes per minute
 *   (https://cloud.google.com/vpc/docs/serverless-vpc-access#quotas): writes are rare.
 * - Secret Manager: 90,000 access and 600 read/admin per minute
 *   (https://cloud.google.com/secret-manager/quotas).
 * - Cloud Monitoring: 6000 time series reads per minute
 *   (https://cloud.google.com/monitoring/quotas).
 */
export const DEFAULT_QUOTAS: Readonly<Record<string, QuotaLimit>> = {
  "run.googleapis.com": { readPerMinute: 1000, writePerMinute: 180, perRegion: true },
  "sqladmin.googleapis.com": { readPerMinute: 3000, writePerMinute: 180 },
  "compute.googleapis.com": { readPerMinute: 1500, writePerMinute: 1600 },
  "vpcaccess.googleapis.com": { readPerMinute: 1200, writePerMinute: 60 },
  "secretmanager.googleapis.com": { readPerMinute: 600, writePerMinute: 600 },
  "monitoring.googleapis.com": { readPerMinute: 6000 },
};

/** QuotaVerdict says whether a call may proceed and, if not, how long until it may. */
export type QuotaVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly retryAfterMs: number;
      readonly metric: string;
      readonly limit: number;
      readonly limitName: string;
    };

const MINUTE = 60_000;

/**
 * Quotas counts calls in a sliding 60-second window of clock time per (API, read/write,
 * region) and refuses a call that would exceed the limit. Refused calls do not count.
 */
export class Quotas {
  #limits: Record<string, QuotaLimit>;
  readonly #windows = new Map<string, number[]>();

  constructor(limits: Readonly<Record<string, QuotaLimit>> = DEFAULT_QUOTAS) {
    this.#limits = { ...limits };
  }

  /** set replaces the limits of the named APIs (others are kept). */
  set(limits: Readonly<Record<string, QuotaLimit>>): void {
    this.#limits = { ...this.#limits, ...limits };
    this.#windows.clear();
  }

  /** limits returns the limits in force. */
  get limits(): Readonly<Record<string, QuotaLimit>> {
    return this.#limits;
  }

  /** check counts a call at time `now` and says whether it is within quota. */
  check(api: string, write: boolean, location: string | undefined, now: number): QuotaVerdict {
    const limit = this.#limits[api];
    const perMinute = write ? limit?.writePerMinute : limit?.readPerMinute;
    if (!limit || perMinute === undefined) return { ok: true };
    const region = limit.perRegion ? (location ?? "global") : "";
    const key = `${api}|${write ? "w" : "r"}|${region}`;
    let window = this.#windows.get(key);
    if (!window) {
      window = [];
      this.#windows.set(key, window);
    }
    while (window.length > 0 && window[0]! <= now - MINUTE) window.shift();
    const kind = write ? "write_requests" : "read_requests";
    if (window.length >= perMinute) {
      return {
        ok: false,
        retryAfterMs: Math.max(1, window[0]! + MINUTE - now),
        metric: `${api}/${kind}`,
        limit: perMinute,
        limitName: `${write ? "Write" : "Read"}RequestsPerMinutePer${limit.perRegion ? "Region" : "Project"}`,
      };
    }
    window.push(now);
    return { ok: true };
  }
}
