import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { Controller, type ControllerOptions } from "../../src/controller/controller.ts";
import { createLogger } from "../../src/controller/log.ts";
import { ControllerMetrics } from "../../src/controller/metrics.ts";
import { DirSource, type SpecSource } from "../../src/controller/source.ts";
import type { ResourceStatus } from "../../src/controller/status.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { FileLeaseStore, LeaderElector } from "../../src/lease/index.ts";
import type { Reconcilers } from "../../src/plan/build.ts";
import { backendServiceReconciler } from "../../src/reconcilers/backend-service.ts";
import { healthCheckReconciler } from "../../src/reconcilers/health-check.ts";
import { sqlInstanceReconciler } from "../../src/reconcilers/sql-instance.ts";
import { vpcConnectorReconciler } from "../../src/reconcilers/vpc-connector.ts";
import type { SimHarness } from "../helpers/sim.ts";

/**
 * RECONCILERS_WITHOUT_RUN are the reconcilers of every kind but CloudRunService: the
 * controller tests' specs use no Cloud Run service.
 */
export const RECONCILERS_WITHOUT_RUN = {
  VpcConnector: vpcConnectorReconciler,
  SqlInstance: sqlInstanceReconciler,
  BackendService: backendServiceReconciler,
  HealthCheck: healthCheckReconciler,
} as unknown as Reconcilers;

/** tempDir makes a folder removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** writeSpecs writes spec files (relative path → text) under `dir`. */
export async function writeSpecs(dir: string, files: Readonly<Record<string, string>>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

/** RunningController is an in-process controller against a simulator, with its logs captured. */
export interface RunningController {
  readonly controller: Controller;
  readonly metrics: ControllerMetrics;
  readonly lease: LeaderElector;
  readonly logs: Record<string, unknown>[];
  /** The resource's status, by `Kind/name`. */
  resource(address: string): ResourceStatus | undefined;
  /** Write calls this instance made (successful or not), from its own call observer. */
  writes(): number;
}

/**
 * controllerFor builds a controller the way `capstan run` does, but in-process, on the
 * simulator's clock: real clients, rate limiter and caller (with the metrics observer),
 * a lock-file lease and a state file under `stateDir`.
 */
export function controllerFor(
  h: SimHarness,
  options: {
    readonly specsDir: string;
    readonly stateDir: string;
    readonly source?: SpecSource;
    readonly leaseDurationMs?: number;
  } & Partial<Omit<ControllerOptions, "source" | "gcp" | "clock" | "lease" | "metrics" | "logger" | "gates">>,
): RunningController {
  const clock = h.sim.clock;
  const metrics = new ControllerMetrics({ processMetrics: false });
  let writes = 0;
  const caller = new GcpCaller({
    clock,
    limiter: new RateLimiter({ clock }),
    observer: (meta, outcome) => {
      metrics.observer(meta, outcome);
      if (meta.write) writes += 1;
    },
  });
  const lease = new LeaderElector({
    store: new FileLeaseStore({ path: join(options.stateDir, "lease.json") }),
    clock,
    // 15 s of real time whatever the clock's scale, so a renewal late by seconds on a
    // loaded machine does not stop the leader's writes (its renew deadline) in tests
    // about something else.
    leaseDurationMs: options.leaseDurationMs ?? 15_000 * clock.scale,
  });
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const controller = new Controller({
    reconcilers: RECONCILERS_WITHOUT_RUN,
    stateFile: join(options.stateDir, "state.json"),
    pollIntervalMs: 5_000,
    // Renewals 0.5 s of real time apart, not a hot loop of lease writes on a fast clock.
    renewIntervalMs: 500 * clock.scale,
    ...options,
    source: options.source ?? new DirSource({ paths: [options.specsDir] }),
    gcp: gcpAccess(h.gcp, caller),
    clock,
    gates: async () => undefined,
    lease,
    metrics,
    logger: createLogger({ clock, destination, level: "debug" }),
  });
  return {
    controller,
    metrics,
    lease,
    logs,
    resource: (address) => controller.status().resources.find((r) => r.address === address),
    writes: () => writes,
  };
}

/**
 * fastForward speeds the clock the simulator and the controller share up to `scale` and
 * wakes the controller's pass loop, whose pending sleep was measured at the old speed.
 * Tests that wait for a moment hours away run their first passes slowly (so a loaded
 * machine cannot let that moment pass before they end) and then skip ahead. The renewal
 * loop is not woken: the lease, 15 real seconds at the starting scale, outlasts the one
 * renewal sleep (0.5 real seconds at that scale) pending across the switch.
 */
export function fastForward(h: SimHarness, c: RunningController, scale: number): void {
  h.sim.clock.setScale(scale);
  c.controller.trigger("test: clock sped up");
}

/** ready returns a resource's Ready condition status and reason, e.g. `True/UpToDate`. */
export function readiness(r: ResourceStatus | undefined): string {
  const c = r?.conditions.find((x) => x.type === "Ready");
  return c ? `${c.status}/${c.reason}` : "none";
}
