import { checkInvariants, type InvariantResult, regressions } from "../capacity/invariants.ts";
import { addressOf, capacityState, policyModels, type Shape } from "../capacity/model.ts";
import type { Clock } from "../clock/index.ts";
import { deepEqual, type FieldChange, type PathSegment } from "../diff/index.ts";
import type { Gcp } from "../gcp/access.ts";
import { errorCode, isConflict } from "../gcp/call.ts";
import { classify } from "../gcp/errors.ts";
import { describeError } from "../gcp/explain.ts";
import { OperationError, waitForOperation } from "../gcp/operations.ts";
import { observe, type Planned, type PlanResult, type Reconcilers } from "../plan/build.ts";
import type { Step } from "../plan/steps.ts";
import type { Observed, Reconciler } from "../reconcilers/types.ts";
import type { GateSpec } from "../spec/types.ts";
import { type GateReader, type GateSubject, gateKind, gatePasses, gateWorse } from "./gates.ts";
import type { ProgressSink } from "./progress.ts";
import { describeWindow, msUntilWindow } from "./window.ts";

/** Options of {@link execute}. */
export interface ExecuteOptions {
  readonly result: PlanResult;
  readonly gcp: Gcp;
  readonly reconcilers: Reconcilers;
  readonly clock: Clock;
  readonly gates: GateReader;
  readonly progress?: ProgressSink | undefined;
  /** Stops after the call in flight; the next apply resumes from live state. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Longest wait for one operation, in clock ms.
   * @default 1_800_000 (30 minutes: a Cloud SQL restart with maintenance can take that long)
   */
  readonly operationTimeoutMs?: number;
  /**
   * Longest wait for a resource to become ready after its operation, in clock ms.
   * @default 900_000
   */
  readonly readyTimeoutMs?: number;
  /**
   * Whether a disruptive step waits for the maintenance window its resource's spec names
   * (`wait`), or runs at once (`ignore`, for an operator who accepts the disruption now).
   * @default "wait"
   */
  readonly maintenanceWindows?: "wait" | "ignore";
  /**
   * Re-reads and retries of one write after a concurrency conflict.
   * @default 3
   */
  readonly maxConflictRetries?: number;
}

/** StepOutcome is how one step ended. */
export type StepOutcome = "done" | "rolled-back" | "failed" | "interrupted";

/** StepReport is what happened in one step. */
export interface StepReport {
  readonly index: number;
  readonly outcome: StepOutcome;
  /** Addresses written in this step. */
  readonly written: readonly string[];
  /** Changes found already in place (a resumed apply). */
  readonly skipped: readonly string[];
  readonly invariants: readonly InvariantResult[];
  readonly elapsedMs: number;
}

/** ApplyOutcome is how a whole apply ended. */
export type ApplyOutcome =
  | "converged"
  | "nothing-to-do"
  | "refused"
  | "rolled-back"
  | "failed"
  | "interrupted"
  /** Every step applied and passed its gates, but the end-to-end verification did not. */
  | "unverified";

/** ApplyReport says what happened, what was rolled back and what the live state is. */
export interface ApplyReport {
  readonly outcome: ApplyOutcome;
  /** One paragraph for people: what happened and why it stopped. */
  readonly message: string;
  readonly steps: readonly StepReport[];
  /** Fields set back to their previous values by a rollback. */
  readonly rolledBack: readonly {
    readonly address: string;
    readonly field: string;
    readonly value: unknown;
  }[];
  /** Live values of every field the plan touched, read at the end. */
  readonly live: readonly { readonly address: string; readonly field: string; readonly value: unknown }[];
  /**
   * Resources left with an operation still running after capstan waited for it as long
   * as it may: capstan wrote them no further, and the next apply (or pass) re-observes them.
   */
  readonly busy?: readonly string[];
}

/**
 * StopError ends an apply with a reason: a failed gate, a failed operation, an
 * out-of-band change, or an operation still running on a resource after the longest wait
 * (`OPERATION_IN_PROGRESS`, for `address`: capstan never writes a resource while an
 * operation runs on it).
 */
export class StopError extends Error {
  readonly code:
    | "GATE_FAILED"
    | "OPERATION_FAILED"
    | "OPERATION_IN_PROGRESS"
    | "OUT_OF_BAND_CHANGE"
    | "NOT_READY"
    | "INVARIANT_VIOLATED"
    | "MISSING";
  /** The resource it is about, when one. */
  readonly address: string | undefined;

  constructor(code: StopError["code"], message: string, options: { cause?: unknown; address?: string } = {}) {
    super(message, options);
    this.name = "StopError";
    this.code = code;
    this.address = options.address;
  }
}

/**
 * stillRunning is the stop for an operation that outlived capstan's wait: `what` is still
 * running on `p` after `timeoutMs`, so capstan must not write it again now (Cloud SQL
 * would answer 409 operationInProgress; others would queue a second change behind it).
 */
function stillRunning(p: Planned, what: string, timeoutMs: number, cause: unknown): StopError {
  return new StopError(
    "OPERATION_IN_PROGRESS",
    `${p.address}: ${what} is still running after ${Math.round(timeoutMs / 1000)}s; capstan does not write it again while an operation runs on it, and re-reads it on the next apply`,
    { cause, address: p.address },
  );
}

/** valueAt reads a path (with keyed list entries) out of a shape. */
export function valueAt(shape: unknown, path: readonly PathSegment[]): unknown {
  let v: unknown = shape;
  for (const seg of path) {
    if (v === undefined || v === null) return undefined;
    if (typeof seg === "object") {
      v = Array.isArray(v) ? v.find((e) => (e as Record<string, unknown>)?.[seg.key] === seg.id) : undefined;
    } else {
      v = (v as Record<string | number, unknown>)[seg];
    }
  }
  return v;
}

function inverse(changes: readonly FieldChange[]): FieldChange[] {
  return [...changes].reverse().map((c) => ({ ...c, before: c.after, after: c.before }));
}

/**
 * execute carries out a plan's steps in order. Per step: each resource is re-read, its
 * fields are checked against what the plan expects (already at the target: skipped, as
 * after a crash; changed by someone else: stop, never overwrite blindly), written in one
 * call with its concurrency token (a conflict re-reads and retries), its operation
 * awaited, its readiness awaited; then the step settles, its gates are read and the
 * capacity invariants are checked on the observed state. A failing gate or operation
 * rolls the step back in reverse order and stops with a report.
 */
export async function execute(options: ExecuteOptions): Promise<ApplyReport> {
  const { result, gcp, reconcilers, clock, signal } = options;
  const emit = options.progress ?? (() => {});
  const byAddress = new Map(result.planned.map((p) => [p.address, p]));
  const steps = result.steps.steps;
  const reports: StepReport[] = [];
  const rolledBack: ApplyReport["rolledBack"][number][] = [];
  const shapes = new Map(result.world.shapes);
  const policies = policyModels(result.world);
  const start = result.steps.start;

  const busy = new Set<string>();
  const noteBusy = (err: unknown) => {
    if (err instanceof StopError && err.code === "OPERATION_IN_PROGRESS" && err.address)
      busy.add(err.address);
  };
  const finish = async (outcome: ApplyOutcome, message: string): Promise<ApplyReport> => {
    const live: ApplyReport["live"][number][] = [];
    const touched = result.planned.filter((p) => p.changes.length > 0);
    // One list per kind and scope, as a plan reads, rather than one get per resource: a
    // large rollout's report must not spend a read quota the rollout itself needed.
    const seen = await observe(
      touched.map((p) => p.resource),
      gcp,
      reconcilers,
    ).catch(() => new Map<string, Observed<unknown>>());
    for (const p of touched) {
      const rec = reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
      const o = seen.get(p.resource.gcpName ?? rec.fullName(p.ref));
      const shape = o ? rec.normalize(o.live) : undefined;
      for (const c of p.changes)
        live.push({ address: p.address, field: c.field, value: valueAt(shape, c.path) });
    }
    if (outcome !== "converged" && outcome !== "nothing-to-do") emit({ type: "stopped", reason: message });
    return { outcome, message, steps: reports, rolledBack, live, ...(busy.size ? { busy: [...busy] } : {}) };
  };

  if (result.plan.problems.some((p) => p.severity === "error")) {
    return finish("refused", `the plan has errors: ${result.plan.problems.map((p) => p.message).join("; ")}`);
  }
  if (steps.length === 0)
    return { outcome: "nothing-to-do", message: "no changes", steps: [], rolledBack: [], live: [] };
  // A replacement would need a delete, which capstan never does: refuse before the first
  // step rather than stop half-way through the rollout.
  const replacements = result.planned.filter((p) => p.disruptions.some((d) => d.kind === "replacement"));
  if (replacements.length > 0) {
    return finish(
      "refused",
      `${replacements.map((p) => p.address).join(", ")} can only be changed by replacing the resource, which capstan never does; replace it by hand (create the new one, move its users, delete the old one), then apply again`,
    );
  }
  // Resources still settling from an operation started before this apply (one a killed
  // apply left running, or anyone's) are not yet what the plan observed: a connector
  // reports its new instance counts while the instances are still being added. No step
  // may build on them until they settle.
  try {
    await settleBusy(options, emit, shapes);
  } catch (err) {
    if (signal?.aborted)
      return finish("interrupted", "interrupted while waiting for resources to settle before step 1");
    noteBusy(err);
    const reason = describeError(err);
    return finish("failed", `waiting for resources to settle before step 1 failed: ${reason}`);
  }

  for (const step of steps) {
    const started = clock.now();
    if (signal?.aborted) {
      return finish(
        "interrupted",
        `interrupted before step ${step.index}; run apply again to continue from live state`,
      );
    }
    emit({ type: "step-start", step, total: steps.length });
    const groups = groupByResource(step);
    if (step.disruption && options.maintenanceWindows !== "ignore") {
      try {
        await waitForWindows(
          options,
          [...groups.keys()].map((a) => byAddress.get(a)!),
          emit,
        );
      } catch (err) {
        if (signal?.aborted)
          return finish(
            "interrupted",
            `interrupted while waiting for a maintenance window before step ${step.index}`,
          );
        throw err;
      }
    }
    const written: string[] = [];
    const skipped: string[] = [];
    const targets = gateTargets(options.result, step);
    try {
      // Inside the try: an interruption or a failed read here must end in a report too.
      const baseline = await readBaseline(options, targets);
      await Promise.all(
        [...groups].map(async ([address, changes]) => {
          const did = await writeResource(options, byAddress.get(address)!, changes, emit);
          (did ? written : skipped).push(address);
        }),
      );
      await Promise.all(written.map((a) => awaitReady(options, byAddress.get(a)!, emit, shapes)));
      for (const a of skipped) await refreshShape(options, byAddress.get(a)!, shapes);
      await settleAndGate(options, targets, baseline, emit);
      const invariants = checkInvariants(policies, capacityState({ ...result.world, shapes }));
      emit({ type: "invariants", results: invariants });
      const worse = regressions(start, invariants);
      if (worse.length > 0) {
        throw new StopError(
          "INVARIANT_VIOLATED",
          `observed state after step ${step.index}: ${worse.map((w) => w.explanation).join("; ")}`,
        );
      }
      reports.push({
        index: step.index,
        outcome: "done",
        written,
        skipped,
        invariants,
        elapsedMs: clock.now() - started,
      });
      emit({ type: "step-done", step, elapsedMs: clock.now() - started });
    } catch (err) {
      if (signal?.aborted) {
        reports.push({
          index: step.index,
          outcome: "interrupted",
          written,
          skipped,
          invariants: [],
          elapsedMs: clock.now() - started,
        });
        return finish(
          "interrupted",
          `interrupted during step ${step.index} after the call in flight; run apply again to continue from live state`,
        );
      }
      noteBusy(err);
      const reason = describeError(err);
      // Roll back what this step wrote, newest first, to the values before the step. A
      // resource with an operation still running is not among them: it was never written
      // to completion, and is not written again while the operation runs.
      const rollbackErrors: string[] = [];
      for (const address of [...written].reverse()) {
        const changes = inverse(groups.get(address)!);
        emit({ type: "rollback", address, fields: changes.map((c) => c.field) });
        try {
          await writeResource(options, byAddress.get(address)!, changes, emit);
          await awaitReady(options, byAddress.get(address)!, emit, shapes);
          for (const c of changes) rolledBack.push({ address, field: c.field, value: c.after });
        } catch (rbErr) {
          noteBusy(rbErr);
          rollbackErrors.push(`${address}: ${describeError(rbErr)}`);
        }
      }
      const outcome: StepOutcome = rollbackErrors.length
        ? "failed"
        : written.length
          ? "rolled-back"
          : "failed";
      reports.push({
        index: step.index,
        outcome,
        written,
        skipped,
        invariants: [],
        elapsedMs: clock.now() - started,
      });
      const rb = written.length
        ? rollbackErrors.length
          ? ` Rolling back failed too: ${rollbackErrors.join("; ")}.`
          : ` Rolled back ${written.join(", ")} to their previous values.`
        : "";
      return finish(
        rollbackErrors.length || !written.length ? "failed" : "rolled-back",
        `step ${step.index} failed: ${reason}.${rb}`,
      );
    }
  }
  // End-to-end verification: every gate of every policy against its threshold, now that
  // the whole rollout is in. Nothing is rolled back here: each step passed its own gates.
  try {
    const all = gateTargets(options.result, undefined);
    for (const t of all) await sampleGate(options, t, undefined, emit);
  } catch (err) {
    if (signal?.aborted) return finish("interrupted", "interrupted during end-to-end verification");
    const reason = describeError(err);
    return finish(
      "unverified",
      `all ${steps.length} step(s) applied, but end-to-end verification failed: ${reason}`,
    );
  }
  return finish("converged", `all ${steps.length} step(s) applied and verified`);
}

async function waitForWindows(
  options: ExecuteOptions,
  planned: readonly Planned[],
  emit: ProgressSink,
): Promise<void> {
  for (const p of planned) {
    const rec = options.reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
    const window = rec.maintenanceWindow?.(p.resource as never);
    if (!window) continue;
    const wait = msUntilWindow(options.clock.now(), window);
    if (wait <= 0) continue;
    emit({ type: "window-wait", address: p.address, window: describeWindow(window), waitMs: wait });
    await options.clock.sleep(wait, options.signal);
  }
}

function groupByResource(step: Step): Map<string, FieldChange[]> {
  const groups = new Map<string, FieldChange[]>();
  for (const c of step.changes) {
    const list = groups.get(c.address) ?? [];
    list.push(c.change);
    groups.set(c.address, list);
  }
  return groups;
}

/**
 * writeResource re-reads one resource and writes the changes still needed. Returns
 * false when every change was already in place.
 */
async function writeResource(
  options: ExecuteOptions,
  p: Planned,
  changes: readonly FieldChange[],
  emit: ProgressSink,
): Promise<boolean> {
  const { gcp, reconcilers, clock, signal } = options;
  const rec = reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
  const maxRetries = options.maxConflictRetries ?? 3;
  for (let attempt = 1; ; attempt++) {
    await awaitRunningOperation(options, p, emit);
    const observed = await rec.get(gcp, p.ref, signal);
    if (!observed) throw new StopError("MISSING", `${p.address} no longer exists`);
    const current = rec.normalize(observed.live);
    const todo: FieldChange[] = [];
    for (const c of changes) {
      const now = valueAt(current, c.path);
      if (deepEqual(now, c.after)) continue;
      if (!deepEqual(now, c.before)) {
        throw new StopError(
          "OUT_OF_BAND_CHANGE",
          `${p.address} ${c.field} is ${JSON.stringify(now)} live, but the plan expected ${JSON.stringify(c.before)}: someone changed it outside capstan; refusing to overwrite it (plan again to review)`,
        );
      }
      todo.push(c);
    }
    if (todo.length === 0) {
      emit({ type: "skip", address: p.address, reason: "already has the planned values" });
      return false;
    }
    emit({ type: "write", address: p.address, fields: todo.map((c) => c.field) });
    const timeoutMs = options.operationTimeoutMs ?? 1_800_000;
    try {
      const w = await rec.write(gcp, observed, p.resource as never, todo, { signal });
      if (w.poller) {
        const t0 = clock.now();
        emit({ type: "operation-wait", address: p.address, what: "its operation" });
        await waitForOperation(w.poller, { clock, signal, timeoutMs, what: `update of ${p.address}` });
        emit({ type: "operation-done", address: p.address, elapsedMs: clock.now() - t0 });
      }
      return true;
    } catch (err) {
      if (err instanceof OperationError && err.code === "OPERATION_TIMEOUT") {
        throw stillRunning(p, "its update", timeoutMs, err);
      }
      // Someone else's operation started between the look for one and the write (Cloud
      // SQL's 409 operationInProgress): wait for it, re-read, and decide again.
      const busyNow = classify(err) === "operation-in-progress";
      if ((isConflict(err) || busyNow) && attempt <= maxRetries) {
        emit({
          type: "conflict",
          address: p.address,
          attempt,
          message: err instanceof Error ? err.message : String(err),
        });
        continue;
      }
      if (err instanceof OperationError) throw new StopError("OPERATION_FAILED", err.message, { cause: err });
      throw err;
    }
  }
}

async function refreshShape(options: ExecuteOptions, p: Planned, shapes: Map<string, Shape>): Promise<void> {
  const rec = options.reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
  const o = await rec.get(options.gcp, p.ref, options.signal);
  if (o) shapes.set(addressOf(p.resource), rec.normalize(o.live));
}

/**
 * awaitRunningOperation waits for an operation already running on `p`'s resource (one
 * that someone else, or an earlier apply, started), if its reconciler can tell. How that
 * operation ended is not reported: its effect shows in the resource, which the caller
 * reads next.
 */
async function awaitRunningOperation(options: ExecuteOptions, p: Planned, emit: ProgressSink): Promise<void> {
  const { gcp, reconcilers, clock, signal } = options;
  const rec = reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
  const busy = rec.pending ? await rec.pending(gcp, p.ref, signal) : undefined;
  if (!busy) return;
  emit({ type: "operation-wait", address: p.address, what: "an operation already running on it" });
  const timeoutMs = options.operationTimeoutMs ?? 1_800_000;
  await waitForOperation(busy, {
    clock,
    signal,
    timeoutMs,
    what: `operation already running on ${p.address}`,
  }).catch((err: unknown) => {
    // Still running after the longest wait: writing now would collide with it.
    if (err instanceof OperationError && err.code === "OPERATION_TIMEOUT") {
      throw stillRunning(p, "an operation", timeoutMs, err);
    }
    if (!(err instanceof OperationError)) throw err;
  });
}

/**
 * settleBusy waits for every planned resource that was observed mid-change (not ready,
 * not failed) to finish its running operation and become ready. A failed resource is not
 * waited for: waiting does not fix it, and the plan may be what does.
 */
async function settleBusy(
  options: ExecuteOptions,
  emit: ProgressSink,
  shapes: Map<string, Shape>,
): Promise<void> {
  const { gcp, reconcilers, signal } = options;
  for (const p of options.result.planned) {
    const r = p.observed?.readiness;
    if (!r || r.ready || r.failed) continue;
    const rec = reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
    await awaitRunningOperation(options, p, emit);
    // Ended failed (a deploy someone else started): the plan's own steps deal with it.
    if ((await rec.get(gcp, p.ref, signal))?.readiness.failed) continue;
    await awaitReady(options, p, emit, shapes);
  }
}

async function awaitReady(
  options: ExecuteOptions,
  p: Planned,
  emit: ProgressSink,
  shapes: Map<string, Shape>,
): Promise<void> {
  const { gcp, reconcilers, clock, signal } = options;
  const rec = reconcilers[p.ref.kind] as Reconciler<typeof p.ref.kind, unknown>;
  const t0 = clock.now();
  const deadline = t0 + (options.readyTimeoutMs ?? 900_000);
  let interval = 1000;
  for (;;) {
    const o = await rec.get(gcp, p.ref, signal);
    if (!o) throw new StopError("MISSING", `${p.address} no longer exists`);
    if (o.readiness.ready) {
      shapes.set(p.address, rec.normalize(o.live));
      emit({ type: "ready", address: p.address, elapsedMs: clock.now() - t0 });
      return;
    }
    if (o.readiness.failed)
      throw new StopError("NOT_READY", `${p.address} failed: ${o.readiness.reason ?? "not ready"}`);
    if (clock.now() >= deadline) {
      throw new StopError(
        "NOT_READY",
        `${p.address} not ready after ${Math.round((clock.now() - t0) / 1000)}s: ${o.readiness.reason ?? ""}`,
      );
    }
    emit({ type: "ready-wait", address: p.address, reason: o.readiness.reason ?? "not ready" });
    await clock.sleep(interval, signal);
    interval = Math.min(interval * 2, 10_000);
  }
}

/** GateTarget is one gate on one subject resource. */
export interface GateTarget {
  readonly gate: GateSpec;
  readonly subject: GateSubject;
  readonly settle: number;
}

/**
 * gateTargets lists the gates to read: those of every policy whose resources `step`
 * touches, or of every policy when `step` is undefined (end-to-end verification), each
 * on the resources its metric describes. Exported for the views that chart the same
 * gates (the dashboard, the rollout report).
 */
export function gateTargets(result: PlanResult, step: Step | undefined): GateTarget[] {
  const byName = (name: string | undefined) =>
    name === undefined ? undefined : [...result.world.resources.values()].find((x) => x.gcpName === name);
  const touched = step ? new Set(step.changes.map((c) => c.address)) : undefined;
  const out: GateTarget[] = [];
  for (const pol of result.world.policies) {
    const members = pol.spec.members;
    const addrs = members
      .flatMap((m) => [m.service.name, m.sqlInstance?.name, m.connector?.name])
      .map(byName)
      .filter((x) => x !== undefined)
      .map(addressOf);
    if (touched && !addrs.some((a) => touched.has(a))) continue;
    for (const gate of pol.spec.rollout.gates) {
      const kind = gateKind(gate.metric);
      const names = new Set(
        members.map((m) =>
          kind === "VpcConnector"
            ? m.connector?.name
            : kind === "SqlInstance"
              ? m.sqlInstance?.name
              : m.service.name,
        ),
      );
      for (const r of result.world.resources.values()) {
        if (!r.gcpName || !names.has(r.gcpName)) continue;
        out.push({
          gate,
          subject: { address: addressOf(r), project: r.metadata.project, id: r.metadata.name },
          settle: pol.spec.rollout.settleTime,
        });
      }
    }
  }
  return out;
}

async function readBaseline(
  options: ExecuteOptions,
  targets: readonly GateTarget[],
): Promise<(number | undefined)[]> {
  return Promise.all(targets.map((t) => options.gates(t.gate, t.subject, options.signal)));
}

/**
 * settleAndGate waits the longest settle time of the policies the step touched, then
 * reads their gates. During the rollout a gate fails the step only when its metric is
 * beyond the threshold and worse than before the step: the targets are the end state's,
 * and an early step (infrastructure first) cannot meet all of them, but it must not make
 * any of them worse. `failureLimit` failing samples in a row, one window apart, fail it.
 */
async function settleAndGate(
  options: ExecuteOptions,
  targets: readonly GateTarget[],
  baseline: readonly (number | undefined)[],
  emit: ProgressSink,
): Promise<void> {
  if (targets.length === 0) return;
  const settle = Math.max(...targets.map((t) => t.settle));
  if (settle > 0) {
    emit({ type: "settle", seconds: settle });
    await options.clock.sleep(settle * 1000, options.signal);
  }
  for (const [i, t] of targets.entries()) await sampleGate(options, t, baseline[i], emit);
}

/**
 * sampleGate reads one gate until it passes or fails `failureLimit` samples in a row.
 * With a baseline, only a value beyond the threshold and worse than the baseline fails;
 * without one (end-to-end verification), any value beyond the threshold fails.
 */
async function sampleGate(
  options: ExecuteOptions,
  t: GateTarget,
  baseline: number | undefined,
  emit: ProgressSink,
): Promise<void> {
  const { gate, subject } = t;
  for (let sample = 1; ; sample++) {
    const value = await options.gates(gate, subject, options.signal);
    const ok = gatePasses(gate, value) || (baseline !== undefined && !gateWorse(gate, value, baseline));
    emit({
      type: "gate",
      gate: gate.metric,
      subject: subject.address,
      value,
      threshold: gate.threshold,
      ok,
      sample,
      baseline,
    });
    if (ok) return;
    if (sample >= gate.failureLimit) {
      const vs = baseline === undefined ? "" : `, worse than ${baseline} before the step`;
      throw new StopError(
        "GATE_FAILED",
        `gate ${gate.metric} on ${subject.address} failed ${sample} sample(s) in a row: ${value} is ${gate.failWhen} the threshold ${gate.threshold}${vs}`,
      );
    }
    await options.clock.sleep(gate.window * 1000, options.signal);
  }
}

/** isPermanent says whether an error will not go away by retrying the apply. */
export function isPermanent(err: unknown): boolean {
  return err instanceof StopError || [3, 5, 7, 9].includes(errorCode(err));
}
