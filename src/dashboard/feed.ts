import { type GateTarget, gateTargets } from "../apply/execute.ts";
import type { ProgressEvent } from "../apply/progress.ts";
import { RolloutRecorder } from "../apply/record.ts";
import type { InvariantResult } from "../capacity/invariants.ts";
import { addressOf } from "../capacity/model.ts";
import type { Clock } from "../clock/index.ts";
import type { ControllerEvent, ControllerObserver } from "../controller/events.ts";
import type { Reason } from "../controller/status.ts";
import type { PlanResult } from "../plan/build.ts";
import type { ResourceRef } from "../reconcilers/types.ts";
import { pageValue } from "../render/html.ts";
import { describeDisruption } from "../render/text.ts";
import { consoleUrl } from "./console.ts";

/** DashboardEventType is what a recent event is about. */
export type DashboardEventType =
  | "pass"
  | "drift"
  | "applied"
  | "rolled-back"
  | "failed"
  | "condition"
  | "step"
  | "gate"
  | "rollout"
  | "lease";

/** DashboardEvent is one entry of the recent-events ring (`/events`, `/events/stream`). */
export interface DashboardEvent {
  /** Increases by one per event, from 1; the SSE event id. */
  readonly seq: number;
  /** Clock time (RFC 3339). */
  readonly at: string;
  readonly type: DashboardEventType;
  readonly level: "info" | "warning" | "error";
  /** `Kind/name`, when the event concerns one resource. */
  readonly address?: string | undefined;
  readonly pass?: number | undefined;
  readonly message: string;
}

/** PendingChange is one field that differs from its spec, printed for a page (secrets hidden). */
export interface PendingChange {
  readonly field: string;
  readonly before: string;
  readonly after: string;
}

/** ResourceDigest is what the dashboard keeps of one planned resource. */
export interface ResourceDigest {
  readonly address: string;
  readonly ref: ResourceRef;
  readonly consoleUrl: string;
  readonly changes: readonly PendingChange[];
  /** What the changes cost, e.g. `SQL restart (expected downtime ~60s): ...`. */
  readonly disruptions: readonly string[];
}

/** PlanDigest is what the dashboard keeps of the latest pass's plan: small, no live objects. */
export interface PlanDigest {
  readonly pass: number;
  readonly observedAt: string;
  readonly resources: ReadonlyMap<string, ResourceDigest>;
  /** Each CapacityPolicy with the addresses of the resources it names. */
  readonly policies: readonly { readonly address: string; readonly members: readonly string[] }[];
  /** The capacity invariants of live state. */
  readonly invariants: readonly InvariantResult[];
  /** Every gate of every policy on its subjects: what the charts show. */
  readonly targets: readonly GateTarget[];
}

/** RolloutEntry is one run of the executor, as recorded. */
export interface RolloutEntry {
  readonly execution: number;
  readonly pass: number;
  readonly recorder: RolloutRecorder;
  finished: boolean;
}

/** FeedChange tells a subscriber that something changed: a new event, or the rollout's progress. */
export interface FeedChange {
  readonly event?: DashboardEvent | undefined;
}

/** Options of {@link DashboardFeed}. */
export interface DashboardFeedOptions {
  readonly clock: Clock;
  /**
   * Recent events kept (the ring of `/events`); the oldest go first.
   * @default 500
   */
  readonly capacity?: number;
  /**
   * Runs of the executor kept with their step records; the oldest finished go first.
   * @default 5
   */
  readonly rollouts?: number;
}

const FAILED: ReadonlySet<Reason> = new Set(["ApplyFailed", "Refused", "NotFound"]);
const ROLLED_BACK: ReadonlySet<Reason> = new Set(["RolledBack", "GateFailed"]);
const WARN: ReadonlySet<Reason> = new Set(["DriftReported", "QuotaWait", "DependencyNotReady", "Suspended"]);

function digestPlan(pass: number, result: PlanResult): PlanDigest {
  const resources = new Map<string, ResourceDigest>();
  for (const p of result.planned) {
    resources.set(p.address, {
      address: p.address,
      ref: p.ref,
      consoleUrl: consoleUrl(p.ref),
      changes: p.changes.map((c) => ({
        field: c.field,
        before: pageValue(c, c.before),
        after: pageValue(c, c.after),
      })),
      disruptions: p.disruptions.map(describeDisruption),
    });
  }
  const byName = new Map([...result.world.resources.values()].map((r) => [r.gcpName, addressOf(r)]));
  const policies = result.world.policies.map((pol) => ({
    address: addressOf(pol),
    members: [
      ...new Set(
        pol.spec.members
          .flatMap((m) => [m.service.name, m.sqlInstance?.name, m.connector?.name])
          .flatMap((n) => (n !== undefined && byName.has(n) ? [byName.get(n)!] : [])),
      ),
    ],
  }));
  return {
    pass,
    observedAt: result.plan.observedAt,
    resources,
    policies,
    invariants: result.steps.start,
    targets: gateTargets(result, undefined),
  };
}

/**
 * DashboardFeed is the dashboard's memory of `capstan run`, fed by the controller's typed
 * events ({@link DashboardFeed.observer}): a fixed-size ring of recent events, the latest
 * plan reduced to what the pages show, and the step records of the last few rollouts.
 * Everything it holds is bounded, however long the process runs.
 */
export class DashboardFeed {
  readonly #clock: Clock;
  readonly #capacity: number;
  readonly #maxRollouts: number;
  readonly #ring: DashboardEvent[] = [];
  #seq = 0;
  #plan: PlanDigest | undefined;
  readonly #rollouts: RolloutEntry[] = [];
  readonly #listeners = new Set<(change: FeedChange) => void>();
  /** Per pass: whether it ran the executor, and the outcome of the pass before. */
  #passExecuted = false;
  #lastOutcome: string | undefined;

  constructor(options: DashboardFeedOptions) {
    this.#clock = options.clock;
    this.#capacity = options.capacity ?? 500;
    this.#maxRollouts = options.rollouts ?? 5;
    for (const [name, v] of [
      ["capacity", this.#capacity],
      ["rollouts", this.#maxRollouts],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new TypeError(`Expected \`${name}\` to be an integer >= 1, got \`${v}\``);
    }
  }

  /** observer is what to pass as the controller's `observer`. */
  readonly observer: ControllerObserver = (e) => this.#observe(e);

  /** capacity is how many events the ring keeps. */
  get capacity(): number {
    return this.#capacity;
  }

  /** latestSeq is the sequence number of the newest event (0 before the first). */
  get latestSeq(): number {
    return this.#seq;
  }

  /** events returns the kept events with a sequence number above `since`, oldest first. */
  events(since = 0): readonly DashboardEvent[] {
    if (since >= this.#seq) return [];
    return this.#ring.filter((e) => e.seq > since);
  }

  /** plan is the latest pass's plan, reduced; undefined before the first pass planned. */
  get plan(): PlanDigest | undefined {
    return this.#plan;
  }

  /** rollouts are the kept runs of the executor, newest first. */
  get rollouts(): readonly RolloutEntry[] {
    return [...this.#rollouts].reverse();
  }

  /** subscribe calls `listener` on every change until the returned function is called. */
  subscribe(listener: (change: FeedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(change: FeedChange): void {
    for (const l of this.#listeners) l(change);
  }

  #push(
    type: DashboardEventType,
    level: DashboardEvent["level"],
    message: string,
    extra: { address?: string; pass?: number } = {},
  ): void {
    const event: DashboardEvent = {
      seq: ++this.#seq,
      at: new Date(this.#clock.now()).toISOString(),
      type,
      level,
      ...extra,
      message,
    };
    this.#ring.push(event);
    if (this.#ring.length > this.#capacity) this.#ring.splice(0, this.#ring.length - this.#capacity);
    this.#notify({ event });
  }

  #observe(e: ControllerEvent): void {
    switch (e.type) {
      case "pass-started":
        this.#passExecuted = false;
        return;
      case "planned":
        this.#plan = digestPlan(e.pass, e.result);
        this.#notify({});
        return;
      case "execution-started": {
        this.#passExecuted = true;
        const recorder = new RolloutRecorder({
          clock: this.#clock,
          steps: e.result.steps.steps,
          start: e.result.steps.start,
        });
        this.#rollouts.push({ execution: e.execution, pass: e.pass, recorder, finished: false });
        while (this.#rollouts.length > this.#maxRollouts) {
          const i = this.#rollouts.findIndex((r) => r.finished);
          this.#rollouts.splice(Math.max(i, 0), 1);
        }
        this.#notify({});
        return;
      }
      case "progress": {
        const entry = this.#rollouts.find((r) => r.execution === e.execution);
        entry?.recorder.sink(e.event);
        this.#progressEvent(e.pass, e.event);
        return;
      }
      case "execution-finished": {
        const entry = this.#rollouts.find((r) => r.execution === e.execution);
        if (entry) {
          entry.recorder.finish(e.report);
          entry.finished = true;
        }
        if (e.report.outcome === "nothing-to-do") {
          this.#notify({});
          return;
        }
        const ok = e.report.outcome === "converged";
        this.#push(
          "rollout",
          ok ? "info" : e.report.outcome === "interrupted" ? "warning" : "error",
          `rollout ${e.report.outcome}: ${e.report.message}`,
          { pass: e.pass },
        );
        return;
      }
      case "drift-found":
        this.#push(
          "drift",
          "warning",
          `drift found in ${e.fields.join(", ")}: ${e.action === "corrected" ? "correcting it" : "reported only (capstan.dev/on-drift: report)"}`,
          { address: e.address },
        );
        return;
      case "condition": {
        // A resource seen for the first time and already up to date is not news.
        if (e.previous === undefined && e.reason === "UpToDate") return;
        const type: DashboardEventType =
          e.ready && e.previous !== undefined
            ? "applied"
            : ROLLED_BACK.has(e.reason)
              ? "rolled-back"
              : FAILED.has(e.reason)
                ? "failed"
                : "condition";
        const level =
          type === "failed" || type === "rolled-back" ? "error" : WARN.has(e.reason) ? "warning" : "info";
        this.#push(type, level, `${e.previous ?? "new"} → ${e.reason}: ${e.message}`, { address: e.address });
        return;
      }
      case "lease":
        this.#push(
          "lease",
          e.leader ? "info" : "warning",
          e.leader
            ? "this instance holds the lease and applies changes"
            : `standby: ${e.holder ? `${e.holder} holds the lease` : "another instance holds the lease"}; this instance only plans`,
        );
        return;
      case "pass-finished": {
        const s = e.summary;
        const changed = s.outcome !== this.#lastOutcome;
        this.#lastOutcome = s.outcome;
        // Steady passes are counted in /metrics, not listed here.
        if (!this.#passExecuted && !changed) {
          this.#notify({});
          return;
        }
        const level = s.outcome === "failed" || s.outcome === "invalid-specs" ? "error" : "info";
        this.#push("pass", level, `pass ${s.id} ${s.outcome}: ${s.message} (${s.calls} API calls)`, {
          pass: s.id,
        });
        return;
      }
    }
  }

  #progressEvent(pass: number, ev: ProgressEvent): void {
    switch (ev.type) {
      case "step-start":
        this.#push(
          "step",
          "info",
          `step ${ev.step.index}/${ev.total} started: ${ev.step.changes.length} change(s) to ${[
            ...new Set(ev.step.changes.map((c) => c.address)),
          ].join(", ")}${ev.step.disruption ? ` (${ev.step.disruption.kind})` : ""}`,
          { pass },
        );
        return;
      case "step-done":
        this.#push("step", "info", `step ${ev.step.index} done`, { pass });
        return;
      case "gate":
        if (ev.ok) {
          this.#notify({});
          return;
        }
        this.#push(
          "gate",
          "warning",
          `gate ${ev.gate} failed sample ${ev.sample}: ${ev.value ?? "no data"} vs threshold ${ev.threshold}`,
          { address: ev.subject, pass },
        );
        return;
      case "rollback":
        this.#push("rolled-back", "error", `rolling back ${ev.fields.join(", ")}`, {
          address: ev.address,
          pass,
        });
        return;
      default:
        this.#notify({});
    }
  }
}
