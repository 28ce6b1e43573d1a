import { existsSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { GateHistoryCache } from "../apply/gate-history.ts";
import { monitoringGateReader } from "../apply/gates.ts";
import {
  Controller,
  ControllerMetrics,
  createLogger,
  DirSource,
  GitSource,
  type SpecSource,
  StatusServer,
} from "../controller/index.ts";
import { releaseMemory } from "../controller/memory.ts";
import { parseShard, type Shard, ShardedSource } from "../controller/shard.ts";
import { Dashboard, DashboardFeed } from "../dashboard/index.ts";
import { gcpAccess } from "../gcp/access.ts";
import { GcpCaller } from "../gcp/call.ts";
import type { ExplainSink } from "../gcp/explain.ts";
import { defaultIdentity, LeaseError, openLease, parseLeaseUrl, shardLease } from "../lease/index.ts";
import { parseDuration } from "../spec/units.ts";
import { UserError } from "./errors.ts";
import { openRuntime, runtimeOptionsOf } from "./runtime.ts";

/** RunFlags are the flags of `capstan run`. */
export interface RunFlags {
  readonly specs?: string[];
  readonly git?: string;
  readonly ref: string;
  readonly stateDir?: string;
  readonly lease?: string;
  readonly shard?: string;
  readonly leaseDuration: string;
  readonly renewInterval: string;
  readonly renewDeadline?: string;
  readonly interval: string;
  readonly jitter: string;
  readonly pollInterval: string;
  readonly minPassGap: string;
  readonly backoffBase: string;
  readonly backoffMax: string;
  readonly qps: string;
  readonly burst: string;
  readonly port: string;
  readonly host: string;
  readonly gracePeriod: string;
  readonly maintenanceWindows: string;
  readonly logLevel: string;
  readonly dashboard: boolean;
}

function durationMs(flag: string, value: string): number {
  const s = parseDuration(value);
  if (s === undefined)
    throw new UserError(`--${flag} must be a duration like 30s, 5m or 1h, got \`${value}\``);
  return s * 1000;
}

function positiveDurationMs(flag: string, value: string): number {
  const ms = durationMs(flag, value);
  if (ms <= 0) throw new UserError(`--${flag} must be longer than 0, got \`${value}\``);
  return ms;
}

function number(flag: string, value: string, ok: (n: number) => boolean, expected: string): number {
  const n = Number(value);
  if (value.trim() === "" || !ok(n)) throw new UserError(`--${flag} must be ${expected}, got \`${value}\``);
  return n;
}

/**
 * defaultStateDir is where capstan keeps its lease file, state and git checkout when
 * `--state-dir` is not given: `$XDG_STATE_HOME/capstan` (the XDG Base Directory
 * specification's place for state that outlives a run), else `./.capstan` in the
 * working directory. Never inside the specs: that is the user's git working tree.
 */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const xdg = env["XDG_STATE_HOME"];
  return xdg ? resolve(xdg, "capstan") : resolve(cwd, ".capstan");
}

function inside(dir: string, parent: string): boolean {
  const rel = relative(parent, dir);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"));
}

/** sourceOf builds the spec source and the state folder of the flags. */
function sourceOf(flags: RunFlags, shard: Shard | undefined): { source: SpecSource; stateDir: string } {
  const stateDir = resolve(flags.stateDir ?? defaultStateDir());
  if (flags.git) {
    return {
      source: new GitSource({
        repo: flags.git,
        ref: flags.ref,
        // Shards sharing a state folder must not share one checkout: git would race.
        workdir: join(stateDir, shard ? `checkout-${shard.index}` : "checkout"),
        paths: flags.specs?.length ? flags.specs : ["."],
      }),
      stateDir,
    };
  }
  const paths = flags.specs?.length ? flags.specs : ["specs"];
  for (const p of paths) {
    if (!existsSync(p)) throw new UserError(`--specs ${p}: no such file or directory`);
    if (inside(stateDir, resolve(p))) {
      throw new UserError(
        `the state folder ${stateDir} is inside --specs ${p}: capstan's lease and state would land in your spec files' working tree; pass --state-dir outside it (or set XDG_STATE_HOME)`,
      );
    }
  }
  return { source: new DirSource({ paths }), stateDir };
}

/** registerRun adds `capstan run`; `context` learns its endpoint and credentials, for messages. */
export function registerRun(program: Command, context: ExplainSink = {}): void {
  program
    .command("run")
    .description(
      "reconcile continuously: apply spec changes, correct drift, serve a dashboard and /healthz /readyz /status /metrics",
    )
    .option("--specs <paths...>", "spec files or directories (with --git: inside the repository)")
    .option("--git <url|path>", "follow a git repository instead of local files")
    .option("--ref <ref>", "the branch or tag of --git to follow", "main")
    .option(
      "--state-dir <dir>",
      "where the file lease, state and git checkout live (default: $XDG_STATE_HOME/capstan, else ./.capstan; never inside --specs)",
    )
    .option(
      "--lease <url>",
      "the single-writer lease: gs://BUCKET/OBJECT, k8s://NAMESPACE/NAME or file://PATH (default: file://<state-dir>/lease.json)",
    )
    .option(
      "--shard <i/n>",
      "own only the projects that hash to shard i of n (rendezvous hashing); the lease gets the suffix -i",
    )
    .option(
      "--lease-duration <d>",
      "a lease not renewed for this long may be taken over (real time, whatever --time-scale)",
      "15s",
    )
    .option("--renew-interval <d>", "how often the leader renews, and a standby retries (real time)", "5s")
    .option(
      "--renew-deadline <d>",
      "the leader stops writing when it could not renew for this long (real time; default: 2/3 of --lease-duration)",
    )
    .option("--interval <d>", "time between passes when nothing triggers one", "5m")
    .option("--jitter <fraction>", "up to this fraction of the interval is added at random", "0.1")
    .option("--poll-interval <d>", "how often the specs (or the git ref) are checked for changes", "10s")
    .option("--min-pass-gap <d>", "least time from one pass to the next", "1s")
    .option("--backoff-base <d>", "first retry delay of a failing resource; doubles per failure", "5ms")
    .option("--backoff-max <d>", "longest retry delay", "1000s")
    .option("--qps <n>", "overall reconciles per second", "10")
    .option("--burst <n>", "reconciles that may start at once", "100")
    .option(
      "--port <port>",
      "port of the dashboard, /healthz, /readyz, /status and /metrics (0 picks one)",
      "8080",
    )
    .option("--host <addr>", "address to serve on", "0.0.0.0")
    .option(
      "--grace-period <d>",
      "on SIGTERM, exit within this long, abandoning the call in flight if need be",
      "30s",
    )
    .option(
      "--maintenance-windows <mode>",
      "wait (disruptive changes wait for their window) or ignore",
      "wait",
    )
    .option("--log-level <level>", "trace, debug, info, warn or error", "info")
    .option("--no-dashboard", "serve only /healthz, /readyz, /status and /metrics, not the dashboard at /")
    .action(async (flags: RunFlags, cmd: Command) => {
      if (flags.maintenanceWindows !== "wait" && flags.maintenanceWindows !== "ignore") {
        throw new UserError(
          `--maintenance-windows must be wait or ignore, got \`${flags.maintenanceWindows}\``,
        );
      }
      if (!["trace", "debug", "info", "warn", "error"].includes(flags.logLevel)) {
        throw new UserError(
          `--log-level must be trace, debug, info, warn or error, got \`${flags.logLevel}\``,
        );
      }
      const port = number(
        "port",
        flags.port,
        (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
        "an integer from 0 to 65535",
      );
      const jitter = number("jitter", flags.jitter, (n) => n >= 0 && n <= 1, "a number from 0 to 1");
      const qps = number("qps", flags.qps, (n) => Number.isFinite(n) && n > 0, "a number > 0");
      const burst = number("burst", flags.burst, (n) => Number.isInteger(n) && n >= 1, "an integer >= 1");
      const timings = {
        leaseDurationMs: positiveDurationMs("lease-duration", flags.leaseDuration),
        renewIntervalMs: positiveDurationMs("renew-interval", flags.renewInterval),
        intervalMs: positiveDurationMs("interval", flags.interval),
        pollIntervalMs: positiveDurationMs("poll-interval", flags.pollInterval),
        minPassGapMs: durationMs("min-pass-gap", flags.minPassGap),
        baseDelayMs: positiveDurationMs("backoff-base", flags.backoffBase),
        maxDelayMs: positiveDurationMs("backoff-max", flags.backoffMax),
        graceMs: durationMs("grace-period", flags.gracePeriod),
      };
      const renewDeadlineMs =
        flags.renewDeadline === undefined
          ? (timings.leaseDurationMs * 2) / 3
          : positiveDurationMs("renew-deadline", flags.renewDeadline);
      if (renewDeadlineMs >= timings.leaseDurationMs) {
        throw new UserError(
          "--renew-deadline must be shorter than --lease-duration: the gap is the margin that keeps a leader that cannot renew from writing after another took over",
        );
      }
      if (timings.renewIntervalMs >= renewDeadlineMs) {
        throw new UserError(
          "--renew-interval must be shorter than --renew-deadline (2/3 of --lease-duration by default), or the leader stops between two renewals",
        );
      }
      const shard = flags.shard === undefined ? undefined : parseShard(flags.shard);
      if (flags.shard !== undefined && !shard) {
        throw new UserError(`--shard must be I/N with 0 <= I < N <= 1000, e.g. 0/4, got \`${flags.shard}\``);
      }
      const options = runtimeOptionsOf(cmd);
      const endpoint = options.endpoint;
      const { source: base, stateDir } = sourceOf(flags, shard);
      const source = shard ? new ShardedSource(base, shard) : base;
      let where: ReturnType<typeof parseLeaseUrl>;
      try {
        where = parseLeaseUrl(flags.lease ?? join(stateDir, "lease.json"));
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      if (shard) where = shardLease(where, shard.index);
      const identity = defaultIdentity();
      // Against a custom endpoint (the simulator), the placeholder token names this
      // instance, so the simulator's request log tells which instance made each call.
      const token = `capstan-sim-token.${identity}`;
      // Against capstan's simulator, its timeline; against GCP, credentials checked first.
      context.endpoint = endpoint;
      const rt = await openRuntime({ ...options, placeholderToken: token });
      context.credentials = rt.credentials;
      const clock = rt.clock;
      // A lease guards processes, which live and stall in real time: its timings are real
      // seconds whatever --time-scale. On a rehearsal's scaled clock they are stretched by
      // the scale, or a 15 s lease would be 5 ms of real time at ×3000 and a renewal delayed
      // by one garbage collection would lose it.
      const leaseMs = (ms: number) => ms * rt.timeScale;
      const lease = await openLease(where, {
        clock,
        identity,
        leaseDurationMs: leaseMs(timings.leaseDurationMs),
        renewDeadlineMs: leaseMs(renewDeadlineMs),
        gcsEndpoint: endpoint,
        gcsToken: token,
      }).catch((err: unknown) => {
        throw err instanceof LeaseError ? new UserError(err.message) : err;
      });
      const log = createLogger({ clock, level: flags.logLevel, labels: { instance: lease.identity } });
      const metrics = new ControllerMetrics({ budgets: () => rt.limiter.stats() });
      // The runtime's caller, plus the metrics hook that counts every call attempt.
      const gcp = gcpAccess(
        rt.clients,
        new GcpCaller({ clock, limiter: rt.limiter, observer: metrics.observer }),
      );
      // The dashboard's memory of what the controller does, bounded (src/dashboard).
      const feed = flags.dashboard ? new DashboardFeed({ clock }) : undefined;
      const controller = new Controller({
        source,
        gcp,
        reconcilers: rt.reconcilers,
        clock,
        gates: monitoringGateReader(gcp, clock),
        lease,
        metrics,
        logger: log,
        shard,
        stateFile: join(stateDir, shard ? `state-${shard.index}.json` : "state.json"),
        intervalMs: timings.intervalMs,
        jitter,
        pollIntervalMs: timings.pollIntervalMs,
        renewIntervalMs: leaseMs(timings.renewIntervalMs),
        minPassGapMs: timings.minPassGapMs,
        queue: { baseDelayMs: timings.baseDelayMs, maxDelayMs: timings.maxDelayMs, qps, burst },
        maintenanceWindows: flags.maintenanceWindows,
        // A release pauses the process for a full collection (~0.1-0.3 s); on a rehearsal's
        // scaled clock that pause would be multiplied on the simulated timeline.
        afterPass: rt.timeScale === 1 ? releaseMemory : undefined,
        observer: feed?.observer,
      });
      const dashboard = feed
        ? new Dashboard({
            feed,
            status: () => controller.status(),
            history: new GateHistoryCache({ gcp, clock }),
            clock,
            budgets: () => rt.limiter.stats(),
          })
        : undefined;
      const server = new StatusServer({ source: controller, port, host: flags.host, routes: dashboard });
      const bound = await server.listen().catch((err: Error) => {
        throw new UserError(`could not serve on ${flags.host}:${port}: ${err.message}`);
      });
      log.info(
        {
          port: bound,
          host: flags.host,
          source: source.location,
          ref: source.ref,
          lease: lease.url,
          identity: lease.identity,
          shard: shard ? `${shard.index}/${shard.count}` : undefined,
        },
        "serving status",
      );
      const signalled = new Promise<string>((done) => {
        process.once("SIGTERM", () => done("SIGTERM"));
        process.once("SIGINT", () => done("SIGINT"));
      });
      controller.start();
      const signal = await signalled;
      log.info({ signal, gracePeriodMs: timings.graceMs }, "stopping");
      // Stop within the grace period: the executor stops after the call in flight; if
      // that call outlasts the grace period, it is abandoned (the next holder resumes
      // from live state) but the lease is still released.
      const graceOver = new AbortController();
      const outcome = await Promise.race([
        controller.stop().then(() => "stopped" as const),
        clock.sleep(timings.graceMs, graceOver.signal).then(() => "grace" as const),
      ]);
      graceOver.abort();
      if (outcome === "grace") {
        log.warn({ gracePeriodMs: timings.graceMs }, "grace period over: abandoning the call in flight");
        await lease.release().catch(() => {});
      }
      await server.close();
      await lease.close().catch(() => {});
      await rt.close().catch(() => {});
      log.info({ outcome }, "exiting");
      process.exitCode = 0;
      // Abandoned calls keep sockets open; nothing of them is needed any more.
      if (outcome === "grace") process.exit(0);
    });
}
