import type { FieldChange } from "../diff/index.ts";
import { defaultMaxConnections, sqlTierMemoryMiB } from "../gcp/catalog/sql.ts";
import {
  CONNECTOR_DEFAULT_MACHINE_TYPE,
  connectorCapacityMbps,
  isConnectorMachineType,
} from "../gcp/catalog/vpcaccess.ts";
import type { ResourceKind } from "../plan/model.ts";
import type { FieldRole, StepChange } from "../plan/steps.ts";
import type { AnyResource, CapacityPolicySpec, Resource } from "../spec/types.ts";
import type {
  CapacityState,
  ConnectorCapacity,
  PolicyModel,
  ServiceCapacity,
  SqlCapacity,
} from "./invariants.ts";

/**
 * Shape is a resource in its kind's managed shape: the spec type of src/spec/types.ts with
 * references as full GCP names. Reconcilers produce it from specs (`desired`) and from
 * live resources (`normalize`); the capacity model reads numbers out of it.
 */
export type Shape = Readonly<Record<string, unknown>>;

/**
 * addressOf is how a resource is named in plans and invariants: `Kind/name`, unique in
 * its spec set (see Resource.address).
 */
export function addressOf(r: Pick<AnyResource, "kind" | "metadata" | "address">): string {
  return r.address ?? `${r.kind}/${r.metadata.name}`;
}

function get(shape: Shape | undefined, ...path: string[]): unknown {
  let v: unknown = shape;
  for (const k of path) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

/**
 * withChanges returns `shape` with each change's `after` written at its path (keyed list
 * entries matched by their key), leaving every other field as it is.
 */
export function withChanges(shape: Shape, changes: readonly FieldChange[]): Shape {
  const out = structuredClone(shape) as Record<string, unknown>;
  for (const c of changes) {
    let obj: unknown = out;
    c.path.forEach((seg, i) => {
      const last = i === c.path.length - 1;
      if (typeof seg === "object") {
        const list = Array.isArray(obj) ? (obj as Record<string, unknown>[]) : [];
        const at = list.findIndex((e) => e?.[seg.key] === seg.id);
        if (last) {
          if (at >= 0) list[at] = c.after as Record<string, unknown>;
          else list.push(c.after as Record<string, unknown>);
        } else obj = list[at];
        return;
      }
      const o = obj as Record<string, unknown>;
      if (last) o[String(seg)] = c.after;
      else {
        const next = c.path[i + 1];
        o[String(seg)] ??= typeof next === "object" ? [] : {};
        obj = o[String(seg)];
      }
    });
  }
  return out;
}

/** CapacityWorld is what the capacity model reads: the policies and every resource's shape. */
export interface CapacityWorld {
  readonly policies: readonly Resource<"CapacityPolicy">[];
  /** Every resource's current shape by address: live state normalised, or the spec when it is missing live. */
  readonly shapes: ReadonlyMap<string, Shape>;
  /** The resources by address, to follow references. */
  readonly resources: ReadonlyMap<string, AnyResource>;
}

/** policyModels reduces the CapacityPolicy specs to what the invariants need. */
export function policyModels(world: CapacityWorld): PolicyModel[] {
  const byName = (name: string | undefined) =>
    name === undefined ? undefined : [...world.resources.values()].find((r) => r.gcpName === name);
  return world.policies.map((p) => {
    const spec: CapacityPolicySpec = p.spec;
    const members = spec.members.map((m) => byName(m.service.name)).filter((r) => r !== undefined);
    const first = spec.members[0];
    const sql = first?.sqlInstance ? byName(first.sqlInstance.name) : undefined;
    const connector = first?.connector ? byName(first.connector.name) : undefined;
    return {
      address: addressOf(p),
      services: members.map(addressOf),
      sqlInstance: sql ? addressOf(sql) : undefined,
      connector: connector ? addressOf(connector) : undefined,
      reservedConnections: spec.sql.reservedConnections,
      connectionCeiling: spec.sql.ceiling,
      connectorCeiling: spec.connector.ceiling,
    };
  });
}

/**
 * capacityState reads the invariants' numbers out of the shapes, with `applied` step
 * changes written over them. A service's maximum instances is its service-level
 * scaling.maxInstances when set, else its revision template's; a missing max_connections
 * flag means Cloud SQL's default for the tier.
 */
export function capacityState(world: CapacityWorld, applied: readonly StepChange[] = []): CapacityState {
  const shapeOf = (address: string): Shape | undefined => {
    const base = world.shapes.get(address);
    if (!base) return undefined;
    const mine = applied.filter((c) => c.address === address).map((c) => c.change);
    return mine.length ? withChanges(base, mine) : base;
  };
  const services: Record<string, ServiceCapacity> = {};
  const sql: Record<string, SqlCapacity> = {};
  const connectors: Record<string, ConnectorCapacity> = {};
  for (const p of world.policies) {
    for (const m of p.spec.members) {
      const res = [...world.resources.values()].find((r) => r.gcpName === m.service.name);
      if (!res) continue;
      const address = addressOf(res);
      const s = shapeOf(address);
      const maxInstances =
        num(get(s, "scaling", "maxInstances")) ?? num(get(s, "template", "scaling", "maxInstances"));
      if (maxInstances === undefined) continue;
      const probe = get(s, "template", "startupProbe") as Shape | undefined;
      const initial = num(get(probe, "initialDelay")) ?? 0;
      const period = num(get(probe, "period"));
      const threshold = num(get(probe, "failureThreshold"));
      const env = (get(s, "template", "env") ?? []) as { name?: string; value?: string }[];
      const connectEnv = m.dbConnectTimeoutEnv
        ? env.find((e) => e.name === m.dbConnectTimeoutEnv)
        : undefined;
      services[address] = {
        maxInstances,
        connectionsPerInstance: m.connectionsPerInstance ?? 0,
        egressMbpsPerInstance: m.egressMbpsPerInstance ?? 0,
        startupBudgetSeconds:
          probe && period !== undefined && threshold !== undefined ? initial + period * threshold : undefined,
        dbConnectTimeoutSeconds: num(connectEnv?.value),
        requestTimeoutSeconds: num(get(s, "template", "timeout")),
      };
    }
  }
  for (const [address, r] of world.resources) {
    const s = shapeOf(address);
    if (r.kind === "SqlInstance") {
      const tier = get(s, "tier");
      const flag = num(get(s, "databaseFlags", "max_connections"));
      const max = flag ?? (typeof tier === "string" ? defaultMaxConnections(tier) : undefined);
      if (max !== undefined) sql[address] = { maxConnections: max };
    } else if (r.kind === "VpcConnector") {
      const machine = String(get(s, "machineType") ?? CONNECTOR_DEFAULT_MACHINE_TYPE);
      const maxInstances = num(get(s, "maxInstances"));
      if (maxInstances !== undefined && isConnectorMachineType(machine)) {
        connectors[address] = {
          maxThroughputMbps: connectorCapacityMbps(machine, maxInstances),
          derivation: `${maxInstances} × ${machine} (${connectorCapacityMbps(machine, 1)} Mbps each)`,
        };
      }
    }
  }
  return { services, sql, connectors };
}

function direction(before: number | undefined, after: number | undefined): FieldRole["direction"] {
  if (before === undefined || after === undefined || before === after)
    return after === undefined ? "none" : "up";
  return after > before ? "up" : "down";
}

/**
 * classifyField gives a changed field its capacity role: SQL tier and max_connections and
 * connector machine type and instance counts are provider capacity; Cloud Run maximum
 * instances and concurrency are consumer demand; everything else is neutral.
 */
export function classifyField(kind: ResourceKind, change: FieldChange): FieldRole {
  const field = change.field;
  const neutral: FieldRole = { role: "neutral", direction: "none", scalable: false };
  switch (kind) {
    case "SqlInstance":
      if (field === "tier") {
        const b = typeof change.before === "string" ? sqlTierMemoryMiB(change.before) : undefined;
        const a = typeof change.after === "string" ? sqlTierMemoryMiB(change.after) : undefined;
        return { role: "provider", direction: direction(b, a), scalable: false };
      }
      if (field === "databaseFlags.max_connections") {
        return {
          role: "provider",
          direction: direction(num(change.before), num(change.after)),
          scalable: false,
        };
      }
      return neutral;
    case "VpcConnector":
      if (field === "machineType") {
        const cap = (v: unknown) =>
          typeof v === "string" && isConnectorMachineType(v) ? connectorCapacityMbps(v, 1) : undefined;
        return {
          role: "provider",
          direction: direction(cap(change.before), cap(change.after)),
          scalable: false,
        };
      }
      if (field === "maxInstances" || field === "minInstances") {
        return {
          role: "provider",
          direction: direction(num(change.before), num(change.after)),
          scalable: true,
        };
      }
      return neutral;
    case "CloudRunService":
      if (
        field === "scaling.maxInstances" ||
        field === "template.scaling.maxInstances" ||
        field === "template.maxConcurrency"
      ) {
        return {
          role: "consumer",
          direction: direction(num(change.before), num(change.after)),
          scalable: true,
        };
      }
      return neutral;
    default:
      return neutral;
  }
}
