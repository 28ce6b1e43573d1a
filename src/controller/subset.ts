import { checkInvariants } from "../capacity/invariants.ts";
import { capacityState, classifyField, policyModels } from "../capacity/model.ts";
import type { Planned, PlanResult } from "../plan/build.ts";
import type { Problem } from "../plan/model.ts";
import { planSteps, type ResourceChanges } from "../plan/steps.ts";

/**
 * restrictPlan returns the plan of only the `include`d resources' changes (by spec
 * identity, `Resource.id`): the others
 * keep their live values. Steps are planned again by the same step planner and capacity
 * model as `capstan plan`, so the order across the resources that remain (providers raised
 * before consumers, lowered after them) and every intermediate invariant still hold
 * without the resources left out; when they cannot hold, the result's problems say why
 * and `execute` refuses it.
 */
export function restrictPlan(result: PlanResult, include: ReadonlySet<string>): PlanResult {
  const planned: Planned[] = result.planned.map((p) =>
    include.has(p.resource.id) ? p : { ...p, changes: [], disruptions: [] },
  );
  const changeSets: ResourceChanges[] = planned
    .filter((p) => p.changes.length > 0)
    .map((p) => ({ address: p.address, kind: p.ref.kind, changes: p.changes, disruptions: p.disruptions }));
  const world = result.world;
  const policies = policyModels(world);
  // The same step bound as buildPlan: the strictest policy's, else 2.
  const stepFactor = Math.min(
    ...world.policies.map((p) => p.spec.rollout.maxStepFactor),
    Number.POSITIVE_INFINITY,
  );
  const steps = planSteps(changeSets, {
    classify: classifyField,
    evaluate: (applied) => checkInvariants(policies, capacityState(world, applied)),
    maxStepFactor: Number.isFinite(stepFactor) ? stepFactor : 2,
  });
  const problems: Problem[] = steps.refusals.map((message) => ({ severity: "error", message }));
  return {
    plan: {
      ...result.plan,
      problems,
      summary: { ...result.plan.summary, errors: problems.length },
      rollout: { start: steps.start, steps: steps.steps },
    },
    planned,
    steps,
    world,
  };
}

/**
 * policyMates returns, for each resource (by spec identity, `Resource.id`), the
 * resources that share a CapacityPolicy with it: those whose safe order depends on it.
 */
export function policyMates(result: PlanResult): Map<string, Set<string>> {
  const byGcpName = new Map<string, string>();
  for (const r of result.world.resources.values()) if (r.gcpName) byGcpName.set(r.gcpName, r.id);
  const mates = new Map<string, Set<string>>();
  for (const pol of result.world.policies) {
    const group = new Set<string>();
    for (const m of pol.spec.members) {
      for (const ref of [m.service, m.sqlInstance, m.connector]) {
        const a = ref ? byGcpName.get(ref.name) : undefined;
        if (a) group.add(a);
      }
    }
    for (const a of group) {
      const set = mates.get(a) ?? new Set<string>();
      for (const b of group) if (b !== a) set.add(b);
      mates.set(a, set);
    }
  }
  return mates;
}
