/**
 * capstan's chaos suite: seeded, reproducible randomised runs of plan + apply against the
 * simulator, under a random fault schedule, each judged by an oracle that does not use
 * capstan's reconcilers.
 *
 * Seeds. The suite seed (`--seed`, CAPSTAN_CHAOS_SEED) gives run i its own 32-bit seed
 * (deriveSeed); everything a run draws (scenario, spec values, fault schedule, the
 * callers' retry jitter) comes from a mulberry32 generator on that seed, so
 * `--run-seed 0x…` replays one run alone. What a seed fixes is the schedule: which faults,
 * with which parameters, at which progress event. Time is scaled wall time shared with
 * the simulator, so how far an operation has got when a fault lands can differ by a poll
 * between two replays; a violation found by a seed is re-checked by replaying it.
 *
 * A run:
 * 1. draws a scenario (scenarios.ts): the Golden Path (fixtures/staging-degraded.yaml +
 *    specs/staging) or a random spec set over the staging or examples base; its fixture
 *    gets sentinels (values no spec manages) and, for slow-operation faults, longer
 *    operation durations;
 * 2. draws 1 to 6 faults, each at a progress event (0 = before the first plan; half the
 *    kills and a third of the edits at the n-th wait for an operation instead):
 *    - `429-storm`: the simulator's per-minute quota of one API drops to a few calls for
 *      1 to 10 simulated minutes (answered as each API answers a rate quota: 429, or
 *      Compute's 403 rateLimitExceeded), then returns to GCP's defaults;
 *    - `429`: 1 to 3 calls of one RPC are answered as throttled, in their API's format;
 *    - `5xx`: 1 to 4 calls of one RPC answer 503 UNAVAILABLE or 500 INTERNAL (fewer than
 *      capstan's 6 attempts per call, so each call must get through);
 *    - `latency`: 1 to 3 calls of one RPC take 5 to 120 simulated seconds;
 *    - `slow-operation`: one operation type takes 2 to 12 times as long (a Cloud SQL
 *      restart then outlasts capstan's 30-minute operation timeout);
 *    - `failed-operation`: the next write of one kind starts an operation that fails;
 *    - `oob-managed`: a person changes a field the specs manage, in a direction that
 *      cannot hurt capacity (fewer instances, more connections or connector instances,
 *      concurrency, log sampling, health check interval);
 *    - `oob-unmanaged`: a person changes a field no spec manages (a label, the image, an
 *      env var, a user label, a flag, a description), which capstan must then keep;
 *    - `kill`: the apply's AbortSignal fires (SIGTERM), and a fresh process (new clients,
 *      RateLimiter, GcpCaller) plans and applies again from live state; at most 3.
 * 3. applies in passes (plan, execute) until a pass ends without being killed.
 *
 * Judged at every state the simulator passes through (Simulator.observe; oracle.ts): no
 * capacity invariant is violated worse than at the start, no unmanaged value changes
 * unless the chaos changed it, no resource is created or deleted. Judged at the end: the
 * run converged (a plan with faults cleared then shows no changes; after an out-of-band
 * change of a managed field one more pass is allowed to correct the drift) or stopped
 * with an ApplyReport whose message names the cause (classify below). Anything else is a
 * violation: execute throwing instead of reporting, an unexplained stop, or a run that
 * outlasts its simulated-time budget (a hang). Planning has no report: a plan that fails
 * on an API error after capstan's retries counts as a stop naming that error (as
 * `capstan plan` would print it), any other exception from it as a violation.
 */
import { type ApplyReport, execute } from "../../src/apply/execute.ts";
import { monitoringGateReader } from "../../src/apply/gates.ts";
import type { ProgressEvent } from "../../src/apply/progress.ts";
import type { Clock } from "../../src/clock/index.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan, type PlanResult } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { ComputeError } from "../../src/sim/compute/common.ts";
import type { JsonObject } from "../../src/sim/core/types.ts";
import { createSimulator, type FaultInput, type FaultRule, type Simulator } from "../../src/sim/index.ts";
import { Oracle, readLive, type Violation } from "./oracle.ts";
import { deriveSeed, hex, Rng } from "./rng.ts";
import {
  drawScenario,
  OPERATION_TYPES,
  type Scenario,
  SENTINEL_FLAG,
  slowDurations,
  withSentinels,
} from "./scenarios.ts";

/** FaultKind is a sort of fault the chaos injects. */
export type FaultKind =
  | "429-storm"
  | "429"
  | "5xx"
  | "latency"
  | "slow-operation"
  | "failed-operation"
  | "oob-managed"
  | "oob-unmanaged"
  | "kill";

/** FAULT_WEIGHTS are how often each fault is drawn, relative to the others. */
const FAULT_WEIGHTS: Readonly<Record<FaultKind, number>> = {
  "429-storm": 2,
  "429": 1,
  "5xx": 2,
  latency: 1,
  "slow-operation": 1,
  "failed-operation": 1.5,
  "oob-managed": 1.5,
  "oob-unmanaged": 1.5,
  kill: 1.5,
};

/** MAX_KILLS is how many times one run's process may be killed. */
const MAX_KILLS = 3;

interface Rpc {
  readonly api: string;
  readonly rpc: string;
}

const RUN = "run.googleapis.com";
const SQL = "sqladmin.googleapis.com";
const VPC = "vpcaccess.googleapis.com";
const COMPUTE = "compute.googleapis.com";

/** READ_RPCS are the reads capstan makes to plan, poll operations and read gates. */
const READ_RPCS: readonly Rpc[] = [
  { api: RUN, rpc: "Services.ListServices" },
  { api: RUN, rpc: "Services.GetService" },
  { api: RUN, rpc: "Operations.GetOperation" },
  { api: SQL, rpc: "SqlInstancesService.List" },
  { api: SQL, rpc: "SqlInstancesService.Get" },
  { api: SQL, rpc: "SqlOperationsService.Get" },
  { api: SQL, rpc: "SqlOperationsService.List" },
  { api: VPC, rpc: "VpcAccessService.ListConnectors" },
  { api: VPC, rpc: "VpcAccessService.GetConnector" },
  { api: VPC, rpc: "Operations.GetOperation" },
  { api: COMPUTE, rpc: "BackendServices.List" },
  { api: COMPUTE, rpc: "BackendServices.Get" },
  { api: COMPUTE, rpc: "HealthChecks.List" },
  { api: COMPUTE, rpc: "RegionNetworkEndpointGroups.List" },
  { api: COMPUTE, rpc: "GlobalOperations.Get" },
  { api: COMPUTE, rpc: "GlobalOperations.List" },
  { api: "monitoring.googleapis.com", rpc: "MetricService.ListTimeSeries" },
  { api: "secretmanager.googleapis.com", rpc: "SecretManagerService.GetSecretVersion" },
];

/** WRITE_RPCS are the writes capstan makes, by the kind it writes with them. */
const WRITE_RPCS: Readonly<Record<string, Rpc>> = {
  CloudRunService: { api: RUN, rpc: "Services.UpdateService" },
  SqlInstance: { api: SQL, rpc: "SqlInstancesService.Patch" },
  VpcConnector: { api: VPC, rpc: "VpcAccessService.UpdateConnector" },
  BackendService: { api: COMPUTE, rpc: "BackendServices.Patch" },
  HealthCheck: { api: COMPUTE, rpc: "HealthChecks.Patch" },
};

const STORM_APIS = [RUN, SQL, VPC, COMPUTE, "monitoring.googleapis.com"];

/**
 * Fault is one drawn fault: what, when, and its own seed. `at` counts progress events
 * (0 = before the first plan), or with `on: "operation-wait"` only the events where
 * capstan starts waiting for an operation: kills and edits land mid-operation more often.
 */
export interface Fault {
  readonly kind: FaultKind;
  readonly on: "event" | "operation-wait";
  readonly at: number;
  readonly seed: number;
  /** For people: what was injected, filled in when it fires. */
  detail: string;
  fired: boolean;
  /** The simulator's rule and its uses, for request-level faults: whether any call met it. */
  rule?: { readonly rule: FaultRule; readonly times: number } | undefined;
}

/** drawFaults draws a run's fault schedule. */
export function drawFaults(rng: Rng): Fault[] {
  const n = rng.int(1, 6);
  const out: Fault[] = [];
  for (let i = 0; i < n; i++) {
    let kind = rng.weighted(FAULT_WEIGHTS);
    if (kind === "kill" && out.filter((f) => f.kind === "kill").length >= MAX_KILLS) kind = "5xx";
    const midOperation = (kind === "kill" && rng.chance(0.5)) || (kind.startsWith("oob") && rng.chance(0.3));
    // A kill needs an apply to kill, so it never comes before the first plan.
    const early = (kind === "slow-operation" || rng.chance(0.2)) && kind !== "kill";
    const at = midOperation ? rng.int(1, 4) : early ? 0 : rng.int(1, 45);
    const on = midOperation ? "operation-wait" : "event";
    out.push({ kind, on, at, seed: rng.int(0, 0xffff_ffff), detail: kind, fired: false });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** Stop reasons: how a report's message names its cause, most specific first. */
const REASONS: readonly (readonly [RegExp, string])[] = [
  [/the plan has errors/, "refused (plan errors)"],
  [/can only be changed by replacing/, "refused (replacement)"],
  [/someone changed it outside capstan/, "out-of-band change"],
  [/end-to-end verification failed/, "unverified (end-to-end gate)"],
  [/gate \S+ on \S+ failed/, "gate failed"],
  [/did not finish within/, "operation timed out"],
  [/update of \S+ failed:/, "operation failed"],
  [/observed state after step/, "invariant violated (capstan's check)"],
  [/no longer exists/, "resource missing"],
  [/not ready after|\w+\/[\w-]+ failed: /, "resource not ready"],
  [/Quota exceeded/, "API error (quota)"],
  [/chaos-injected (\w+)/, "API error (injected)"],
  [
    /Condition does not match|[Pp]recondition|etag|[Ff]ingerprint|while it is in state|already in progress/,
    "conflict",
  ],
  // GCP refusing a write, e.g. a connector PATCH that an out-of-band raise overtook
  // between capstan's re-read and its write (connectors carry no etag to catch it).
  [/can only increase in place|[Ii]nvalid|must be|not supported|not allowed/, "refused by the API"],
  [/interrupted/, "interrupted"],
];

/** classify names the cause a stopped apply's message gives, or undefined when it names none. */
export function classify(message: string): string | undefined {
  for (const [re, reason] of REASONS) if (re.test(message)) return reason;
  return undefined;
}

/** RunResult is how one run ended. */
export interface RunResult {
  readonly index: number;
  readonly seed: number;
  readonly scenario: string;
  readonly drawn: readonly string[];
  readonly faults: readonly Fault[];
  readonly outcome: "converged" | "stopped" | "violated";
  /** For stopped runs: the classified cause. */
  readonly reason?: string | undefined;
  /** The last apply's message. */
  readonly message?: string | undefined;
  readonly passes: number;
  readonly simMinutes: number;
  readonly realMs: number;
  /** Distinct states the oracle judged. */
  readonly states: number;
  readonly violations: readonly Violation[];
  /** Progress and chaos lines, for replaying one run. */
  readonly log: readonly string[];
}

/** ChaosOptions configure a suite. */
export interface ChaosOptions {
  /**
   * Suite seed; run i uses deriveSeed(seed, i).
   * @default 1
   */
  readonly seed?: number;
  /**
   * Number of runs.
   * @default 100
   */
  readonly runs?: number;
  /** Run only these run seeds (replay), instead of deriving them. */
  readonly runSeeds?: readonly number[];
  /**
   * Clock speed shared by the simulator and capstan.
   * @default 3000
   */
  readonly timeScale?: number;
  /**
   * Simulated time one run may take before it counts as a hang.
   * @default 86_400_000 (24 hours)
   */
  readonly budgetMs?: number;
  /**
   * Append the simulator's request log (time, method, RPC, status) to each run's log.
   * @default false
   */
  readonly requestLog?: boolean;
  /** Called after each run, e.g. to print its line. */
  readonly onRun?: ((r: RunResult) => void) | undefined;
}

/** ChaosSummary is what a suite found. */
export interface ChaosSummary {
  readonly seed: number;
  readonly runs: readonly RunResult[];
  readonly injected: Readonly<Record<string, number>>;
  readonly converged: number;
  readonly stopped: Readonly<Record<string, number>>;
  /** Request-level faults (429, 5xx, latency, failed operations) no call ever met. */
  readonly unmet: number;
  readonly violations: readonly { readonly seed: number; readonly violation: Violation }[];
}

/** runChaos runs a suite and summarises it. */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosSummary> {
  const seed = options.seed ?? 1;
  const seeds =
    options.runSeeds ?? Array.from({ length: options.runs ?? 100 }, (_, i) => deriveSeed(seed, i));
  const runs: RunResult[] = [];
  for (const [i, s] of seeds.entries()) {
    const r = await runOne(i + 1, s, options);
    runs.push(r);
    options.onRun?.(r);
  }
  return summarize(seed, runs);
}

/** summarize counts a suite's faults, outcomes and violations. */
export function summarize(seed: number, runs: readonly RunResult[]): ChaosSummary {
  const injected: Record<string, number> = {};
  const stopped: Record<string, number> = {};
  for (const r of runs) {
    for (const f of r.faults) if (f.fired) injected[f.kind] = (injected[f.kind] ?? 0) + 1;
    if (r.outcome === "stopped") stopped[r.reason ?? "?"] = (stopped[r.reason ?? "?"] ?? 0) + 1;
  }
  return {
    seed,
    runs,
    injected,
    converged: runs.filter((r) => r.outcome === "converged").length,
    stopped,
    unmet: runs.flatMap((r) => r.faults).filter((f) => f.rule && (f.rule.rule.remaining ?? 0) >= f.rule.times)
      .length,
    violations: runs.flatMap((r) => r.violations.map((violation) => ({ seed: r.seed, violation }))),
  };
}

interface Process {
  readonly plan: () => Promise<PlanResult>;
  readonly apply: (
    result: PlanResult,
    signal: AbortSignal,
    progress: (e: ProgressEvent) => void,
  ) => Promise<ApplyReport>;
  readonly close: () => Promise<void>;
}

/**
 * startProcess is what a fresh `capstan apply` process builds: its own clients, rate
 * limiter and caller (so nothing survives a kill), sharing only the simulator's clock.
 */
function startProcess(endpoint: string, clock: Clock, scenario: Scenario, random: () => number): Process {
  const clients = createClients({ endpoint });
  const limiter = new RateLimiter({ clock });
  const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter, random }));
  return {
    plan: () => buildPlan({ specs: scenario.specs, gcp, reconcilers: RECONCILERS, clock }),
    apply: (result, signal, progress) =>
      execute({
        result,
        gcp,
        reconcilers: RECONCILERS,
        clock,
        gates: monitoringGateReader(gcp, clock),
        progress,
        signal,
        // A window can be days away; waiting for it is tested on its own, not under chaos.
        maintenanceWindows: "ignore",
      }),
    close: () => clients.close(),
  };
}

function errText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function apiCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && code > 0 && code <= 16 ? code : undefined;
}

/** runOne runs one seeded chaos run from scratch, on its own simulator. */
export async function runOne(index: number, seed: number, options: ChaosOptions = {}): Promise<RunResult> {
  const realStart = performance.now();
  const rng = new Rng(seed);
  const scenario = await drawScenario(rng);
  const faults = drawFaults(rng);
  const slow: Record<string, number> = {};
  for (const f of faults) {
    if (f.kind !== "slow-operation") continue;
    const r = new Rng(f.seed);
    const type = r.pick(OPERATION_TYPES);
    slow[type] = r.int(2, 12);
    f.detail = `slow-operation ${type} ×${slow[type]}`;
    f.fired = true;
  }
  const fixture = slowDurations(withSentinels(scenario.fixture, seed), slow);
  const sim = createSimulator({ fixture, timeScale: options.timeScale ?? 3000 });
  const endpoint = await sim.listen(0);
  const clock = sim.clock;
  const t0 = clock.now();
  const log: string[] = [];
  const note = (line: string) =>
    log.push(`[${((clock.now() - t0) / 60_000).toFixed(1).padStart(6)}m] ${line}`);
  note(`scenario ${scenario.name}${scenario.drawn.length ? `: ${scenario.drawn.join(", ")}` : ""}`);
  const oracle = new Oracle({
    sim,
    specs: scenario.specs,
    connectorUpdateSeconds: fixture.durations?.["vpcaccess.update"] ?? 120,
  });
  // The chaos's own edit is judged after the oracle accepts its unmanaged values; the
  // events the edit's tick runs first (capstan's operations finishing) are judged as usual.
  let editing = false;
  const unobserve = sim.observe((change) => {
    if (!(editing && change.cause === "edit")) oracle.observe(change);
  });
  const jitter = new Rng(seed ^ 0x5bd1e995);
  let events = 0;
  let waits = 0;
  let current: AbortController | undefined;
  let killedInPass = 0;
  let kills = 0;
  let managedEdits = 0;

  const fire = (f: Fault) => {
    if (f.fired) return;
    f.fired = true;
    try {
      if (f.kind === "kill") {
        if (kills >= MAX_KILLS || killedInPass === passes || !current) {
          f.fired = false;
          return;
        }
        killedInPass = passes;
        kills += 1;
        f.detail = `kill at progress event ${events}${f.on === "operation-wait" ? ` (operation wait ${waits})` : ""}`;
        current.abort(new Error("chaos: process killed (SIGTERM)"));
      } else if (f.kind === "oob-managed" || f.kind === "oob-unmanaged") {
        editing = true;
        let done: ReturnType<typeof edit>;
        try {
          done = edit(sim, scenario, oracle, new Rng(f.seed), f.kind === "oob-managed");
        } finally {
          editing = false;
        }
        if (!done) {
          f.fired = false;
          f.detail = `${f.kind}: nothing to edit`;
          return;
        }
        oracle.rebaseline(done.name);
        oracle.observe();
        if (f.kind === "oob-managed") managedEdits += 1;
        f.detail = `${f.kind} ${done.what}`;
      } else {
        applyRequestFault(sim, scenario, f);
      }
      note(`chaos: ${f.detail}`);
    } catch (err) {
      f.fired = false;
      f.detail = `${f.kind} refused: ${errText(err)}`;
      note(`chaos: ${f.detail}`);
    }
  };
  const fireDue = (e?: ProgressEvent) => {
    for (const f of faults) {
      if (f.fired) continue;
      if (f.on === "event" ? f.at === events : e?.type === "operation-wait" && f.at === waits) fire(f);
    }
  };
  const onProgress = (e: ProgressEvent) => {
    events += 1;
    if (e.type === "operation-wait") waits += 1;
    note(progressLine(e));
    fireDue(e);
  };

  let outcome: RunResult["outcome"] = "violated";
  let reason: string | undefined;
  let message: string | undefined;
  let passes = 0;

  const pass = async (): Promise<ApplyReport | "plan-failed" | "threw"> => {
    passes += 1;
    const abort = new AbortController();
    current = abort;
    const proc = startProcess(endpoint, clock, scenario, () => jitter.next());
    try {
      let result: PlanResult;
      try {
        result = await proc.plan();
      } catch (err) {
        if (apiCode(err) !== undefined) {
          reason = `plan failed (API error ${apiCode(err)})`;
          message = errText(err);
          note(`plan failed: ${message}`);
          return "plan-failed";
        }
        oracle.fail("throw", `buildPlan threw: ${errText(err)}`);
        return "threw";
      }
      note(
        `pass ${passes}: plan ${result.plan.summary.changes} change(s) in ${result.steps.steps.length} step(s), ${result.plan.summary.errors} error(s)`,
      );
      try {
        const report = await proc.apply(result, abort.signal, onProgress);
        note(`pass ${passes}: ${report.outcome}: ${report.message}`);
        return report;
      } catch (err) {
        oracle.fail(
          "throw",
          `execute threw instead of reporting${abort.signal.aborted ? " after the process was told to stop" : ""}: ${errText(err)}`,
        );
        note(`pass ${passes}: execute threw: ${errText(err)}`);
        return "threw";
      }
    } finally {
      current = undefined;
      await proc.close();
    }
  };

  const work = async () => {
    fireDue();
    for (;;) {
      const r = await pass();
      const killed = killedInPass === passes;
      if (r === "threw") {
        // The process died with an exception; a supervisor restarts it, as after a kill.
        if (passes <= MAX_KILLS + 1) continue;
        return;
      }
      if (r === "plan-failed") {
        outcome = "stopped";
        return;
      }
      if (r.outcome === "interrupted") {
        if (!killed) {
          oracle.fail("outcome", `apply reported interrupted without being stopped: ${r.message}`);
          return;
        }
        continue;
      }
      message = r.message;
      if (r.outcome === "converged" || r.outcome === "nothing-to-do") {
        clearFaults(sim);
        const clean = await verifyClean();
        if (clean === true) {
          outcome = "converged";
          return;
        }
        if (managedEdits > 0 && passes <= MAX_KILLS + 3) {
          // A person changed a managed field after capstan wrote it: correct the drift.
          note(`drift after convergence (${clean}); one more pass`);
          managedEdits = 0;
          continue;
        }
        oracle.fail("outcome", `${r.outcome}, but a fresh plan with faults cleared is not clean: ${clean}`);
        return;
      }
      reason = classify(r.message);
      if (reason === undefined || r.message.trim() === "") {
        oracle.fail("outcome", `apply ${r.outcome} without naming a cause: ${JSON.stringify(r.message)}`);
        return;
      }
      outcome = "stopped";
      return;
    }
  };

  /** verifyClean plans with every fault cleared; true when nothing is left to do. */
  const verifyClean = async (): Promise<true | string> => {
    const proc = startProcess(endpoint, clock, scenario, () => jitter.next());
    try {
      const { plan } = await proc.plan();
      const changes = plan.resources.flatMap((p) => p.changes.map((c) => `${p.address} ${c.field}`));
      const errors = plan.problems.filter((p) => p.severity === "error").map((p) => p.message);
      if (changes.length === 0 && errors.length === 0) return true;
      return [...changes, ...errors].join("; ");
    } catch (err) {
      return `plan threw: ${errText(err)}`;
    } finally {
      await proc.close();
    }
  };

  const clearFaults = (s: Simulator) => {
    // Faults and storms end; what remains must converge on its own merits.
    s.faults.clear();
    s.quotas.reset();
  };

  const budgetMs = options.budgetMs ?? 24 * 3_600_000;
  const watchdog = new AbortController();
  const timer = clock.sleep(budgetMs, watchdog.signal).then(
    () => "timeout" as const,
    () => "cancelled" as const,
  );
  const running = work().catch((err: unknown) => {
    oracle.fail("throw", `the run itself threw: ${errText(err)}`);
  });
  const first = await Promise.race([running.then(() => "done" as const), timer]);
  if (first === "timeout") {
    oracle.fail("hang", `no outcome after ${budgetMs / 3_600_000} simulated hours`);
    current?.abort(new Error("chaos: time budget exhausted"));
    await Promise.race([running, clock.sleep(30 * 60_000)]);
  }
  watchdog.abort();
  oracle.observe();
  unobserve();
  if (options.requestLog)
    for (const q of sim.requests())
      log.push(`REQ ${((q.time - t0) / 60_000).toFixed(2)}m ${q.method} ${q.rpc} ${q.status}`);
  await sim.close();
  for (const f of faults) {
    if (f.rule && (f.rule.rule.remaining ?? 0) >= f.rule.times) f.detail += " (never met a call)";
  }
  if (oracle.violations.length > 0) outcome = "violated";
  return {
    index,
    seed,
    scenario: scenario.name,
    drawn: scenario.drawn,
    faults,
    outcome,
    reason,
    message,
    passes,
    simMinutes: (clock.now() - t0) / 60_000,
    realMs: performance.now() - realStart,
    states: oracle.states,
    violations: oracle.violations,
    log,
  };
}

function progressLine(e: ProgressEvent): string {
  const { type, ...rest } = e;
  const fields = Object.entries(rest)
    .filter(([k]) => k !== "step" && k !== "results")
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`);
  return `${type} ${fields.join(" ")}`.trim();
}

/** applyRequestFault registers a request-level fault with the simulator (or starts a quota storm). */
function applyRequestFault(sim: Simulator, scenario: Scenario, f: Fault): void {
  const r = new Rng(f.seed);
  const any = () => r.pick([...READ_RPCS, ...Object.values(WRITE_RPCS)]);
  const add = (input: FaultInput, times: number) => {
    f.rule = { rule: sim.faults.add({ ...input, times }), times };
  };
  switch (f.kind) {
    case "429-storm": {
      const api = r.pick(STORM_APIS);
      const limit = { readPerMinute: r.int(2, 12), writePerMinute: r.int(1, 3) };
      const seconds = r.int(60, 600);
      sim.quotas.set({ [api]: limit });
      // Back to GCP's defaults when the storm ends.
      sim.context.after(seconds, () => sim.quotas.set({ [api]: {} }));
      f.detail = `429-storm ${api} ${limit.readPerMinute} reads/${limit.writePerMinute} writes a minute for ${seconds}s`;
      return;
    }
    case "429": {
      const target = any();
      const times = r.int(1, 3);
      add(
        {
          match: target,
          // In the API's own format: Compute answers 403 rateLimitExceeded.
          error: { type: "RATE_LIMIT_EXCEEDED" },
        },
        times,
      );
      f.detail = `429 ×${times} on ${target.rpc}`;
      return;
    }
    case "5xx": {
      const target = any();
      const status = r.pick(["UNAVAILABLE", "INTERNAL"] as const);
      const times = r.int(1, 4);
      add({ match: target, error: { type: status, message: `chaos-injected ${status}` } }, times);
      f.detail = `5xx ${status} ×${times} on ${target.rpc}`;
      return;
    }
    case "latency": {
      const target = any();
      const ms = r.int(5, 120) * 1000;
      const times = r.int(1, 3);
      add({ match: target, latencyMs: ms }, times);
      f.detail = `latency ${ms / 1000}s ×${times} on ${target.rpc}`;
      return;
    }
    case "failed-operation": {
      const kinds = [...new Set(scenario.specs.resources.map((x) => x.kind))].filter((k) => WRITE_RPCS[k]);
      const target = WRITE_RPCS[r.pick(kinds)]!;
      add({ match: target, failOperation: { message: "chaos-injected operation failure" } }, 1);
      f.detail = `failed-operation on ${target.rpc}`;
      return;
    }
    default:
      throw new TypeError(`not a request fault: ${f.kind}`);
  }
}

/**
 * edit makes an out-of-band change as a person in the console would, through the
 * simulator's edit API. Managed edits only move a field in a direction that cannot hurt
 * capacity; unmanaged edits change what no spec names. Returns the edited resource's
 * name, or undefined when the scenario has nothing of that sort to edit.
 */
function edit(
  sim: Simulator,
  scenario: Scenario,
  oracle: Oracle,
  r: Rng,
  managed: boolean,
): { name: string; what: string } | undefined {
  // Events already due (operations finishing) happen first, and are judged as usual.
  sim.tick();
  const live = readLive(sim);
  const specOf = (name: string) => scenario.specs.resources.find((x) => x.gcpName === name);
  const options: (() => { name: string; what: string } | undefined)[] = [];
  // Compute refuses any change while an operation runs on the resource (400
  // resourceNotReady), the console's too: a person would have to wait.
  const computeEdit = (kind: string, name: string, patch: JsonObject, what: string) => {
    try {
      sim.edit("compute", { kind, name, patch });
    } catch (err) {
      if (err instanceof ComputeError && err.reason === "resourceNotReady") return undefined;
      throw err;
    }
    return { name, what };
  };
  const tag = `e${r.int(1, 9999)}`;
  for (const s of live.run) {
    const name = String(s["name"]);
    const spec = specOf(name);
    const t = spec?.kind === "CloudRunService" ? spec.spec.template : undefined;
    const containers = structuredClone((s["template"]?.["containers"] ?? []) as JsonObject[]);
    if (managed) {
      if (t?.maxConcurrency !== undefined)
        options.push(() => {
          const v = r.int(1, 100);
          sim.edit("run", {
            kind: "service",
            name,
            patch: { template: { maxInstanceRequestConcurrency: v } },
          });
          return { name, what: `${name} maxInstanceRequestConcurrency=${v}` };
        });
      const max = Number(s["template"]?.["scaling"]?.["maxInstanceCount"] ?? 0);
      if (t?.scaling?.maxInstances !== undefined && max > 1)
        options.push(() => {
          const v = Math.max(1, max - r.int(1, 3));
          sim.edit("run", {
            kind: "service",
            name,
            patch: { template: { scaling: { maxInstanceCount: v } } },
          });
          return { name, what: `${name} maxInstanceCount ${max}→${v}` };
        });
    } else {
      options.push(() => {
        sim.edit("run", {
          kind: "service",
          name,
          patch: { labels: { ...(s["labels"] ?? {}), "chaos-edit": tag } },
        });
        return { name, what: `${name} label chaos-edit=${tag}` };
      });
      if (containers[0])
        options.push(() => {
          containers[0]!["image"] =
            `${String(containers[0]!["image"]).replace(/-hotfix\d+$/, "")}-hotfix${r.int(1, 9)}`;
          sim.edit("run", { kind: "service", name, patch: { template: { containers } } });
          return { name, what: `${name} image=${containers[0]!["image"]}` };
        });
      const managedEnv = new Set((t?.env ?? []).map((e) => e.name));
      const free = ((containers[0]?.["env"] ?? []) as JsonObject[]).filter(
        (e) => typeof e["value"] === "string" && !managedEnv.has(String(e["name"])),
      );
      if (free.length)
        options.push(() => {
          const e = r.pick(free);
          e["value"] = `${e["value"]}-${tag}`;
          sim.edit("run", { kind: "service", name, patch: { template: { containers } } });
          return { name, what: `${name} env ${e["name"]}=${e["value"]}` };
        });
    }
  }
  const sqlControl = sim.service("sql") as unknown as {
    control(method: string, subpath: string, body: JsonObject): { operation?: string };
  };
  for (const i of live.sql) {
    const name = `projects/${i["project"]}/instances/${i["name"]}`;
    // Cloud SQL refuses any change while an operation runs (409 operationInProgress), the
    // console's too: a person would have to wait.
    if (sqlControl.control("GET", `instances/${i["project"]}/${i["name"]}`, {}).operation) continue;
    const spec = specOf(name);
    const flags = spec?.kind === "SqlInstance" ? (spec.spec.databaseFlags ?? {}) : {};
    if (managed) {
      if (flags["max_connections"] !== undefined)
        options.push(() => {
          const cur = ((i["settings"]?.["databaseFlags"] ?? []) as JsonObject[]).find(
            (f) => f["name"] === "max_connections",
          );
          const base = Number(cur?.["value"] ?? 100);
          const v = base + r.int(5, 50);
          sim.edit("sql", {
            kind: "instance",
            name,
            patch: {
              settings: { databaseFlags: [{ name: "max_connections", value: String(Math.max(v, 101)) }] },
            },
          });
          return { name, what: `${name} max_connections=${Math.max(v, 101)}` };
        });
    } else {
      options.push(() => {
        sim.edit("sql", {
          kind: "instance",
          name,
          patch: {
            settings: { userLabels: { ...(i["settings"]?.["userLabels"] ?? {}), "chaos-edit": tag } },
          },
        });
        return { name, what: `${name} userLabel chaos-edit=${tag}` };
      });
      if (flags[SENTINEL_FLAG] === undefined)
        options.push(() => {
          const cur = ((i["settings"]?.["databaseFlags"] ?? []) as JsonObject[]).find(
            (f) => f["name"] === SENTINEL_FLAG,
          );
          const v = cur?.["value"] === "on" ? "off" : "on";
          sim.edit("sql", {
            kind: "instance",
            name,
            patch: { settings: { databaseFlags: [{ name: SENTINEL_FLAG, value: v }] } },
          });
          return { name, what: `${name} flag ${SENTINEL_FLAG}=${v}` };
        });
    }
  }
  for (const c of live.connectors) {
    const name = String(c["name"]);
    const spec = specOf(name);
    const max = Number(c["maxInstances"] ?? 0);
    if (oracle.settling(name)) continue;
    if (managed && spec?.kind === "VpcConnector" && spec.spec.maxInstances !== undefined && max < 10)
      options.push(() => {
        const v = r.int(max + 1, 10);
        sim.edit("vpcaccess", { kind: "connector", name, patch: { maxInstances: v } });
        return { name, what: `${name} maxInstances ${max}→${v}` };
      });
  }
  for (const b of live.backendServices) {
    const name = `projects/${b["project"]}/global/backendServices/${b["name"]}`;
    const spec = specOf(name);
    if (managed && spec?.kind === "BackendService" && spec.spec.logConfig?.sampleRate !== undefined)
      options.push(() => {
        const v = r.pick([0.2, 0.3, 0.7, 0.9]);
        return computeEdit(
          "backendService",
          name,
          { logConfig: { enable: true, sampleRate: v } },
          `${name} logConfig.sampleRate=${v}`,
        );
      });
    if (!managed)
      options.push(() =>
        computeEdit("backendService", name, { description: `edited by hand ${tag}` }, `${name} description`),
      );
  }
  for (const h of live.healthChecks) {
    const name = `projects/${h["project"]}/global/healthChecks/${h["name"]}`;
    const spec = specOf(name);
    if (managed && spec?.kind === "HealthCheck" && spec.spec.checkIntervalSec !== undefined)
      options.push(() => {
        const v = Number(h["checkIntervalSec"] ?? 5) + r.int(1, 10);
        return computeEdit("healthCheck", name, { checkIntervalSec: v }, `${name} checkIntervalSec=${v}`);
      });
    if (!managed)
      options.push(() =>
        computeEdit("healthCheck", name, { description: `edited by hand ${tag}` }, `${name} description`),
      );
  }
  if (options.length === 0) return undefined;
  return r.pick(options)();
}

/** formatRun prints one run's line. */
export function formatRun(r: RunResult): string {
  const faults = r.faults.filter((f) => f.fired).map((f) => f.kind);
  const result =
    r.outcome === "stopped"
      ? `stopped: ${r.reason}`
      : r.outcome === "violated"
        ? `VIOLATED (${r.violations.length})`
        : "converged";
  return `run ${String(r.index).padStart(3)} ${hex(r.seed)} ${r.scenario.padEnd(16)} ${result.padEnd(40)} passes ${r.passes}, ${r.simMinutes.toFixed(0)} sim min, ${(r.realMs / 1000).toFixed(1)}s, faults: ${faults.join(" ") || "none"}`;
}

/** formatSummary prints the suite's summary: runs, faults by type, outcomes, violations. */
export function formatSummary(s: ChaosSummary): string {
  const total = Object.values(s.injected).reduce((n, x) => n + x, 0);
  const stoppedTotal = Object.values(s.stopped).reduce((n, x) => n + x, 0);
  const list = (o: Readonly<Record<string, number>>) =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  const lines = [
    "",
    `chaos summary (seed ${hex(s.seed)})`,
    `  runs:            ${s.runs.length}`,
    `  faults injected: ${total}${total ? ` (${list(s.injected)}; ${s.unmet} request fault(s) met no call)` : ""}`,
    `  converged:       ${s.converged}`,
    `  stopped:         ${stoppedTotal}${stoppedTotal ? ` (${list(s.stopped)})` : ""}`,
    `  violations:      ${s.violations.length} (target 0)`,
  ];
  for (const v of s.violations) {
    lines.push(`    ${hex(v.seed)} ${v.violation.kind}: ${v.violation.message}`);
  }
  if (s.violations.length) {
    const seeds = [...new Set(s.violations.map((v) => hex(v.seed)))];
    lines.push(`  replay: npm run chaos -- --verbose ${seeds.map((x) => `--run-seed ${x}`).join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}
