import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CapacityState, checkInvariants, type PolicyModel } from "../capacity/invariants.ts";
import { diffManaged, type FieldChange } from "../diff/index.ts";
import type { ResourceKind } from "./model.ts";
import { type FieldRole, planSteps, type ResourceChanges, type StepChange } from "./steps.ts";

/** A tiny world: one service, one SQL instance, one connector, as managed shapes. */
interface World {
  run: { maxInstances: number; pool: number };
  sql: { maxConnections: number; workMem?: number };
  vpc: { maxInstances: number };
}

const policy: PolicyModel = {
  address: "CapacityPolicy/p",
  services: ["CloudRunService/backend"],
  sqlInstance: "SqlInstance/db",
  connector: "VpcConnector/vpc",
  reservedConnections: 10,
  connectionCeiling: 0.8,
  connectorCeiling: 0.7,
};

const KINDS: Record<string, ResourceKind> = {
  "CloudRunService/backend": "CloudRunService",
  "SqlInstance/db": "SqlInstance",
  "VpcConnector/vpc": "VpcConnector",
};
const KEYS: Record<string, keyof World> = {
  "CloudRunService/backend": "run",
  "SqlInstance/db": "sql",
  "VpcConnector/vpc": "vpc",
};

function stateOf(w: World): CapacityState {
  return {
    services: {
      "CloudRunService/backend": {
        maxInstances: w.run.maxInstances,
        connectionsPerInstance: w.run.pool,
        egressMbpsPerInstance: 10,
      },
    },
    sql: { "SqlInstance/db": { maxConnections: w.sql.maxConnections } },
    connectors: {
      "VpcConnector/vpc": { maxThroughputMbps: w.vpc.maxInstances * 100, derivation: "e2-micro" },
    },
  };
}

function applyAll(start: World, changes: readonly StepChange[]): World {
  const w = structuredClone(start) as unknown as Record<string, Record<string, unknown>>;
  for (const c of changes) w[KEYS[c.address]!]![String(c.change.path[0])] = c.change.after;
  return w as unknown as World;
}

function classify(kind: ResourceKind, c: FieldChange): FieldRole {
  const field = String(c.path[0]);
  const dir =
    (c.after as number) > (c.before as number)
      ? "up"
      : (c.after as number) < (c.before as number)
        ? "down"
        : "none";
  if (kind === "CloudRunService")
    return { role: "consumer", direction: dir, scalable: field === "maxInstances" };
  if (field === "workMem") return { role: "neutral", direction: "none", scalable: false };
  return { role: "provider", direction: dir, scalable: kind === "VpcConnector" };
}

function plan(current: World, desired: World, factor = 2) {
  const resources: ResourceChanges[] = (Object.keys(KEYS) as string[]).map((address) => {
    const key = KEYS[address]!;
    const changes = diffManaged(desired[key], current[key]);
    const restart = key === "sql" && changes.some((c) => c.field === "maxConnections");
    return {
      address,
      kind: KINDS[address]!,
      changes,
      disruptions: restart
        ? [
            {
              kind: "restart" as const,
              reason: "max_connections requires a restart",
              fields: ["maxConnections"],
            },
          ]
        : [],
    };
  });
  return planSteps(resources, {
    classify,
    evaluate: (applied) => checkInvariants([policy], stateOf(applyAll(current, applied))),
    maxStepFactor: factor,
  });
}

describe("planSteps", () => {
  it("restarts the database alone before raising the service, and splits the raise by the step factor", () => {
    const p = plan(
      { run: { maxInstances: 5, pool: 5 }, sql: { maxConnections: 100 }, vpc: { maxInstances: 10 } },
      { run: { maxInstances: 20, pool: 5 }, sql: { maxConnections: 200 }, vpc: { maxInstances: 10 } },
    );
    expect(p.refusals).toEqual([]);
    expect(
      p.steps.map((s) => [
        s.phase,
        s.changes.map((c) => `${c.address} ${c.change.before}→${c.change.after}`),
      ]),
    ).toEqual([
      ["raise-providers", ["SqlInstance/db 100→200"]],
      ["consumers", ["CloudRunService/backend 5→10"]],
      ["consumers", ["CloudRunService/backend 10→20"]],
    ]);
    expect(p.steps[0]?.disruption?.kind).toBe("restart");
  });

  it("lowers the service before it lowers the database", () => {
    const p = plan(
      { run: { maxInstances: 20, pool: 5 }, sql: { maxConnections: 200 }, vpc: { maxInstances: 10 } },
      { run: { maxInstances: 10, pool: 5 }, sql: { maxConnections: 100 }, vpc: { maxInstances: 10 } },
    );
    expect(p.refusals).toEqual([]);
    expect(p.steps.map((s) => s.phase)).toEqual(["lower-consumers", "lower-providers"]);
  });

  it("refuses a desired state whose connections exceed the ceiling and shows the arithmetic", () => {
    const p = plan(
      { run: { maxInstances: 10, pool: 5 }, sql: { maxConnections: 120 }, vpc: { maxInstances: 10 } },
      { run: { maxInstances: 20, pool: 5 }, sql: { maxConnections: 120 }, vpc: { maxInstances: 10 } },
    );
    expect(p.refusals.join("\n")).toContain("20 × 5 + 10 = 110 > 0.8 × 120 = 96");
  });

  it("keeps a neutral change with its resource's capacity step", () => {
    const p = plan(
      {
        run: { maxInstances: 5, pool: 5 },
        sql: { maxConnections: 100, workMem: 4 },
        vpc: { maxInstances: 3 },
      },
      {
        run: { maxInstances: 5, pool: 5 },
        sql: { maxConnections: 100, workMem: 8 },
        vpc: { maxInstances: 10 },
      },
    );
    expect(
      p.steps.map((s) => s.changes.map((c) => `${c.address}.${c.change.field}=${c.change.after}`)),
    ).toEqual([
      ["SqlInstance/db.workMem=8", "VpcConnector/vpc.maxInstances=6"],
      ["VpcConnector/vpc.maxInstances=10"],
    ]);
  });

  const world = fc.record({
    run: fc.record({ maxInstances: fc.integer({ min: 1, max: 100 }), pool: fc.integer({ min: 1, max: 10 }) }),
    sql: fc.record({ maxConnections: fc.integer({ min: 25, max: 4000 }) }),
    vpc: fc.record({ maxInstances: fc.integer({ min: 3, max: 10 }) }),
  });

  it("never passes through a state worse than the start on the way, or refuses with a reason (property)", () => {
    fc.assert(
      fc.property(world, world, fc.constantFrom(1.5, 2, 3), (current, desired, factor) => {
        const p = plan(current, desired, factor);
        const start = checkInvariants([policy], stateOf(current));
        let w = current;
        for (const s of p.steps) {
          w = applyAll(w, s.changes);
          // Recompute the state independently of the planner's own bookkeeping.
          for (const r of checkInvariants([policy], stateOf(w))) {
            const before = start.find((x) => x.id === r.id)!;
            if (!r.ok && r.rhs - r.lhs < before.rhs - before.lhs && p.refusals.length === 0) return false;
          }
          for (const c of s.changes) {
            const { before, after } = c.change;
            const scalable = classify(c.kind, c.change).scalable;
            if (scalable && typeof before === "number" && typeof after === "number") {
              const ratio = Math.max(before, after) / Math.min(before, after);
              if (ratio > factor + 1e-9 && Math.abs(after - before) > 1) return false;
            }
          }
        }
        expect(w).toEqual({ ...current, ...desired });
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it("finds a safe order whenever the start and the end both satisfy the invariants (property)", () => {
    fc.assert(
      fc.property(world, world, (current, desired) => {
        const ok = (w: World) => checkInvariants([policy], stateOf(w)).every((r) => r.ok);
        fc.pre(ok(current) && ok(desired));
        return plan(current, desired).refusals.length === 0;
      }),
      { numRuns: 300 },
    );
  });
});
