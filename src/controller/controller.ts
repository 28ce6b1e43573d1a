import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import pino, { type Logger } from "pino";
import { type ApplyReport, execute } from "../apply/execute.ts";
import type { GateReader } from "../apply/gates.ts";
import type { ProgressEvent } from "../apply/progress.ts";
import { describeWindow, msUntilWindow } from "../apply/window.ts";
import type { Clock } from "../clock/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { classify } from "../gcp/errors.ts";
import { describeError } from "../gcp/explain.ts";
import { type Lease, LeaseLostError } from "../lease/index.ts";
import { buildPlan, type Planned, type PlanResult, type Reconcilers } from "../plan/build.ts";
import type { ResourceKind } from "../plan/model.ts";
import type { Reconciler, ResourceRef } from "../reconcilers/types.ts";
import type { AnyResource } from "../spec/types.ts";
import { formatProblem } from "../spec/validate.ts";
import type { ControllerEvent, ControllerObserver } from "./events.ts";
import { ControllerMetrics } from "./metrics.ts";
import { WorkQueue } from "./queue.ts";
import type { SpecSnapshot, SpecSource } from "./source.ts";
import {
  type AppliedRevision,
  type Condition,
  type ConditionsInput,
  type ControllerStatus,
  type PassSummary,
  type Reason,
  type ResourceStatus,
  setConditions,
} from "./status.ts";
import { policyMates, restrictPlan } from "./subset.ts";

/** ANNOTATION_ON_DRIFT says what to do when a resource drifts: `correct` (default) or `report`. */
export const ANNOTATION_ON_DRIFT = "capstan.dev/on-drift";
/** ANNOTATION_SUSPEND set to `"true"` stops capstan from changing the resource; it is still observed. */
export const ANNOTATION_SUSPEND = "capstan.dev/suspend";

/** Options of {@link Controller}. */
export interface ControllerOptions {
  readonly source: SpecSource;
  readonly gcp: Gcp;
  readonly reconcilers: Reconcilers;
  readonly clock: Clock;
  readonly gates: GateReader;
  /** Only the holder writes, each write fenced by it; see src/lease. */
  readonly lease: Lease;
  /** With `--shard I/N`, which shard this instance is (for `/status`; the source does the filtering). */
  readonly shard?: { readonly index: number; readonly count: number } | undefined;
  /** @default a new ControllerMetrics (its `observer` must be the GcpCaller's to count calls) */
  readonly metrics?: ControllerMetrics | undefined;
  /** @default a silent logger */
  readonly logger?: Logger | undefined;
  /**
   * Where the holder keeps what it last applied to each resource (spec hash and commit),
   * so drift is still told from a spec change after a restart or a failover.
   * @default none: kept in memory only
   */
  readonly stateFile?: string | undefined;
  /**
   * Clock ms between passes when nothing triggers one sooner.
   * @default 300_000 (5 minutes)
   */
  readonly intervalMs?: number;
  /**
   * Up to this fraction of the interval is added at random to each wait, so replicas and
   * restarts spread their passes (client-go's wait.Jitter).
   * @default 0.1
   */
  readonly jitter?: number;
  /**
   * Clock ms between looks at the spec source (a content hash, or a git fetch).
   * @default 10_000
   */
  readonly pollIntervalMs?: number;
  /**
   * Clock ms between lease renewals (holder) or acquisition attempts (standby).
   * @default 5_000
   */
  readonly renewIntervalMs?: number;
  /**
   * Least clock ms from the start of one pass to the start of the next, so retries after
   * short backoffs cannot turn into a busy loop of list calls.
   * @default 1_000
   */
  readonly minPassGapMs?: number;
  /** Per-resource backoff and overall rate (see WorkQueue). */
  readonly queue?: {
    readonly baseDelayMs?: number;
    readonly maxDelayMs?: number;
    readonly qps?: number;
    readonly burst?: number;
  };
  /**
   * `wait`: a disruptive change waits for its resource's maintenance window; `ignore`: not.
   * @default "wait"
   */
  readonly maintenanceWindows?: "wait" | "ignore";
  /** Passed to execute. */
  readonly operationTimeoutMs?: number | undefined;
  /** Passed to execute. */
  readonly readyTimeoutMs?: number | undefined;
  /** @default Math.random */
  readonly random?: () => number;
  /**
   * Runs after every pass, once the pass's own objects are unreachable: `capstan run`
   * passes {@link releaseMemory} so the process gives back what a pass used.
   */
  readonly afterPass?: (() => void) | undefined;
  /**
   * Receives what the controller does as typed events (the dashboard's feed; see
   * src/controller/events.ts). Called synchronously; errors it throws are logged and dropped.
   * @default none
   */
  readonly observer?: ControllerObserver | undefined;
}

/** ControllerError is a misuse of the controller (started twice). */
export class ControllerError extends Error {
  readonly code: "ALREADY_STARTED" | "LEASE_LOST";

  constructor(code: ControllerError["code"], message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "ControllerError";
    this.code = code;
  }
}

/** A resource's status as the controller keeps it. */
interface Entry {
  /** The spec's identity (`Kind:full GCP name`), unique across projects. */
  key: string;
  address: string;
  project: string;
  kind: ResourceKind;
  name: string;
  gcpName: string;
  specHash: string;
  onDrift: "correct" | "report";
  suspended: boolean;
  conditions: Condition[];
  lastApplied: AppliedRevision | undefined;
  pendingChanges: string[];
  lastError: { message: string; at: string } | undefined;
  nextAttemptAt: number | undefined;
  driftCount: number;
  /** Drift counted and not yet resolved, so a reported drift is counted once. */
  driftOpen: boolean;
  reconcileId: string | undefined;
}

/** What the pass decided for one resource with changes. */
type Decision =
  | { readonly run: true }
  | { readonly run: false; readonly set: ConditionsInput; readonly at?: number };

/** StateFile is the holder's memory of what it applied (see `stateFile`). */
interface StateFile {
  readonly kind: "capstan.dev/run-state/v1";
  readonly resources: Record<string, { readonly lastApplied: AppliedRevision }>;
}

/** canonical is JSON with sorted keys and no undefined, so equal specs hash equally. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(",")}}`;
}

/**
 * specHash fingerprints what a spec asks of its resource: identity and spec, not labels
 * or annotations (capstan's own, never written to GCP), so switching `on-drift` or
 * `suspend` is not mistaken for a new spec.
 */
export function specHash(r: AnyResource): string {
  // A spec source hands out the same resource objects while the specs do not change:
  // hash each once, not once a pass (0.2 s of CPU a pass at 10,000 resources).
  let hash = specHashes.get(r);
  if (hash === undefined) {
    const { project, region, name } = r.metadata;
    hash = createHash("sha256")
      .update(canonical({ apiVersion: r.apiVersion, kind: r.kind, project, region, name, spec: r.spec }))
      .digest("hex");
    specHashes.set(r, hash);
  }
  return hash;
}

const specHashes = new WeakMap<AnyResource, string>();

function messageOf(err: unknown): string {
  return describeError(err);
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Math.round(ms / 100) / 10}s`;
}

/**
 * Controller is `capstan run`: a level-triggered loop that, on every pass, loads the
 * specs, observes live GCP with list calls, diffs and plans the whole set, then executes
 * the plan through the same executor as `capstan apply` for the resources that may be
 * reconciled now:
 * - not suspended (`capstan.dev/suspend: "true"`), not drifted under
 *   `capstan.dev/on-drift: report`, not refused by their reconciler's checks;
 * - not backing off after failures, admitted by the overall rate (WorkQueue);
 * - for a disruptive change, inside the maintenance window its spec names.
 * The rest keep their live values, and the steps of the ones that run are planned again
 * without them, so the capacity order across resources always holds. A resource whose
 * reconcile fails is taken out and backs off, and the pass goes on with the others.
 * Drift is a diff on a resource whose spec hash is the one last applied to it: the spec
 * did not change, the live resource did.
 *
 * Only the holder of the lease writes; a standby plans and reports. Passes never
 * overlap, so a resource is never reconciled twice at once.
 */
export class Controller {
  readonly metrics: ControllerMetrics;
  readonly #o: ControllerOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #queue: WorkQueue;
  readonly #interval: number;
  readonly #jitter: number;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  #leader = false;
  #snapshot: SpecSnapshot | undefined;
  #sourceProblems: string[] = [];
  #lastPass: PassSummary | undefined;
  #passes = 0;
  #passStartedAt = Number.NEGATIVE_INFINITY;
  #dirty = true;
  #ready = false;
  #started = false;
  #stopping = false;
  #loops: Promise<unknown> | undefined;
  #passAbort: AbortController | undefined;
  #wakePass = new AbortController();
  #wakePoll = new AbortController();
  readonly #stopAbort = new AbortController();
  #unwatch: (() => void) | undefined;
  #reconcileSeq = 0;
  #executionSeq = 0;

  constructor(options: ControllerOptions) {
    this.#o = options;
    this.#clock = options.clock;
    this.metrics = options.metrics ?? new ControllerMetrics({ processMetrics: false });
    this.#log = options.logger ?? pino({ level: "silent" });
    this.#queue = new WorkQueue({ clock: options.clock, ...(options.queue ?? {}) });
    this.#interval = options.intervalMs ?? 300_000;
    this.#jitter = options.jitter ?? 0.1;
    this.#random = options.random ?? Math.random;
    for (const [name, v] of [
      ["intervalMs", this.#interval],
      ["pollIntervalMs", options.pollIntervalMs ?? 10_000],
      ["renewIntervalMs", options.renewIntervalMs ?? 5_000],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0)
        throw new TypeError(`Expected \`${name}\` to be a finite number > 0, got \`${v}\``);
    }
    if (!(this.#jitter >= 0 && this.#jitter <= 1)) {
      throw new TypeError(`Expected \`jitter\` to be a number from 0 to 1, got \`${options.jitter}\``);
    }
  }

  /** leader says whether this instance holds the lease (and so may write). */
  get leader(): boolean {
    return this.#leader;
  }

  /** ready says whether the first pass finished and the controller is not stopping (`/readyz`). */
  ready(): boolean {
    return this.#ready && !this.#stopping;
  }

  /** healthy says whether the loops are running (`/healthz`). */
  healthy(): boolean {
    return this.#started && !this.#stopping;
  }

  /**
   * start runs the loops (lease, spec source, passes) until `stop`. It returns at once;
   * the first pass starts as soon as the lease question is settled.
   */
  start(): void {
    if (this.#started) throw new ControllerError("ALREADY_STARTED", "the controller is already running");
    this.#started = true;
    this.#unwatch = this.#o.source.watch?.(() => this.#wakePoll.abort());
    this.#loops = (async () => {
      // Settle the lease once before the first pass, so a starting pair never both apply.
      await this.#leaseRound();
      await Promise.all([this.#leaseLoop(), this.#pollLoop(), this.#passLoop()]);
    })();
  }

  /**
   * stop interrupts the pass in flight (the executor stops after the call in flight;
   * the next holder resumes from live state), waits for the loops to end, saves state
   * and releases the lease so a standby takes over at once.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return this.#loops?.then(() => {});
    this.#stopping = true;
    this.#stopAbort.abort(new Error("stopping"));
    this.#passAbort?.abort(new Error("stopping"));
    this.#wakePass.abort();
    this.#wakePoll.abort();
    this.#unwatch?.();
    await this.#loops?.catch((err: unknown) => this.#log.error({ err }, "loop failed"));
    if (this.#leader)
      await this.#saveState().catch((err: unknown) => this.#log.warn({ err }, "could not save state"));
    await this.#o.lease
      .release()
      .catch((err: unknown) => this.#log.warn({ err }, "could not release the lease"));
    this.#leader = false;
    this.metrics.leader.set(0);
    this.#log.info({ passes: this.#passes }, "stopped");
  }

  /**
   * settleLease tries once to take (or renew) the lease and returns whether this instance
   * leads now. `start` does it on its own; call it to drive passes by hand (benchmarks).
   */
  async settleLease(): Promise<boolean> {
    await this.#leaseRound();
    return this.#leader;
  }

  /** trigger asks for a pass as soon as the current one (if any) ends. */
  trigger(reason: string): void {
    this.#log.debug({ reason }, "pass requested");
    this.#dirty = true;
    this.#wakePass.abort();
  }

  /** status is the document `/status` serves. */
  status(): ControllerStatus {
    const resources: ResourceStatus[] = [...this.#entries.values()].map((e) => ({
      id: e.key,
      address: e.address,
      kind: e.kind,
      name: e.name,
      gcpName: e.gcpName,
      specHash: e.specHash,
      onDrift: e.onDrift,
      suspended: e.suspended,
      conditions: e.conditions,
      lastApplied: e.lastApplied,
      pendingChanges: e.pendingChanges,
      lastError: e.lastError,
      failures: this.#queue.failures(e.key),
      nextAttemptAt:
        e.nextAttemptAt !== undefined && e.nextAttemptAt > this.#clock.now()
          ? new Date(e.nextAttemptAt).toISOString()
          : undefined,
      driftCount: e.driftCount,
      reconcileId: e.reconcileId,
    }));
    const src = this.#o.source;
    return {
      kind: "capstan.dev/run-status/v1",
      now: this.#iso(),
      instance: {
        identity: this.#o.lease.identity,
        role: this.#leader ? "leader" : "standby",
        lease: this.#o.lease.status(),
        shard: this.#o.shard,
      },
      source: {
        type: src.type,
        location: src.location,
        ref: src.ref,
        commit: this.#snapshot?.commit,
        revision: this.#snapshot?.revision,
        problems: this.#sourceProblems,
      },
      ready: this.ready(),
      lastPass: this.#lastPass,
      passes: this.#passes,
      resources,
    };
  }

  #iso(ms = this.#clock.now()): string {
    return new Date(ms).toISOString();
  }

  /** Hands an event to the observer; an observer's failure never disturbs a pass. */
  #emit(event: ControllerEvent): void {
    const observer = this.#o.observer;
    if (!observer) return;
    try {
      observer(event);
    } catch (err) {
      this.#log.warn({ err, event: event.type }, "observer failed");
    }
  }

  /** Sleeps on the clock; returns early (without throwing) when `wake` or stop fires. */
  async #sleep(ms: number, wake?: AbortSignal): Promise<void> {
    const signal = wake ? AbortSignal.any([wake, this.#stopAbort.signal]) : this.#stopAbort.signal;
    await this.#clock.sleep(Math.max(0, ms), signal).catch(() => {});
  }

  async #leaseRound(): Promise<void> {
    let held: boolean;
    try {
      held = await this.#o.lease.tryAcquireOrRenew();
    } catch (err) {
      this.#log.warn({ err }, "lease error");
      held = false;
    }
    if (held === this.#leader) return;
    this.#leader = held;
    this.metrics.leader.set(held ? 1 : 0);
    const lease = this.#o.lease.status();
    this.#emit({ type: "lease", leader: held, holder: held ? this.#o.lease.identity : lease.holder });
    if (held) {
      this.#log.info(
        { identity: this.#o.lease.identity, lease: lease.url, term: lease.term },
        "became leader",
      );
      await this.#loadState();
      this.trigger("became leader");
    } else {
      this.#log.warn(
        { holder: lease.holder, term: lease.lost?.term, why: lease.lost?.reason },
        "lost the lease",
      );
      this.#passAbort?.abort(
        new ControllerError(
          "LEASE_LOST",
          `lost the lease: ${lease.lost?.reason ?? "another instance holds it"}`,
        ),
      );
    }
  }

  async #leaseLoop(): Promise<void> {
    while (!this.#stopping) {
      // A standby looks again as soon as the holder's record would expire, if sooner.
      await this.#sleep(Math.min(this.#o.renewIntervalMs ?? 5_000, this.#o.lease.expiresInMs() ?? Infinity));
      if (this.#stopping) break;
      await this.#leaseRound();
    }
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopping) {
      try {
        // Before the first pass there is nothing to compare with: that pass loads the specs anyway.
        if ((await this.#o.source.poll()) && this.#passes > 0) this.trigger("specs changed");
      } catch (err) {
        this.#sourceProblems = [messageOf(err)];
        this.#log.warn({ err }, "could not read the spec source");
      }
      if (this.#wakePoll.signal.aborted) this.#wakePoll = new AbortController();
      await this.#sleep(this.#o.pollIntervalMs ?? 10_000, this.#wakePoll.signal);
    }
  }

  async #passLoop(): Promise<void> {
    let next = this.#clock.now();
    while (!this.#stopping) {
      if (this.#wakePass.signal.aborted) this.#wakePass = new AbortController();
      const now = this.#clock.now();
      if (!this.#dirty && now < next) {
        await this.#sleep(next - now, this.#wakePass.signal);
        continue;
      }
      const gap = this.#passStartedAt + (this.#o.minPassGapMs ?? 1_000) - now;
      if (gap > 0) {
        await this.#sleep(gap);
        if (this.#stopping) break;
      }
      this.#dirty = false;
      try {
        await this.pass();
      } catch (err) {
        this.#log.error({ err }, "pass crashed");
      }
      next = this.#nextPassAt();
    }
  }

  /** The interval with jitter, or sooner when a waiting resource may go on before it. */
  #nextPassAt(): number {
    const now = this.#clock.now();
    let next = now + this.#interval * (1 + this.#jitter * this.#random());
    if (this.#leader) {
      for (const e of this.#entries.values()) {
        if (e.nextAttemptAt !== undefined && e.nextAttemptAt > now) next = Math.min(next, e.nextAttemptAt);
      }
    }
    return next;
  }

  async #loadState(): Promise<void> {
    const file = this.#o.stateFile;
    if (!file) return;
    let state: StateFile;
    try {
      state = JSON.parse(await readFile(file, "utf8")) as StateFile;
    } catch {
      return;
    }
    for (const [key, s] of Object.entries(state.resources ?? {})) {
      const e = this.#entries.get(key);
      if (e) e.lastApplied = s.lastApplied;
      else this.#pendingState.set(key, s.lastApplied);
    }
  }

  /** Revisions read from the state file for resources not seen in a pass yet. */
  readonly #pendingState = new Map<string, AppliedRevision>();

  async #saveState(): Promise<void> {
    const file = this.#o.stateFile;
    if (!file) return;
    const resources: StateFile["resources"] = {};
    for (const e of this.#entries.values())
      if (e.lastApplied) resources[e.key] = { lastApplied: e.lastApplied };
    const doc: StateFile = { kind: "capstan.dev/run-state/v1", resources };
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
    await rename(tmp, file);
  }

  #set(e: Entry, next: ConditionsInput, at?: number): void {
    const before = e.conditions.find((c) => c.type === "Ready");
    e.conditions = setConditions(e.conditions, next, this.#iso());
    if (before?.reason !== next.reason || (before.status === "True") !== next.ready) {
      this.#emit({
        type: "condition",
        address: e.address,
        ready: next.ready,
        reason: next.reason,
        previous: before?.reason,
        message: next.message,
      });
    }
    e.nextAttemptAt = at;
    this.metrics.resourceReady.set({ kind: e.kind, project: e.project, name: e.name }, next.ready ? 1 : 0);
  }

  /**
   * pass runs one pass now (the loop calls it; tests and benchmarks may too) and
   * returns its summary. It never throws for GCP or spec problems: they end up in the
   * summary and the statuses.
   */
  async pass(): Promise<PassSummary> {
    const summary = await this.#pass();
    // Not while stopping: the grace period is for finishing up, not for housekeeping.
    if (!this.#stopping) this.#o.afterPass?.();
    return summary;
  }

  async #pass(): Promise<PassSummary> {
    const id = ++this.#passes;
    const started = this.#clock.now();
    this.#passStartedAt = started;
    const calls = this.metrics.calls;
    const abort = new AbortController();
    this.#passAbort = abort;
    const leader = this.#leader;
    const log = this.#log.child({ pass: id });
    this.#emit({ type: "pass-started", pass: id, leader });
    const end = (outcome: PassSummary["outcome"], message: string): PassSummary => {
      const finished = this.#clock.now();
      const summary: PassSummary = {
        id,
        startedAt: this.#iso(started),
        finishedAt: this.#iso(finished),
        outcome,
        message,
        calls: this.metrics.calls - calls,
      };
      this.#lastPass = summary;
      this.#ready = true;
      this.metrics.passes.inc({ outcome });
      this.metrics.passDuration.observe((finished - started) / 1000);
      this.metrics.queueDepth.set(
        [...this.#entries.values()].filter(
          (e) => e.pendingChanges.length > 0 && !e.suspended && !(e.driftOpen && e.onDrift === "report"),
        ).length,
      );
      log[outcome === "failed" || outcome === "invalid-specs" ? "warn" : "info"](
        { outcome, calls: summary.calls, elapsedMs: finished - started, role: leader ? "leader" : "standby" },
        message,
      );
      this.#emit({ type: "pass-finished", summary });
      return summary;
    };

    let snapshot: SpecSnapshot;
    try {
      snapshot = await this.#o.source.snapshot();
    } catch (err) {
      this.#sourceProblems = [messageOf(err)];
      return end("failed", `could not read the specs: ${messageOf(err)}`);
    }
    if (snapshot.specs.problems.length > 0) {
      // Acting on part of a broken set could break what the rest protects: change nothing.
      this.#sourceProblems = snapshot.specs.problems.map(formatProblem);
      log.warn({ problems: this.#sourceProblems.slice(0, 20), commit: snapshot.commit }, "invalid specs");
      return end(
        "invalid-specs",
        `${snapshot.specs.problems.length} problem(s) in the specs; nothing was changed`,
      );
    }
    this.#snapshot = snapshot;
    this.#sourceProblems = [];

    let result: PlanResult;
    try {
      result = await buildPlan({
        specs: snapshot.specs,
        gcp: this.#o.gcp,
        reconcilers: checksOnChanges(this.#o.reconcilers),
        clock: this.#clock,
        signal: abort.signal,
        // A standby only reads: server-side checks may send validate-only writes.
        serverChecks: leader,
      });
    } catch (err) {
      if (abort.signal.aborted) return end("interrupted", "interrupted while observing");
      return end("failed", `could not observe live state: ${messageOf(err)}`);
    }

    this.#emit({ type: "planned", pass: id, result });
    const entries = this.#refreshEntries(result.planned);
    const refusedBy = new Map<string, string[]>();
    for (const p of result.plan.problems) {
      if (p.severity === "error" && p.address)
        refusedBy.set(p.address, [...(refusedBy.get(p.address) ?? []), p.message]);
    }

    // Decide for every resource; only those with changes can run.
    const wanting: string[] = [];
    const decisions = new Map<string, Decision>();
    for (const p of result.planned) {
      const e = entries.get(keyOf(p))!;
      // Plan problems name resources by `Kind/name` only.
      const d = this.#decide(p, e, leader, refusedBy.get(p.address), snapshot);
      if (!d) continue;
      if (d.run) wanting.push(e.key);
      else decisions.set(e.key, d);
    }
    for (const [key, d] of decisions) if (!d.run) this.#set(entries.get(key)!, d.set, d.at);
    if (!leader) {
      const pending = [...entries.values()].filter((e) => e.pendingChanges.length > 0).length;
      return end(
        "planned",
        `standby: ${pending} resource(s) differ from their specs; the leader applies them`,
      );
    }

    const admission = this.#queue.admit(wanting);
    for (const [key, d] of admission.deferred) {
      const e = entries.get(key)!;
      if (d.why === "backoff") {
        const stalled = e.conditions.find((c) => c.type === "Stalled")?.status === "True";
        const reason = e.conditions.find((c) => c.type === "Ready")?.reason ?? "ApplyFailed";
        this.#set(
          e,
          {
            ready: false,
            reconciling: !stalled,
            stalled,
            reason,
            message: `${e.lastError?.message ?? "failed"}; retrying in ${seconds(d.at - this.#clock.now())} (failure ${this.#queue.failures(key)})`,
          },
          d.at,
        );
      } else {
        this.#set(
          e,
          {
            ready: false,
            reconciling: true,
            stalled: false,
            reason: "QuotaWait",
            message: "waits for the controller's overall reconcile rate",
          },
          d.at,
        );
      }
    }
    let outcome: PassSummary["outcome"] = "converged";
    try {
      // Resources that share no capacity policy cannot break each other's invariants:
      // each group runs on its own, so one failing step rolls back only its own group.
      const groups = components(admission.admitted, policyMates(result), (k) => entries.get(k)!.address);
      const outcomes = await mapLimit(groups, GROUP_CONCURRENCY, (group) =>
        this.#executeAll(result, new Set(group), entries, snapshot, abort.signal, log, id),
      );
      if (outcomes.includes("interrupted")) outcome = "interrupted";
      else if (outcomes.includes("partial")) outcome = "partial";
    } finally {
      for (const a of admission.admitted) this.#queue.done(a);
    }
    await this.#saveStateIfLeader();
    const waiting = [...entries.values()].filter(
      (e) => e.conditions.find((c) => c.type === "Ready")?.status !== "True",
    );
    if (outcome === "converged" && waiting.length > 0) outcome = "partial";
    const reason = abort.signal.reason as unknown;
    const message =
      outcome === "interrupted"
        ? reason instanceof ControllerError && reason.code === "LEASE_LOST"
          ? `${reason.message}; stopped after the call in flight, the new leader resumes from live state`
          : "interrupted after the call in flight; the next pass resumes from live state"
        : waiting.length === 0
          ? `${entries.size} resource(s) up to date`
          : `${entries.size - waiting.length} of ${entries.size} resource(s) up to date; waiting: ${waiting
              .slice(0, 5)
              .map((e) => `${e.address} (${e.conditions.find((c) => c.type === "Ready")?.reason})`)
              .join(", ")}${waiting.length > 5 ? ", ..." : ""}`;
    return end(outcome, message);
  }

  async #saveStateIfLeader(): Promise<void> {
    if (!this.#leader) return;
    await this.#saveState().catch((err: unknown) => this.#log.warn({ err }, "could not save state"));
  }

  /** Brings the entries in line with the specs of this pass: new ones added, removed ones dropped. */
  #refreshEntries(planned: readonly Planned[]): Map<string, Entry> {
    const keep = new Set(planned.map(keyOf));
    for (const [key, e] of this.#entries) {
      if (keep.has(key)) continue;
      this.#entries.delete(key);
      this.metrics.resourceReady.remove({ kind: e.kind, project: e.project, name: e.name });
    }
    this.#queue.prune(keep);
    for (const p of planned) {
      const r = p.resource;
      const ann = r.metadata.annotations ?? {};
      const key = keyOf(p);
      let e = this.#entries.get(key);
      if (!e) {
        e = {
          key,
          address: p.address,
          project: r.metadata.project,
          kind: p.ref.kind,
          name: r.metadata.name,
          gcpName: r.gcpName ?? p.address,
          specHash: "",
          onDrift: "correct",
          suspended: false,
          conditions: [],
          lastApplied: this.#pendingState.get(key),
          pendingChanges: [],
          lastError: undefined,
          nextAttemptAt: undefined,
          driftCount: 0,
          driftOpen: false,
          reconcileId: undefined,
        };
        this.#pendingState.delete(key);
        this.#entries.set(key, e);
      }
      e.specHash = specHash(r);
      // Anything but an explicit `correct` is taken as `report`: a misspelt annotation
      // must not turn into writes the author meant to prevent.
      e.onDrift = (ann[ANNOTATION_ON_DRIFT] ?? "correct") === "correct" ? "correct" : "report";
      e.suspended = ann[ANNOTATION_SUSPEND] === "true";
      e.pendingChanges = p.changes.map((c) => c.field);
    }
    return this.#entries;
  }

  /** Decides what a pass does with one resource; undefined when its state is already set. */
  #decide(
    p: Planned,
    e: Entry,
    leader: boolean,
    refused: readonly string[] | undefined,
    snapshot: SpecSnapshot,
  ): Decision | undefined {
    const now = this.#clock.now();
    if (!p.observed) {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: true,
          reason: "NotFound",
          message: `${e.gcpName} does not exist; capstan never creates resources`,
        },
      };
    }
    if (p.changes.length === 0) {
      e.driftOpen = false;
      if (leader) {
        // The live resource has what this spec asks: that revision counts as applied.
        if (e.lastApplied?.specHash !== e.specHash || e.lastApplied.commit !== snapshot.commit) {
          e.lastApplied = { specHash: e.specHash, commit: snapshot.commit, at: this.#iso(now) };
        }
        this.#queue.forget(e.key);
        e.lastError = undefined;
      }
      const keep = e.conditions.find((c) => c.type === "Ready");
      const reason: Reason =
        keep?.status === "True" && keep.reason === "DriftCorrected" ? "DriftCorrected" : "UpToDate";
      return {
        run: false,
        set: {
          ready: true,
          reconciling: false,
          stalled: false,
          reason,
          message: reason === "DriftCorrected" ? (keep?.message ?? "") : "live matches the spec",
        },
      };
    }
    const fields = p.changes.map((c) => c.field).join(", ");
    const drift = e.lastApplied !== undefined && e.lastApplied.specHash === e.specHash;
    if (e.suspended) {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: false,
          reason: "Suspended",
          message: `suspended (${ANNOTATION_SUSPEND}); differs from its spec in ${fields}`,
        },
      };
    }
    if (drift && !e.driftOpen) {
      e.driftOpen = true;
      e.driftCount += 1;
      this.metrics.driftFound.inc({
        kind: e.kind,
        action: e.onDrift === "report" ? "reported" : "corrected",
      });
      this.#log
        .child({ kind: e.kind, name: e.name })
        .warn({ fields: p.changes.map((c) => c.field), onDrift: e.onDrift }, "drift found");
      this.#emit({
        type: "drift-found",
        address: e.address,
        fields: p.changes.map((c) => c.field),
        action: e.onDrift === "report" ? "reported" : "corrected",
      });
    }
    if (drift && e.onDrift === "report") {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: false,
          reason: "DriftReported",
          message: `changed outside capstan (${fields}); ${ANNOTATION_ON_DRIFT}: report, so it is left as it is`,
        },
      };
    }
    if (!leader) {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: false,
          reason: "Pending",
          message: `standby: ${fields} differ from the spec; the leader applies them`,
        },
      };
    }
    if (refused?.length) {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: true,
          reason: "Refused",
          message: refused.join("; "),
        },
      };
    }
    if (p.disruptions.some((d) => d.kind === "replacement")) {
      return {
        run: false,
        set: {
          ready: false,
          reconciling: false,
          stalled: true,
          reason: "Refused",
          message: `${p.disruptions.map((d) => d.reason).join("; ")}: only a replacement can make this change, which capstan never does`,
        },
      };
    }
    if (p.disruptions.length > 0 && (this.#o.maintenanceWindows ?? "wait") === "wait") {
      const rec = this.#o.reconcilers[p.ref.kind] as Reconciler<ResourceKind, unknown>;
      const window = rec.maintenanceWindow?.(p.resource as never);
      const wait = window ? msUntilWindow(now, window) : 0;
      if (window && wait > 0) {
        return {
          run: false,
          at: now + wait,
          set: {
            ready: false,
            reconciling: true,
            stalled: false,
            reason: "MaintenanceWindow",
            message: `${p.disruptions.map((d) => d.kind).join(", ")} waits for the maintenance window ${describeWindow(window)}, opening in ${seconds(wait)}`,
          },
        };
      }
    }
    return { run: true };
  }

  /**
   * Executes the plan for `include`, round after round: a round that fails takes the
   * resources it can blame out (they back off) and the next round goes on with the rest.
   */
  async #executeAll(
    result: PlanResult,
    include: Set<string>,
    entries: Map<string, Entry>,
    snapshot: SpecSnapshot,
    signal: AbortSignal,
    passLog: Logger,
    passId: number,
  ): Promise<PassSummary["outcome"]> {
    const byKey = new Map(result.planned.map((p) => [keyOf(p), p]));
    // The executor names resources by `Kind/name`, unique within a group (see components).
    const keyByAddress = new Map([...include].map((k) => [byKey.get(k)!.address, k]));
    const toKeys = (addresses: readonly string[]) =>
      addresses.flatMap((a) => (keyByAddress.has(a) ? [keyByAddress.get(a)!] : []));
    const mates = policyMates(result);
    const loggers = new Map<string, Logger>();
    for (const key of include) {
      const e = entries.get(key)!;
      e.reconcileId = `${passId}.${++this.#reconcileSeq}`;
      const log = this.#log.child({ kind: e.kind, name: e.name, reconcileId: e.reconcileId });
      loggers.set(key, log);
      const p = byKey.get(key)!;
      log.info(
        {
          changes: p.changes.map((c) => ({ field: c.field, from: c.before, to: c.after })),
          drift: e.driftOpen,
        },
        "reconcile started",
      );
    }
    const fail = (key: string, reason: Reason, message: string) => {
      const e = entries.get(key)!;
      // Waiting for quota or for a running operation is progress, not a stall.
      const quota = reason === "QuotaWait" || reason === "OperationInProgress";
      const delay = this.#queue.failed(key);
      e.lastError = { message, at: this.#iso() };
      this.metrics.failures.inc({ kind: e.kind, reason });
      this.#set(
        e,
        {
          ready: false,
          reconciling: quota,
          stalled: !quota,
          reason,
          message: `${message}; retrying in ${seconds(delay)} (failure ${this.#queue.failures(key)})`,
        },
        this.#clock.now() + delay,
      );
      loggers.get(key)?.warn({ reason, error: message, retryInMs: delay }, "reconcile failed");
    };
    const hold = (key: string, reason: Reason, message: string) => {
      const e = entries.get(key)!;
      this.#set(e, { ready: false, reconciling: true, stalled: false, reason, message });
      loggers.get(key)?.info({ reason, detail: message }, "reconcile deferred");
    };

    for (let round = 0; include.size > 0 && round <= byKey.size; round++) {
      const restricted = restrictPlan(result, include);
      if (restricted.plan.problems.length > 0) {
        // Leaving some resources out broke the capacity order for their policy mates:
        // those wait for them. Otherwise the specs themselves cannot be rolled out safely.
        const out = [...byKey.values()]
          .filter((p) => p.changes.length > 0 && !include.has(keyOf(p)))
          .map(keyOf);
        // Hold back as few of them as will do: consumers (Cloud Run services) first, since
        // demand is what outgrows a provider that has not been raised yet.
        const dependents = [...include]
          .filter((a) => out.some((o) => mates.get(o)?.has(a)))
          .sort((a, b) => consumerFirst(byKey.get(a)!) - consumerFirst(byKey.get(b)!));
        const why = restricted.plan.problems.map((p) => p.message).join("; ");
        if (dependents.length > 0) {
          for (const a of dependents) {
            include.delete(a);
            const blockers = out.filter((o) => mates.get(o)?.has(a));
            hold(
              a,
              "DependencyNotReady",
              `waits for ${blockers.map((b) => byKey.get(b)!.address).join(", ")} to converge first: ${why}`,
            );
            if (restrictPlan(result, include).plan.problems.length === 0) break;
          }
          continue;
        }
        for (const a of include) {
          const e = entries.get(a)!;
          this.#set(e, { ready: false, reconciling: false, stalled: true, reason: "Refused", message: why });
          e.lastError = { message: why, at: this.#iso() };
        }
        return "partial";
      }

      const errors = new Map<string, unknown>();
      const addressByRef = new Map(result.planned.map((p) => [refKey(p.ref), p.address]));
      let step: { addresses: string[] } | undefined;
      let gateFailed = false;
      const execution = ++this.#executionSeq;
      const progress = (ev: ProgressEvent) => {
        this.#emit({ type: "progress", pass: passId, execution, event: ev });
        switch (ev.type) {
          case "step-start":
            step = { addresses: [...new Set(ev.step.changes.map((c) => c.address))] };
            gateFailed = false;
            passLog.info(
              {
                event: ev.type,
                step: ev.step.index,
                total: ev.total,
                phase: ev.step.phase,
                resources: step.addresses,
              },
              "step started",
            );
            return;
          case "gate":
            if (!ev.ok) gateFailed = true;
            passLog[ev.ok ? "info" : "warn"]({ event: ev.type, ...ev }, "gate sample");
            return;
          case "write": {
            // Its log line comes from the fence, which sees every write (rollbacks too).
            const e = entries.get(keyByAddress.get(ev.address) ?? "");
            if (e)
              this.#set(e, {
                ready: false,
                reconciling: true,
                stalled: false,
                reason: "Progressing",
                message: `writing ${ev.fields.join(", ")}`,
              });
            return;
          }
          case "step-done":
            passLog.info({ event: ev.type, step: ev.step.index, elapsedMs: ev.elapsedMs }, "step done");
            return;
          case "invariants":
            passLog.info(
              {
                event: ev.type,
                results: ev.results.map((r) => ({ id: r.id, ok: r.ok, subject: r.subject })),
              },
              "invariants",
            );
            return;
          default: {
            const { type, ...fields } = ev;
            const target = "address" in ev ? loggers.get(keyByAddress.get(ev.address) ?? "") : undefined;
            const level = type === "rollback" || type === "stopped" ? "warn" : "info";
            (target ?? passLog)[level]({ event: type, ...fields }, type);
          }
        }
      };
      let report: ApplyReport;
      this.#emit({ type: "execution-started", pass: passId, execution, result: restricted });
      try {
        report = await execute({
          result: restricted,
          gcp: this.#o.gcp,
          reconcilers: fenced(
            this.#o.reconcilers,
            errors,
            addressByRef,
            async (address, fields, disruptive) => {
              const term = await this.#fence(signal, disruptive);
              (loggers.get(keyByAddress.get(address) ?? "") ?? passLog).info(
                { event: "write", fields, term, disruptive },
                "write",
              );
            },
          ),
          clock: this.#clock,
          gates: this.#o.gates,
          progress,
          signal,
          maintenanceWindows: this.#o.maintenanceWindows ?? "wait",
          ...(this.#o.operationTimeoutMs !== undefined
            ? { operationTimeoutMs: this.#o.operationTimeoutMs }
            : {}),
          ...(this.#o.readyTimeoutMs !== undefined ? { readyTimeoutMs: this.#o.readyTimeoutMs } : {}),
        });
      } catch (err) {
        // execute reports step failures as data; a throw is a failure outside any step
        // (e.g. while waiting for a window): blame every resource of this round.
        if (signal.aborted)
          report = { outcome: "interrupted", message: messageOf(err), steps: [], rolledBack: [], live: [] };
        else report = { outcome: "failed", message: messageOf(err), steps: [], rolledBack: [], live: [] };
      }
      this.#emit({ type: "execution-finished", pass: passId, execution, report });

      if (report.outcome === "converged" || report.outcome === "nothing-to-do") {
        for (const a of include) {
          const e = entries.get(a)!;
          const p = byKey.get(a)!;
          const corrected = e.driftOpen;
          this.#queue.forget(a);
          e.lastApplied = { specHash: e.specHash, commit: snapshot.commit, at: this.#iso() };
          e.lastError = undefined;
          e.driftOpen = false;
          e.pendingChanges = [];
          this.metrics.changesApplied.inc({ kind: e.kind }, p.changes.length);
          this.#set(e, {
            ready: true,
            reconciling: false,
            stalled: false,
            reason: corrected ? "DriftCorrected" : "UpToDate",
            message: corrected
              ? `changed outside capstan; put back ${p.changes.map((c) => c.field).join(", ")}`
              : `applied ${p.changes.map((c) => c.field).join(", ")}`,
          });
          loggers.get(a)?.info({ reason: corrected ? "DriftCorrected" : "UpToDate" }, "reconcile succeeded");
        }
        return "converged";
      }
      if (report.outcome === "interrupted") {
        for (const a of include) {
          hold(
            a,
            "Progressing",
            "interrupted after the call in flight; the next pass resumes from live state",
          );
        }
        return "interrupted";
      }
      if (report.outcome === "refused") {
        for (const a of include) fail(a, "Refused", report.message);
        return "partial";
      }

      // failed or rolled-back: find whom to blame, take them out, go on with the rest.
      const stepAddrs = step?.addresses ?? [];
      const written = report.steps.at(-1)?.written ?? [];
      let blamed: string[];
      if (errors.size > 0) blamed = [...errors.keys()];
      else if (gateFailed) blamed = written.length ? [...written] : stepAddrs;
      else {
        const named = stepAddrs.filter((a) => report.message.includes(a));
        blamed = named.length ? named : written.length ? [...written] : stepAddrs;
      }
      const busy = new Set(report.busy ?? []);
      if (busy.size > 0) blamed = [...new Set([...blamed, ...busy])];
      let keys = toKeys(blamed).filter((k) => include.has(k));
      if (keys.length === 0) keys = [...include];
      for (const a of keys) {
        const err = errors.get(byKey.get(a)!.address);
        const reason: Reason = busy.has(byKey.get(a)!.address)
          ? "OperationInProgress"
          : err !== undefined && classify(err) === "throttled"
            ? "QuotaWait"
            : gateFailed
              ? "GateFailed"
              : report.outcome === "rolled-back"
                ? "RolledBack"
                : "ApplyFailed";
        fail(a, reason, err !== undefined ? `${messageOf(err)} (${report.message})` : report.message);
        include.delete(a);
      }
    }
    return "partial";
  }

  /**
   * Fencing, before every write: the lease's cheap check (its last confirmed renewal
   * against the renew deadline), and a re-read of the lease before a disruptive one.
   * Returns the term the write is made under; a lost lease aborts the pass instead.
   */
  async #fence(signal: AbortSignal, disruptive: boolean): Promise<number> {
    try {
      return disruptive ? await this.#o.lease.verify(signal) : this.#o.lease.fence();
    } catch (cause) {
      if (!(cause instanceof LeaseLostError)) throw cause;
      this.#leader = false;
      this.metrics.leader.set(0);
      this.#log.warn({ why: cause.message }, "lost the lease");
      const err = new ControllerError("LEASE_LOST", cause.message, { cause });
      this.#passAbort?.abort(err);
      signal.throwIfAborted();
      throw err;
    }
  }
}

/**
 * checksOnChanges skips a reconciler's server-side checks for resources without changes:
 * they vet changes before writing, and a steady pass must cost list calls only, not one
 * read per resource.
 */
function checksOnChanges(reconcilers: Reconcilers): Reconcilers {
  const out: Record<string, Reconciler<ResourceKind, unknown>> = {};
  for (const [kind, rec] of Object.entries(reconcilers) as [
    ResourceKind,
    Reconciler<ResourceKind, unknown>,
  ][]) {
    if (!rec) continue;
    const check = rec.check;
    out[kind] = check
      ? {
          ...rec,
          check: (gcp, resource, observed, changes) =>
            changes.length > 0
              ? check.call(rec, gcp, resource, observed, changes)
              : Promise.resolve({ problems: [], notes: [] }),
        }
      : rec;
  }
  return out as Reconcilers;
}

/** GROUP_CONCURRENCY bounds the independent groups executed at once; the rate limiter bounds their calls. */
const GROUP_CONCURRENCY = 16;

/**
 * components splits resource keys into groups connected by shared capacity policies, in
 * first-seen order. The executor names resources by `Kind/name`, so two resources of one
 * name (in two projects) never share a group: the later one gets a group of its own.
 */
function components(
  keys: readonly string[],
  mates: ReadonlyMap<string, ReadonlySet<string>>,
  addressOf: (key: string) => string,
): string[][] {
  const order = new Map(keys.map((k, i) => [k, i]));
  const seen = new Set<string>();
  const out: string[][] = [];
  for (const start of keys) {
    if (seen.has(start)) continue;
    const group: string[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const a = stack.pop()!;
      group.push(a);
      for (const b of mates.get(a) ?? []) {
        if (order.has(b) && !seen.has(b)) {
          seen.add(b);
          stack.push(b);
        }
      }
    }
    group.sort((x, y) => order.get(x)! - order.get(y)!);
    const names = new Set<string>();
    const kept: string[] = [];
    for (const k of group) {
      if (names.has(addressOf(k))) out.push([k]);
      else {
        names.add(addressOf(k));
        kept.push(k);
      }
    }
    out.push(kept);
  }
  return out;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** consumerFirst orders capacity consumers before providers. */
function consumerFirst(p: Planned): number {
  return p.ref.kind === "CloudRunService" ? 0 : 1;
}

/** keyOf is a planned resource's identity, unique across projects (`Kind:full GCP name`). */
function keyOf(p: Planned): string {
  return p.resource.id;
}

/** refKey identifies a live resource by kind, project, location and id. */
function refKey(ref: ResourceRef): string {
  return `${ref.kind}|${ref.project}|${ref.location}|${ref.id}`;
}

/**
 * fenced wraps the reconcilers the executor calls: every write first checks that this
 * process still holds the lease (re-reading it before a disruptive write), and an error of a read or write is recorded against the
 * resource it concerns, so a failed step can be blamed on the right resource.
 */
function fenced(
  reconcilers: Reconcilers,
  errors: Map<string, unknown>,
  addressByRef: ReadonlyMap<string, string>,
  fence: (address: string, fields: readonly string[], disruptive: boolean) => Promise<void>,
): Reconcilers {
  // The planned resource's address (unique in the spec set, unlike `Kind/id`).
  const addressOfRef = (ref: ResourceRef) => addressByRef.get(refKey(ref)) ?? `${ref.kind}/${ref.id}`;
  const out: Record<string, Reconciler<ResourceKind, unknown>> = {};
  for (const [kind, rec] of Object.entries(reconcilers) as [
    ResourceKind,
    Reconciler<ResourceKind, unknown>,
  ][]) {
    if (!rec) continue;
    const record = <T>(address: string, p: Promise<T>): Promise<T> =>
      p.catch((err: unknown) => {
        if (!(err instanceof ControllerError)) errors.set(address, err);
        throw err;
      });
    const pending = rec.pending;
    out[kind] = {
      ...rec,
      get: (gcp, ref, signal) => record(addressOfRef(ref), rec.get.call(rec, gcp, ref, signal)),
      write: async (gcp, observed, resource, changes, options) => {
        const disruptive = !options?.validateOnly && rec.disruptions(changes, observed, resource).length > 0;
        await fence(
          addressOfRef(observed.ref),
          changes.map((c) => c.field),
          disruptive,
        );
        return record(
          addressOfRef(observed.ref),
          rec.write.call(rec, gcp, observed, resource, changes, options),
        );
      },
      ...(pending
        ? {
            pending: (gcp: Gcp, ref: ResourceRef, signal?: AbortSignal) =>
              record(addressOfRef(ref), pending.call(rec, gcp, ref, signal)),
          }
        : {}),
    };
  }
  return out as Reconcilers;
}
