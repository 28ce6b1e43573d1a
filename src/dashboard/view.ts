import type { GateHistory } from "../apply/gate-history.ts";
import type { RolloutRecord, StepState, WaitRecord } from "../apply/record.ts";
import type { InvariantResult } from "../capacity/invariants.ts";
import type { Condition, ControllerStatus, PassSummary, ResourceStatus } from "../controller/status.ts";
import type { BudgetStats } from "../gcp/ratelimit.ts";
import { PHASE_TITLES } from "../plan/steps.ts";
import { metricLabel } from "../render/criteria.ts";
import { describeDisruption } from "../render/text.ts";
import type { DashboardFeed, PendingChange, RolloutEntry } from "./feed.ts";

/** DASHBOARD_KIND is the version of the `/api/dashboard` document (schemas/dashboard.schema.json). */
export const DASHBOARD_KIND = "capstan.dev/dashboard/v1";

/** WaitView is one wait, timed up to the document's `now` while it lasts. */
export interface WaitView {
  readonly kind: WaitRecord["kind"];
  readonly what: string;
  readonly address: string | null;
  readonly since: string;
  readonly until: string | null;
  readonly elapsedMs: number;
}

/** StepView is one step of a rollout. */
export interface StepView {
  readonly index: number;
  readonly phase: string;
  readonly title: string;
  readonly state: StepState;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  /** What the step costs, e.g. `SQL restart (expected downtime ~60s): ...`. */
  readonly disruption: string | null;
  readonly resources: readonly string[];
  readonly changes: number;
  readonly waits: readonly WaitView[];
}

/** RolloutView is one run of the executor: where it stands and what it waits for. */
export interface RolloutView {
  readonly execution: number;
  readonly pass: number;
  /** `running`, or how it ended (ApplyReport's outcome). */
  readonly state: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly message: string | null;
  /** The step under way (or the last one that ran), from 1; 0 before step 1. */
  readonly step: number;
  readonly total: number;
  /** What it waits for now, each with its elapsed time. */
  readonly waiting: readonly WaitView[];
  readonly steps: readonly StepView[];
}

/** ResourceView is one managed resource as the dashboard shows it. */
export interface ResourceView {
  readonly id: string;
  readonly address: string;
  readonly kind: string;
  readonly name: string;
  readonly gcpName: string;
  readonly consoleUrl: string | null;
  readonly conditions: readonly Condition[];
  readonly specHash: string;
  /** The git commit of the spec revision last applied; null for a directory or before the first apply. */
  readonly appliedCommit: string | null;
  readonly appliedAt: string | null;
  readonly pendingChanges: readonly PendingChange[];
  readonly disruptions: readonly string[];
  readonly driftCount: number;
  readonly lastError: { readonly message: string; readonly at: string } | null;
  /** While backing off or waiting: when the next attempt may start. */
  readonly backoffUntil: string | null;
  readonly failures: number;
  readonly suspended: boolean;
  readonly onDrift: "correct" | "report";
}

/** GroupView is the resources one CapacityPolicy names (or those no policy names), with its invariants. */
export interface GroupView {
  readonly policy: string | null;
  /** The capacity invariants of live state: demand (`lhs`) against its ceiling (`rhs`), with the arithmetic. */
  readonly invariants: readonly InvariantResult[];
  readonly resources: readonly ResourceView[];
}

/** SeriesView is one gate metric's chart data: times in epoch seconds (uPlot's x axis). */
export interface SeriesView {
  readonly metric: string;
  readonly label: string;
  readonly subject: string;
  readonly threshold: number;
  readonly failWhen: "above" | "below";
  readonly points: readonly (readonly [number, number])[];
  readonly samples: readonly {
    readonly at: number;
    readonly value: number | null;
    readonly ok: boolean;
    readonly step: number | null;
  }[];
  readonly boundaries: readonly { readonly at: number; readonly label: string }[];
}

/** QuotaView is what waits for API quota: resources the controller holds back, and budgets under pressure. */
export interface QuotaView {
  /** Resources whose Ready reason is QuotaWait, since when. */
  readonly resources: readonly {
    readonly address: string;
    readonly since: string;
    readonly elapsedMs: number;
    readonly message: string;
  }[];
  /** Per-minute API budgets slowed down by 429 answers (see src/gcp/ratelimit.ts). */
  readonly budgets: readonly Pick<BudgetStats, "key" | "limit" | "current" | "throttled" | "waitedMs">[];
}

/** DashboardDoc is the `/api/dashboard` document: everything the page shows, as data. */
export interface DashboardDoc {
  readonly kind: typeof DASHBOARD_KIND;
  readonly now: string;
  readonly instance: ControllerStatus["instance"];
  readonly source: ControllerStatus["source"];
  readonly ready: boolean;
  readonly lastPass: PassSummary | null;
  readonly passes: number;
  readonly groups: readonly GroupView[];
  /** Newest first. */
  readonly rollouts: readonly RolloutView[];
  readonly quota: QuotaView;
  readonly gates: {
    readonly readAt: string | null;
    readonly error: string | null;
    readonly series: readonly SeriesView[];
  };
  readonly events: { readonly latest: number; readonly capacity: number };
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function waitView(w: WaitRecord, now: number): WaitView {
  return {
    kind: w.kind,
    what: w.what,
    address: w.address ?? null,
    since: iso(w.startedAt)!,
    until: iso(w.endedAt),
    elapsedMs: (w.endedAt ?? now) - w.startedAt,
  };
}

/** rolloutView reduces a rollout record to where it stands at `now`. */
export function rolloutView(entry: RolloutEntry, now: number): RolloutView {
  const r: RolloutRecord = entry.recorder.record;
  const running = r.steps.find((s) => s.state === "running");
  const lastStarted = r.steps.findLast((s) => s.startedAt !== undefined);
  const open = [...(running?.waits ?? (entry.finished ? [] : r.before))].filter(
    (w) => w.endedAt === undefined,
  );
  return {
    execution: entry.execution,
    pass: entry.pass,
    state: entry.finished ? (r.outcome ?? "failed") : "running",
    startedAt: iso(r.startedAt)!,
    endedAt: iso(r.endedAt),
    message: r.message ?? null,
    step: (running ?? lastStarted)?.step.index ?? 0,
    total: r.steps.length,
    waiting: open.map((w) => waitView(w, now)),
    steps: r.steps.map((s) => ({
      index: s.step.index,
      phase: s.step.phase,
      title: PHASE_TITLES[s.step.phase],
      state: s.state,
      startedAt: iso(s.startedAt),
      endedAt: iso(s.endedAt),
      disruption: s.step.disruption ? describeDisruption(s.step.disruption) : null,
      resources: [...new Set(s.step.changes.map((c) => c.address))],
      changes: s.step.changes.length,
      waits: s.waits.map((w) => waitView(w, now)),
    })),
  };
}

function resourceView(r: ResourceStatus, feed: DashboardFeed): ResourceView {
  const d = feed.plan?.resources.get(r.address);
  return {
    id: r.id,
    address: r.address,
    kind: r.kind,
    name: r.name,
    gcpName: r.gcpName,
    consoleUrl: d?.consoleUrl ?? null,
    conditions: r.conditions,
    specHash: r.specHash,
    appliedCommit: r.lastApplied?.commit ?? null,
    appliedAt: r.lastApplied?.at ?? null,
    // The plan is from the start of the pass; the status knows what is still pending since.
    pendingChanges: (d?.changes ?? []).filter((c) => r.pendingChanges.includes(c.field)),
    disruptions: r.pendingChanges.length ? (d?.disruptions ?? []) : [],
    driftCount: r.driftCount,
    lastError: r.lastError ?? null,
    backoffUntil: r.nextAttemptAt ?? null,
    failures: r.failures,
    suspended: r.suspended,
    onDrift: r.onDrift,
  };
}

/** groupsOf lists the resources by CapacityPolicy, each with its live-state invariants; the rest last. */
function groupsOf(status: ControllerStatus, feed: DashboardFeed): GroupView[] {
  const views = new Map(status.resources.map((r) => [r.address, resourceView(r, feed)]));
  const plan = feed.plan;
  const grouped = new Set<string>();
  // A rollout of this pass or later observed the state after each of its steps: that is
  // the live state now, fresher than the plan's from the start of the pass.
  const observed = feed.rollouts
    .filter((e) => e.pass >= (plan?.pass ?? 0))
    .map((e) => e.recorder.record.steps.findLast((s) => s.invariants)?.invariants ?? []);
  const liveOf = (policy: string) =>
    observed.map((list) => list.filter((i) => i.policy === policy)).find((list) => list.length > 0) ??
    plan!.invariants.filter((i) => i.policy === policy);
  const groups: GroupView[] = (plan?.policies ?? []).map((p) => {
    for (const m of p.members) grouped.add(m);
    return {
      policy: p.address,
      invariants: liveOf(p.address),
      resources: p.members.flatMap((m) => (views.has(m) ? [views.get(m)!] : [])),
    };
  });
  const rest = [...views.values()].filter((v) => !grouped.has(v.address));
  if (rest.length > 0 || groups.length === 0) groups.push({ policy: null, invariants: [], resources: rest });
  return groups;
}

/** seriesViews joins the gate history with the rollouts' step starts and gate samples. */
function seriesViews(history: GateHistory | undefined, rollouts: readonly RolloutEntry[]): SeriesView[] {
  const sec = (ms: number) => Math.round(ms / 1000);
  const boundaries = rollouts.flatMap((e) =>
    e.recorder.record.steps.flatMap((s) =>
      s.startedAt === undefined ? [] : [{ at: sec(s.startedAt), label: `step ${s.step.index}` }],
    ),
  );
  return (history?.series ?? []).map((s) => ({
    metric: s.metric,
    label: metricLabel(s.metric),
    subject: s.subject,
    threshold: s.threshold,
    failWhen: s.failWhen,
    points: s.points.map(([t, v]) => [sec(t), v] as const),
    samples: rollouts.flatMap((e) =>
      e.recorder.record.samples
        .filter((x) => x.metric === s.metric && x.subject === s.subject)
        .map((x) => ({ at: sec(x.at), value: x.value ?? null, ok: x.ok, step: x.step ?? null })),
    ),
    boundaries,
  }));
}

/** buildDashboard assembles the dashboard document from the controller's status, the feed and the gate history. */
export function buildDashboard(
  status: ControllerStatus,
  feed: DashboardFeed,
  history: GateHistory | undefined,
  now: number,
  budgets: readonly BudgetStats[] = [],
): DashboardDoc {
  const rollouts = feed.rollouts;
  const quota: QuotaView = {
    resources: status.resources.flatMap((r) => {
      const ready = r.conditions.find((c) => c.type === "Ready");
      if (ready?.reason !== "QuotaWait") return [];
      const since = Date.parse(ready.lastTransitionTime);
      return [
        {
          address: r.address,
          since: ready.lastTransitionTime,
          elapsedMs: Math.max(0, now - since),
          message: ready.message,
        },
      ];
    }),
    budgets: budgets
      .filter((b) => b.throttled > 0 || b.current < b.limit)
      .map(({ key, limit, current, throttled, waitedMs }) => ({ key, limit, current, throttled, waitedMs })),
  };
  return {
    kind: DASHBOARD_KIND,
    now: status.now,
    instance: status.instance,
    source: status.source,
    ready: status.ready,
    lastPass: status.lastPass ?? null,
    passes: status.passes,
    groups: groupsOf(status, feed),
    rollouts: rollouts.map((e) => rolloutView(e, now)),
    quota,
    gates: {
      readAt: history ? iso(history.readAt) : null,
      error: history?.error ?? null,
      series: seriesViews(history, rollouts),
    },
    events: { latest: feed.latestSeq, capacity: feed.capacity },
  };
}
