import type { Command } from "commander";
import type { GoogleAuth } from "google-auth-library";
import { type Clock, ScaledClock } from "../clock/index.ts";
import { type Gcp, gcpAccess } from "../gcp/access.ts";
import { GcpCaller } from "../gcp/call.ts";
import { createClients, type GcpClients } from "../gcp/clients.ts";
import { type CredentialInfo, resolveCredentials } from "../gcp/credentials.ts";
import { type QuotaOverride, quotasOf } from "../gcp/quotas.ts";
import { RateLimiter } from "../gcp/ratelimit.ts";
import type { Reconcilers } from "../plan/build.ts";
import { RECONCILERS } from "../reconcilers/index.ts";
import type { SpecSet } from "../spec/types.ts";
import { UserError } from "./errors.ts";

/** RuntimeOptions are the global flags that shape how capstan reaches GCP. */
export interface RuntimeOptions {
  /** The simulator's (or any custom) endpoint; real GCP when undefined. */
  readonly endpoint?: string | undefined;
  /**
   * Clock speed, for rehearsals against a simulator running with the same time scale.
   * @default process.env.CAPSTAN_TIME_SCALE, else 1
   */
  readonly timeScale?: number | undefined;
  /** Per-API per-minute limit overrides. */
  readonly limits?: Readonly<Record<string, QuotaOverride>> | undefined;
  /** An existing clock (tests and the in-process demo share one with the simulator). */
  readonly clock?: Clock | undefined;
  /** Clock time to start from, in epoch ms (a simulator's current time, to share its timeline). */
  readonly epoch?: number | undefined;
  /** The bearer token sent to a custom endpoint (see GcpClientOptions). */
  readonly placeholderToken?: string | undefined;
  /**
   * The project google-auth-library reports as the default one. capstan names the
   * project in every call; stating one spares the library its lookups (environment,
   * `gcloud config`, the metadata server) on every start.
   */
  readonly projectId?: string | undefined;
  /**
   * Against real GCP, resolve Application Default Credentials into a token before the
   * first call, so a missing or refused credential is one clear message up front.
   * `identify` also asks who they belong to (`capstan doctor`).
   * @default "check"
   */
  readonly credentials?: "check" | "identify" | "skip";
}

/** SimulatorTime is what a capstan simulator says of its clock (`GET /__sim/time`). */
export interface SimulatorTime {
  readonly now: number;
  readonly scale: number;
}

/**
 * simulatorTime asks a capstan simulator for its current time and time scale, so a
 * capstan pointed at it runs on the same timeline: operation durations, settle times,
 * metric windows and maintenance windows then agree. Any other endpoint (real GCP, a
 * proxy) answers otherwise, and capstan keeps its own clock.
 */
export async function simulatorTime(endpoint: string): Promise<SimulatorTime | undefined> {
  try {
    const res = await fetch(new URL("/__sim/time", endpoint), { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { now?: unknown; scale?: unknown };
    if (typeof body.now !== "number") return undefined;
    return { now: body.now, scale: typeof body.scale === "number" ? body.scale : 1 };
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
  /** Who capstan runs as; undefined when not resolved (the simulator, or `credentials: "skip"`). */
  readonly credentials: CredentialInfo | undefined;
  close(): Promise<void>;
}

/**
 * timeScaleOf reads the time scale: the flag, else CAPSTAN_TIME_SCALE, else 1.
 * A value that is not a number > 0 is a user error naming where it came from.
 */
export function timeScaleOf(flag: number | undefined): number {
  const env = process.env["CAPSTAN_TIME_SCALE"];
  const scale = flag ?? (env === undefined ? 1 : Number(env));
  if (!(scale > 0) || !Number.isFinite(scale)) {
    const from = flag === undefined ? `CAPSTAN_TIME_SCALE=${env}` : `--time-scale ${flag}`;
    throw new UserError(`${from}: the time scale must be a number > 0`);
  }
  return scale;
}

/** createRuntime builds clients, rate limits and retries for one command run, with no check. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const scale = timeScaleOf(options.timeScale);
  const clock =
    options.clock ??
    new ScaledClock({ scale, ...(options.epoch === undefined ? {} : { epoch: options.epoch }) });
  const clients = createClients({
    endpoint: options.endpoint,
    projectId: options.projectId,
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
    credentials: undefined,
    close: () => clients.close(),
  };
}

/**
 * openRuntime builds the runtime of a command and checks, before any API call, what
 * would otherwise fail in the middle of it:
 * - against a capstan simulator, that its time scale is capstan's (otherwise capstan's
 *   timeouts, settle times and polls run on another timeline than its operations: a
 *   3-minute restart "does not finish within 1800 s" at 100×), and capstan starts at the
 *   simulator's time;
 * - against real GCP, that Application Default Credentials resolve into a token.
 */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const scale = timeScaleOf(options.timeScale);
  let epoch = options.epoch;
  if (options.endpoint && !options.clock) {
    const sim = await simulatorTime(options.endpoint);
    if (sim && sim.scale !== scale) {
      throw new UserError(
        `the simulator at ${options.endpoint} runs at time scale ${sim.scale}, capstan at ${scale}: their timeouts and operations would not agree. Run capstan with --time-scale ${sim.scale} (or restart the simulator with --time-scale ${scale})`,
      );
    }
    epoch ??= sim?.now;
  }
  const rt = createRuntime({ ...options, timeScale: scale, epoch });
  if (options.endpoint || options.credentials === "skip") return rt;
  try {
    const credentials = await resolveCredentials(rt.clients.auth as GoogleAuth, {
      identify: options.credentials === "identify",
    });
    return { ...rt, credentials };
  } catch (err) {
    await rt.close().catch(() => {});
    throw err;
  }
}

/** RuntimeFactory opens the runtime of a command, for the specs it loaded. */
export type RuntimeFactory = (cmd: Command, specs?: SpecSet) => Promise<Runtime>;

/** GlobalFlags are the options every command takes (see buildProgram). */
export interface GlobalFlags {
  readonly endpoint?: string;
  readonly timeScale?: string;
  readonly limit?: string[];
}

/** runtimeOptionsOf reads the global flags of a command into {@link RuntimeOptions}. */
export function runtimeOptionsOf(cmd: Command): RuntimeOptions {
  const g = cmd.optsWithGlobals<GlobalFlags>();
  return {
    endpoint: g.endpoint ?? process.env["CAPSTAN_GCP_ENDPOINT"],
    limits: parseLimits(g.limit ?? []),
    timeScale: g.timeScale === undefined ? undefined : Number(g.timeScale),
  };
}

/**
 * parseLimits reads `--limit api:category=perMinute` flags, e.g.
 * `run.googleapis.com:write=60` or `sqladmin.googleapis.com:mutate=60`, into rate limiter
 * overrides: `read` and `write` set every read or write category of the API, any other
 * name one category (src/gcp/quotas.ts lists them).
 */
export function parseLimits(flags: readonly string[]): Record<string, QuotaOverride> {
  const out: Record<
    string,
    { readPerMinute?: number; writePerMinute?: number; perMinute?: Record<string, number> }
  > = {};
  for (const f of flags) {
    const m = /^([a-z0-9.-]+\.googleapis\.com):([A-Za-z]+)=(\d+(?:\.\d+)?)$/.exec(f);
    const categories = m ? Object.keys(quotasOf(m[1]!).categories) : [];
    if (!m || Number(m[3]) < 1 || !["read", "write", ...categories].includes(m[2]!)) {
      const valid = m
        ? ` (for ${m[1]}: read, write${categories.length ? `, ${categories.join(", ")}` : ""})`
        : "";
      throw new UserError(
        `--limit must look like run.googleapis.com:write=60 (an API, a quota category${valid}, and calls per minute >= 1), got \`${f}\``,
      );
    }
    const entry = out[m[1]!] ?? {};
    out[m[1]!] = entry;
    const n = Number(m[3]);
    if (m[2] === "read") entry.readPerMinute = n;
    else if (m[2] === "write") entry.writePerMinute = n;
    else entry.perMinute = { ...(entry.perMinute ?? {}), [m[2]!]: n };
  }
  return out;
}
