import type { InvariantResult } from "../capacity/invariants.ts";
import type { Clock } from "../clock/index.ts";
import type { Step } from "../plan/steps.ts";
import type { ApplyReport, StepOutcome } from "./execute.ts";
import type { ProgressEvent, ProgressSink } from "./progress.ts";

/**
 * WaitKind is what a rollout waits on: a long-running operation, a resource becoming
 * ready, the policy's settle time, the next sample of a failing gate, or a maintenance
 * window. (Waits for API quota happen inside each call's rate limiter and show in the
 * call's duration, not here.)
 */
export type WaitKind = "operation" | "readiness" | "settle" | "gate" | "maintenance-window";

/** WaitRecord is one wait of a rollout, with clock times in epoch ms. */
export interface WaitRecord {
  readonly kind: WaitKind;
  /** For people: `its operation`, `Revision backend-00002 is not ready`, `5m settle time`. */
  what: string;
  /** The resource waited on, if one. */
  readonly address: string | undefined;
  /** The gate's metric, for a gate wait. */
  readonly metric?: string | undefined;
  readonly startedAt: number;
  endedAt: number | undefined;
}

/** GateSample is one reading of one gate, as the executor judged it. */
export interface GateSample {
  readonly at: number;
  readonly metric: string;
  readonly subject: string;
  readonly value: number | undefined;
  readonly threshold: number;
  readonly ok: boolean;
  /** 1 for the first reading after the settle time, then one per gate window while it fails. */
  readonly sample: number;
  readonly baseline: number | undefined;
  /** The step the sample judged; undefined for the end-to-end verification after the last step. */
  readonly step: number | undefined;
}

/** StepState is where a step stands: not started, under way, or how it ended. */
export type StepState = "pending" | "running" | StepOutcome;

/** StepRecord is what happened in one step of a rollout. */
export interface StepRecord {
  readonly step: Step;
  state: StepState;
  startedAt: number | undefined;
  endedAt: number | undefined;
  readonly waits: WaitRecord[];
  /** What was written, per resource, in order. */
  readonly writes: { readonly address: string; readonly fields: readonly string[]; readonly at: number }[];
  /** Resources found already at their target (a resumed rollout). */
  readonly skipped: string[];
  /** The capacity invariants on the state observed after the step. */
  invariants: readonly InvariantResult[] | undefined;
  /** Fields set back to their previous values after the step failed. */
  readonly rolledBack: { readonly address: string; readonly fields: readonly string[] }[];
}

/** RolloutRecord is the whole story of one run of the executor, for the dashboard and the report. */
export interface RolloutRecord {
  readonly startedAt: number;
  endedAt: number | undefined;
  /** The capacity invariants of live state before the first step, as planned. */
  readonly start: readonly InvariantResult[];
  readonly steps: readonly StepRecord[];
  /** Waits before step 1: resources still settling from an operation started before. */
  readonly before: WaitRecord[];
  /** Every gate reading, in order, the end-to-end verification's last. */
  readonly samples: GateSample[];
  outcome: ApplyReport["outcome"] | undefined;
  message: string | undefined;
}

/** Options of {@link RolloutRecorder}. */
export interface RolloutRecorderOptions {
  readonly clock: Clock;
  /** The plan's steps, in order: the recorder lists the pending ones before they start. */
  readonly steps: readonly Step[];
  /** The plan's invariants on live state before any step. */
  readonly start: readonly InvariantResult[];
  /**
   * Most waits kept per step (and before step 1); older ones are dropped first. A
   * readiness wait polled many times counts once.
   * @default 200
   */
  readonly maxWaitsPerStep?: number;
}

/**
 * RolloutRecorder turns the executor's progress events into a {@link RolloutRecord}:
 * when each step started and ended, what it waited on and for how long, every gate
 * sample and the invariants observed after it. Pass {@link RolloutRecorder.sink} as (or
 * beside) execute's `progress`, and {@link RolloutRecorder.finish} its report. Times are
 * the clock's, so a scaled rehearsal records simulated time.
 */
export class RolloutRecorder {
  readonly #clock: Clock;
  readonly #maxWaits: number;
  readonly #record: RolloutRecord;
  #current: StepRecord | undefined;

  constructor(options: RolloutRecorderOptions) {
    this.#clock = options.clock;
    this.#maxWaits = options.maxWaitsPerStep ?? 200;
    if (!Number.isInteger(this.#maxWaits) || this.#maxWaits < 1) {
      throw new TypeError(
        `Expected \`maxWaitsPerStep\` to be an integer >= 1, got \`${options.maxWaitsPerStep}\``,
      );
    }
    this.#record = {
      startedAt: this.#clock.now(),
      endedAt: undefined,
      start: options.start,
      steps: options.steps.map((step) => ({
        step,
        state: "pending",
        startedAt: undefined,
        endedAt: undefined,
        waits: [],
        writes: [],
        skipped: [],
        invariants: undefined,
        rolledBack: [],
      })),
      before: [],
      samples: [],
      outcome: undefined,
      message: undefined,
    };
  }

  /** record is the record so far; it keeps changing until {@link finish}. */
  get record(): RolloutRecord {
    return this.#record;
  }

  /** sink is the progress sink to give the executor. */
  readonly sink: ProgressSink = (e) => this.#observe(e);

  /** finish closes the record with the executor's report: the outcome of every step that ran. */
  finish(report: ApplyReport): RolloutRecord {
    const now = this.#clock.now();
    this.#closeWaits(now);
    for (const s of report.steps) {
      const r = this.#record.steps[s.index - 1];
      if (!r) continue;
      r.state = s.outcome;
      r.endedAt ??= now;
      if (s.invariants.length) r.invariants = s.invariants;
    }
    // A step that started and is not in the report was cut short outside any step's report.
    for (const r of this.#record.steps) {
      if (r.state === "running") {
        r.state = report.outcome === "interrupted" ? "interrupted" : "failed";
        r.endedAt ??= now;
      }
    }
    this.#record.endedAt = now;
    this.#record.outcome = report.outcome;
    this.#record.message = report.message;
    this.#current = undefined;
    return this.#record;
  }

  #waits(): WaitRecord[] {
    return this.#current?.waits ?? this.#record.before;
  }

  #open(kind: WaitKind, what: string, address?: string, metric?: string): void {
    const waits = this.#waits();
    waits.push({ kind, what, address, metric, startedAt: this.#clock.now(), endedAt: undefined });
    if (waits.length > this.#maxWaits) waits.splice(0, waits.length - this.#maxWaits);
  }

  #close(match: (w: WaitRecord) => boolean, at = this.#clock.now()): void {
    for (const w of this.#waits()) if (w.endedAt === undefined && match(w)) w.endedAt = at;
  }

  #closeWaits(at: number): void {
    this.#close(() => true, at);
  }

  #observe(e: ProgressEvent): void {
    const now = this.#clock.now();
    // A maintenance window is over once anything else happens.
    if (e.type !== "window-wait") this.#close((w) => w.kind === "maintenance-window", now);
    switch (e.type) {
      case "step-start": {
        this.#closeWaits(now);
        const r = this.#record.steps[e.step.index - 1];
        if (!r) return;
        r.state = "running";
        r.startedAt = now;
        this.#current = r;
        return;
      }
      case "write":
        this.#current?.writes.push({ address: e.address, fields: e.fields, at: now });
        return;
      case "skip":
        this.#current?.skipped.push(e.address);
        return;
      case "operation-wait":
        this.#open("operation", e.what, e.address);
        return;
      case "operation-done":
        this.#close((w) => w.kind === "operation" && w.address === e.address, now);
        return;
      case "ready-wait": {
        // Polled until ready: one wait per resource, showing the latest reason.
        const open = this.#waits().find(
          (w) => w.kind === "readiness" && w.address === e.address && w.endedAt === undefined,
        );
        if (open) open.what = e.reason;
        else this.#open("readiness", e.reason, e.address);
        return;
      }
      case "ready":
        this.#close((w) => w.kind === "readiness" && w.address === e.address, now);
        return;
      case "settle":
        this.#open("settle", `${e.seconds}s settle time`);
        return;
      case "window-wait":
        this.#open("maintenance-window", `maintenance window ${e.window}`, e.address);
        return;
      case "gate": {
        this.#close(
          (w) => w.kind === "settle" || (w.kind === "gate" && w.address === e.subject && w.metric === e.gate),
          now,
        );
        this.#record.samples.push({
          at: now,
          metric: e.gate,
          subject: e.subject,
          value: e.value,
          threshold: e.threshold,
          ok: e.ok,
          sample: e.sample,
          baseline: e.baseline,
          step: this.#current?.step.index,
        });
        if (!e.ok) this.#open("gate", `next sample of ${e.gate} on ${e.subject}`, e.subject, e.gate);
        return;
      }
      case "invariants":
        if (this.#current) this.#current.invariants = e.results;
        return;
      case "step-done": {
        this.#closeWaits(now);
        const r = this.#record.steps[e.step.index - 1];
        if (r) {
          r.state = "done";
          r.endedAt = now;
        }
        // Gate samples after the last step are the end-to-end verification.
        this.#current = undefined;
        return;
      }
      case "rollback":
        this.#current?.rolledBack.push({ address: e.address, fields: e.fields });
        return;
      case "stopped":
        this.#closeWaits(now);
        if (this.#current) {
          this.#current.state = this.#current.rolledBack.length ? "rolled-back" : "failed";
          this.#current.endedAt = now;
        }
        return;
      case "conflict":
        return;
    }
  }
}
