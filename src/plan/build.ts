import { checkInvariants } from "../capacity/invariants.ts";
import {
  addressOf,
  type CapacityWorld,
  capacityState,
  classifyField,
  policyModels,
  type Shape,
} from "../capacity/model.ts";
import type { Clock } from "../clock/index.ts";
import { diffManaged, type FieldChange } from "../diff/index.ts";
import { type Gcp, withReadMemo } from "../gcp/access.ts";
import type { Observed, Reconciler, ResourceRef, Scope } from "../reconcilers/types.ts";
import type { AnyResource, Resource, SpecSet } from "../spec/types.ts";
import {
  type Disruption,
  PLAN_FORMAT_VERSION,
  type Plan,
  type Problem,
  type ResourceKind,
  type ResourcePlan,
  summarize,
} from "./model.ts";
import { planSteps, type ResourceChanges, type StepPlan } from "./steps.ts";

/** Reconcilers maps each managed kind to its reconciler. */
export type Reconcilers = { readonly [K in ResourceKind]: Reconciler<K, unknown> };

/** Options of {@link buildPlan}. */
export interface BuildPlanOptions {
  readonly specs: SpecSet;
  readonly gcp: Gcp;
  readonly reconcilers: Reconcilers;
  readonly clock: Clock;
  /**
   * Run each reconciler's server-side checks (secret refs, validateOnly).
   * @default true
   */
  readonly serverChecks?: boolean;
  /**
   * How many list calls run at once.
   * @default 8
   */
  readonly concurrency?: number;
  readonly signal?: AbortSignal | undefined;
}

/** Planned is one managed resource with everything apply needs to act on it. */
export interface Planned {
  readonly resource: AnyResource;
  readonly address: string;
  readonly ref: ResourceRef;
  readonly observed: Observed<unknown> | undefined;
  readonly desired: Shape;
  readonly changes: readonly FieldChange[];
  readonly disruptions: readonly Disruption[];
}

/** PlanResult is a plan for people and machines plus what apply needs to carry it out. */
export interface PlanResult {
  readonly plan: Plan;
  readonly planned: readonly Planned[];
  readonly steps: StepPlan;
  readonly world: CapacityWorld;
}

function isManaged(r: AnyResource): r is Exclude<AnyResource, Resource<"CapacityPolicy">> {
  return r.kind !== "CapacityPolicy";
}

/** refOf identifies a spec's live resource. */
export function refOf(r: Exclude<AnyResource, Resource<"CapacityPolicy">>): ResourceRef {
  return {
    kind: r.kind,
    project: r.metadata.project,
    location: r.metadata.region ?? "global",
    id: r.metadata.name,
  };
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

/**
 * observe reads the live state of every managed spec with one list call per kind,
 * project and location (plus pages), never one get per resource.
 */
export async function observe(
  specs: readonly AnyResource[],
  gcp: Gcp,
  reconcilers: Reconcilers,
  options: { concurrency?: number; signal?: AbortSignal | undefined } = {},
): Promise<Map<string, Observed<unknown>>> {
  const scopes = new Map<string, { kind: ResourceKind; scope: Scope }>();
  for (const r of specs) {
    if (!isManaged(r)) continue;
    const scope = reconcilers[r.kind].scopeOf(refOf(r));
    scopes.set(`${r.kind}|${scope.project}|${scope.location}`, { kind: r.kind, scope });
  }
  const lists = await mapLimit([...scopes.values()], options.concurrency ?? 8, ({ kind, scope }) =>
    reconcilers[kind].list(gcp, scope, options.signal),
  );
  const byName = new Map<string, Observed<unknown>>();
  for (const list of lists) for (const o of list) byName.set(o.name, o);
  return byName;
}

/**
 * buildPlan compares the specs with live GCP and orders the changes into steps. It reads
 * and never writes: the only calls it makes are list calls, metadata reads of referenced
 * secrets and validate-only requests.
 */
export async function buildPlan(options: BuildPlanOptions): Promise<PlanResult> {
  const { specs, reconcilers, clock, signal } = options;
  // One plan reads each shared thing (a secret version many services use) once.
  const gcp = withReadMemo(options.gcp);
  const asPlanProblem = (p: SpecSet["problems"][number]): Problem => ({
    severity: "error",
    message: p.message,
    address: p.kind && p.name ? `${p.kind}/${p.name}` : undefined,
    source: { file: p.file, line: p.line, col: p.col },
  });
  // What a catalog judged offline (Problem.catalog) is judged again by the reconciler's
  // server-side check, which reads the live catalog; it stands for resources not checked.
  const problems: Problem[] = specs.problems.filter((p) => !p.catalog).map(asPlanProblem);
  const rejudged = new Set<AnyResource>();
  const live = await observe(specs.resources, gcp, reconcilers, { concurrency: options.concurrency, signal });
  const observedAt = new Date(clock.now()).toISOString();

  const planned: Planned[] = [];
  const resources: ResourcePlan[] = [];
  const shapes = new Map<string, Shape>();
  const byAddress = new Map<string, AnyResource>();
  for (const r of specs.resources) byAddress.set(addressOf(r), r);

  for (const r of specs.resources) {
    if (!isManaged(r)) continue;
    const rec = reconcilers[r.kind] as Reconciler<typeof r.kind, unknown>;
    const ref = refOf(r);
    const name = r.gcpName ?? rec.fullName(ref);
    const address = addressOf(r);
    const desired = rec.desired(r as never);
    const observed = live.get(name);
    const source = r.source.at("");
    if (!observed) {
      shapes.set(address, desired);
      planned.push({ resource: r, address, ref, observed, desired, changes: [], disruptions: [] });
      resources.push({
        address,
        kind: r.kind,
        name,
        action: "missing",
        changes: [],
        disruptions: [],
        notes: [],
        source,
      });
      continue;
    }
    const normalized = rec.normalize(observed.live);
    shapes.set(address, normalized);
    const changes = diffManaged(desired, normalized, rec.diffOptions);
    const disruptions = changes.length ? rec.disruptions(changes, observed, r as never) : [];
    const notes: string[] = [];
    if (options.serverChecks !== false && rec.check) {
      const checked = await rec.check(gcp, r as never, observed, changes);
      rejudged.add(r);
      notes.push(...checked.notes);
      for (const message of checked.problems) problems.push({ severity: "error", message, address, source });
    }
    const replace = disruptions.some((d) => d.kind === "replacement");
    planned.push({ resource: r, address, ref, observed, desired, changes, disruptions });
    resources.push({
      address,
      kind: r.kind,
      name,
      action: changes.length === 0 ? "no-op" : replace ? "replace" : "update",
      changes,
      disruptions,
      notes,
      source,
    });
  }

  for (const p of specs.problems) {
    if (!p.catalog) continue;
    const checked = [...rejudged].some(
      (r) => r.file === p.file && r.kind === p.kind && r.metadata.name === p.name,
    );
    if (!checked) problems.push(asPlanProblem(p));
  }

  const world: CapacityWorld = {
    policies: specs.resources.filter((r): r is Resource<"CapacityPolicy"> => r.kind === "CapacityPolicy"),
    shapes,
    resources: byAddress,
  };
  const policies = policyModels(world);
  const stepFactor = Math.min(
    ...world.policies.map((p) => p.spec.rollout.maxStepFactor),
    Number.POSITIVE_INFINITY,
  );
  const changeSets: ResourceChanges[] = planned
    .filter((p) => p.changes.length > 0)
    .map((p) => ({ address: p.address, kind: p.ref.kind, changes: p.changes, disruptions: p.disruptions }));
  const steps = planSteps(changeSets, {
    classify: classifyField,
    evaluate: (applied) => checkInvariants(policies, capacityState(world, applied)),
    maxStepFactor: Number.isFinite(stepFactor) ? stepFactor : 2,
  });
  for (const message of steps.refusals) problems.push({ severity: "error", message });

  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    observedAt,
    resources,
    problems,
    summary: summarize(resources, problems),
    rollout: { start: steps.start, steps: steps.steps },
  };
  return { plan, planned, steps, world };
}
