import { type Clock, ScaledClock } from "../clock/index.ts";
import { type Gcp, gcpAccess } from "../gcp/access.ts";
import { GcpCaller } from "../gcp/call.ts";
import { createClients, type GcpClients } from "../gcp/clients.ts";
import { type ApiLimit, RateLimiter } from "../gcp/ratelimit.ts";
import type { Reconcilers } from "../plan/build.ts";
import { RECONCILERS } from "../reconcilers/index.ts";
import { UserError } from "./errors.ts";

/** RuntimeOptions are the global flags that shape how capstan reaches GCP. */
export interface RuntimeOptions {
  /** The simulator's (or any custom) endpoint; real GCP when undefined. */
  readonly endpoint?: string | undefined;
  /** Clock speed, for rehearsals against a simulator running with the same time scale. */
  readonly timeScale?: number | undefined;
  /** Per-API per-minute limit overrides. */
  readonly limits?: Readonly<Record<string, Partial<ApiLimit>>> | undefined;
  /** An existing clock (tests and the in-process demo share one with the simulator). */
  readonly clock?: Clock | undefined;
  /** Clock time to start from, in epoch ms (a simulator's current time, to share its timeline). */
  readonly epoch?: number | undefined;
  /** The bearer token sent to a custom endpoint (see GcpClientOptions). */
  readonly placeholderToken?: string | undefined;
}

/**
 * simulatorNow asks a capstan simulator for its current time (`GET /__sim/time`), so a
 * capstan pointed at it with a time scale runs on the same timeline: operation
 * durations, settle times, metric windows and maintenance windows then agree. Any other
 * endpoint (real GCP, a proxy) answers otherwise, and capstan keeps its own clock.
 */
export async function simulatorNow(endpoint: string): Promise<number | undefined> {
  try {
    const res = await fetch(new URL("/__sim/time", endpoint), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { now?: unknown };
    return typeof body.now === "number" ? body.now : undefined;
  } catch {
    return undefined;
  }
}

/** Runtime is everything a command needs to talk to GCP. */
export interface Runtime {
  readonly clock: Clock;
  /** How many times faster than real time the clock runs (1 outside rehearsals). */
  readonly timeScale: number;
  readonly clients: GcpClients;
  readonly limiter: RateLimiter;
  readonly caller: GcpCaller;
  readonly gcp: Gcp;
  readonly reconcilers: Reconcilers;
  close(): Promise<void>;
}

/** createRuntime builds clients, rate limits and retries for one command run. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const scale = options.timeScale ?? Number(process.env["CAPSTAN_TIME_SCALE"] ?? 1);
  if (!(scale > 0)) throw new UserError(`--time-scale must be a number > 0, got \`${options.timeScale}\``);
  const clock =
    options.clock ??
    new ScaledClock({ scale, ...(options.epoch === undefined ? {} : { epoch: options.epoch }) });
  const clients = createClients({
    endpoint: options.endpoint,
    ...(options.placeholderToken ? { placeholderToken: options.placeholderToken } : {}),
  });
  const limiter = new RateLimiter({ clock, ...(options.limits ? { limits: options.limits } : {}) });
  const caller = new GcpCaller({ clock, limiter });
  return {
    clock,
    timeScale: scale,
    clients,
    limiter,
    caller,
    gcp: gcpAccess(clients, caller),
    reconcilers: RECONCILERS,
    close: () => clients.close(),
  };
}

/**
 * parseLimits reads `--limit api:kind=perMinute` flags, e.g.
 * `run.googleapis.com:write=60`, into rate limiter overrides.
 */
export function parseLimits(flags: readonly string[]): Record<string, Partial<ApiLimit>> {
  const out: Record<string, { readPerMinute?: number; writePerMinute?: number }> = {};
  for (const f of flags) {
    const m = /^([a-z0-9.-]+\.googleapis\.com):(read|write)=(\d+(?:\.\d+)?)$/.exec(f);
    if (!m || Number(m[3]) < 1) {
      throw new UserError(
        `--limit must look like run.googleapis.com:write=60 (an API, read or write, and calls per minute >= 1), got \`${f}\``,
      );
    }
    const entry = out[m[1]!] ?? {};
    out[m[1]!] = entry;
    if (m[2] === "read") entry.readPerMinute = Number(m[3]);
    else entry.writePerMinute = Number(m[3]);
  }
  return out;
}
