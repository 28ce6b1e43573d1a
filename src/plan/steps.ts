import type { InvariantResult } from "../capacity/invariants.ts";
import { regressions } from "../capacity/invariants.ts";
import type { FieldChange } from "../diff/index.ts";
import type { Disruption, ResourceKind } from "./model.ts";

/**
 * FieldRole says how a field takes part in capacity: a provider's capacity (SQL
 * max_connections, connector instances), a consumer's demand (Cloud Run max instances,
 * pool size), or neither.
 */
export interface FieldRole {
  readonly role: "provider" | "consumer" | "neutral";
  /** Whether the change raises (`up`) or lowers (`down`) capacity or demand. */
  readonly direction: "up" | "down" | "none";
  /** A numeric scaling setting that may be split into bounded steps. */
  readonly scalable: boolean;
}

/** ResourceChanges is the diff of one resource, as the step planner takes it. */
export interface ResourceChanges {
  readonly address: string;
  readonly kind: ResourceKind;
  readonly changes: readonly FieldChange[];
  /** What applying all of `changes` costs; a disruptive resource changes in one step of its own. */
  readonly disruptions: readonly Disruption[];
}

/** Phase is where a step stands in the rollout. */
export type Phase = "raise-providers" | "lower-consumers" | "consumers" | "lower-providers";

/** PHASE_TITLES are the phases as people read them. */
export const PHASE_TITLES: Readonly<Record<Phase, string>> = {
  "raise-providers": "raise capacity providers, infrastructure settings",
  "lower-consumers": "lower consumer demand",
  consumers: "application settings, raise consumer demand",
  "lower-providers": "lower capacity providers",
};

const PHASE_ORDER: readonly Phase[] = ["raise-providers", "lower-consumers", "consumers", "lower-providers"];

/** StepChange is one field of one resource set to a value in a step. */
export interface StepChange {
  readonly address: string;
  readonly kind: ResourceKind;
  readonly change: FieldChange;
}

/** Step is a set of writes that run in parallel, followed by readiness, settle time and gates. */
export interface Step {
  /** From 1. */
  readonly index: number;
  readonly phase: Phase;
  readonly changes: readonly StepChange[];
  /** Set when the step is a disruptive change standing alone. */
  readonly disruption?: Disruption | undefined;
  /** Invariants evaluated on the state after this step. */
  readonly invariants: readonly InvariantResult[];
}

/** StepPlan is the ordered steps, or the reason there can be none. */
export interface StepPlan {
  readonly steps: readonly Step[];
  /** Invariants on the live state before any step. */
  readonly start: readonly InvariantResult[];
  /** Why the plan is refused; empty when it may run. */
  readonly refusals: readonly string[];
}

/** Options of {@link planSteps}. */
export interface StepPlannerOptions {
  /** classify gives each changed field its role. */
  readonly classify: (kind: ResourceKind, change: FieldChange) => FieldRole;
  /**
   * evaluate computes the invariants on the state where the given changes have been
   * applied over live state (a change's `after` replaces its `before`).
   */
  readonly evaluate: (applied: readonly StepChange[]) => InvariantResult[];
  /**
   * Largest factor a scalable setting may change by in one step (e.g. 2: 5 → 10 → 20).
   * @default 2
   */
  readonly maxStepFactor?: number;
}

/**
 * planSteps orders changes so capacity never contradicts itself on the way: providers
 * are raised before consumers and lowered after them, disruptive changes stand alone,
 * large jumps in scaling settings are split geometrically by `maxStepFactor`, and every
 * intermediate state is checked: a step may keep a violation live state already has but
 * never create or deepen one. A plan whose end state violates an invariant is refused
 * with the arithmetic.
 */
export function planSteps(resources: readonly ResourceChanges[], options: StepPlannerOptions): StepPlan {
  const factor = options.maxStepFactor ?? 2;
  if (!(factor > 1)) throw new TypeError(`Expected \`maxStepFactor\` to be a number > 1, got \`${factor}\``);
  const start = options.evaluate([]);
  const buckets = new Map<Phase, { disruptive: ResourceChanges[]; plain: StepChange[] }>();
  for (const p of PHASE_ORDER) buckets.set(p, { disruptive: [], plain: [] });

  for (const r of resources) {
    if (r.changes.length === 0) continue;
    const roles = r.changes.map((c) => options.classify(r.kind, c));
    // A restart or a replacement stands alone, unsplit: splitting a restart-requiring
    // change would restart once per step. A new Cloud Run revision is the normal way a
    // service changes, so its scaling settings are stepped like any other.
    const heavy = r.disruptions.filter((d) => d.kind !== "new-revision");
    if (heavy.length > 0) {
      // A disruptive resource changes in one write: splitting a restart-requiring change
      // would restart it once per step.
      const up = roles.some((x) => x.direction === "up");
      const role = roles.find((x) => x.role !== "neutral")?.role ?? "neutral";
      buckets
        .get(phaseOf(role, up ? "up" : roles.some((x) => x.direction === "down") ? "down" : "none"))!
        .disruptive.push(r);
      continue;
    }
    // A resource's neutral fields travel with its first capacity change.
    const anchor = roles.find((x) => x.role !== "neutral" && x.direction !== "none");
    r.changes.forEach((c, i) => {
      const role = roles[i]!;
      const phase =
        role.role === "neutral" || role.direction === "none"
          ? phaseOf(anchor?.role ?? defaultRole(r.kind), anchor?.direction ?? "none")
          : phaseOf(role.role, role.direction);
      buckets.get(phase)!.plain.push({ address: r.address, kind: r.kind, change: c });
    });
  }

  const steps: Step[] = [];
  const applied: StepChange[] = [];
  const refusals: string[] = [];
  const push = (phase: Phase, changes: StepChange[], disruption?: Disruption) => {
    for (const c of changes) {
      const i = applied.findIndex((a) => a.address === c.address && a.change.field === c.change.field);
      if (i >= 0) applied.splice(i, 1);
      applied.push(c);
    }
    const invariants = options.evaluate(applied);
    steps.push({ index: steps.length + 1, phase, changes, disruption, invariants });
    for (const r of regressions(start, invariants)) {
      refusals.push(
        `step ${steps.length} (${PHASE_TITLES[phase]}) would leave ${r.subject} worse off: ${r.explanation}`,
      );
    }
  };

  for (const phase of PHASE_ORDER) {
    const b = buckets.get(phase)!;
    for (const r of b.disruptive) {
      push(
        phase,
        r.changes.map((c) => ({ address: r.address, kind: r.kind, change: c })),
        r.disruptions.find((d) => d.kind !== "new-revision"),
      );
    }
    if (b.plain.length === 0) continue;
    const ladders = b.plain.map((c) => ladder(c, options.classify(c.kind, c.change), factor));
    const height = Math.max(...ladders.map((l) => l.length));
    for (let k = 0; k < height; k++) {
      const changes = ladders.flatMap((l) => (k < l.length ? [l[k]!] : []));
      push(phase, changes);
    }
  }

  const end = steps.at(-1)?.invariants ?? start;
  for (const r of end) {
    if (!r.ok) refusals.push(`the desired state violates ${r.id} for ${r.subject}: ${r.explanation}`);
  }
  return { steps, start, refusals: [...new Set(refusals)] };
}

function defaultRole(kind: ResourceKind): FieldRole["role"] {
  return kind === "CloudRunService"
    ? "consumer"
    : kind === "SqlInstance" || kind === "VpcConnector"
      ? "provider"
      : "neutral";
}

function phaseOf(role: FieldRole["role"], direction: FieldRole["direction"]): Phase {
  if (role === "provider") return direction === "down" ? "lower-providers" : "raise-providers";
  if (role === "consumer") return direction === "down" ? "lower-consumers" : "consumers";
  return "raise-providers";
}

/**
 * ladder splits one scalable numeric change into geometric steps no larger than
 * `factor`, ending exactly on the target: 5 → 40 by 2 is 10, 20, 40. A step of one unit
 * is always allowed, since an integer setting cannot move by less (1 → 2 by 1.5).
 */
function ladder(c: StepChange, role: FieldRole, factor: number): StepChange[] {
  const { before, after } = c.change;
  if (
    !role.scalable ||
    typeof before !== "number" ||
    typeof after !== "number" ||
    before <= 0 ||
    after <= 0
  ) {
    return [c];
  }
  const values: number[] = [];
  let v = before;
  if (after > before) {
    while (after / v > factor) {
      // At least one unit per step: integer settings cannot move by less.
      v = Math.max(v + 1, Math.floor(v * factor));
      if (v >= after) break;
      values.push(v);
    }
  } else {
    while (v / after > factor) {
      v = Math.min(v - 1, Math.ceil(v / factor));
      if (v <= after) break;
      values.push(v);
    }
  }
  values.push(after);
  let prev: number = before;
  return values.map((value) => {
    const step = { ...c, change: { ...c.change, before: prev, after: value } };
    prev = value;
    return step;
  });
}
