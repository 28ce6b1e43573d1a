/**
 * The capacity model: what must hold between the numbers of a Cloud Run service, the
 * Cloud SQL instance it connects to and the VPC connector its egress crosses. Pure
 * arithmetic on a CapacityState, so the planner can check the desired end state and
 * every intermediate state of a step plan, and print the arithmetic.
 */

/** ServiceCapacity is what one Cloud Run service demands. */
export interface ServiceCapacity {
  /** Maximum instances (service-level scaling.maxInstances, else the revision's). */
  readonly maxInstances: number;
  /** Database connections each instance may hold (its pool size). */
  readonly connectionsPerInstance: number;
  /** Egress through the connector each instance may send, in Mbps. */
  readonly egressMbpsPerInstance: number;
  /** Startup probe budget in seconds: initialDelay + period × failureThreshold. */
  readonly startupBudgetSeconds?: number | undefined;
  /** The database connect timeout the application uses, in seconds. */
  readonly dbConnectTimeoutSeconds?: number | undefined;
  /** The request timeout, in seconds. */
  readonly requestTimeoutSeconds?: number | undefined;
}

/** SqlCapacity is what a Cloud SQL instance offers. */
export interface SqlCapacity {
  readonly maxConnections: number;
}

/** ConnectorCapacity is what a VPC connector offers. */
export interface ConnectorCapacity {
  /** Throughput at maximum scale, in Mbps (machine type throughput × maxInstances). */
  readonly maxThroughputMbps: number;
  /** How the throughput was derived, for explanations, e.g. `10 × e2-micro (100 Mbps)`. */
  readonly derivation: string;
}

/** PolicyModel is a CapacityPolicy reduced to what the invariants need. */
export interface PolicyModel {
  /** `CapacityPolicy/name`. */
  readonly address: string;
  /** Addresses of the member services. */
  readonly services: readonly string[];
  /** Address of the SQL instance they share, if any. */
  readonly sqlInstance?: string | undefined;
  /** Address of the connector they share, if any. */
  readonly connector?: string | undefined;
  /** Connections held outside the services (admin, migrations, replicas). */
  readonly reservedConnections: number;
  /** Fraction of max_connections the services may use, e.g. 0.8. */
  readonly connectionCeiling: number;
  /** Fraction of connector throughput the services may use, e.g. 0.7. */
  readonly connectorCeiling: number;
}

/** CapacityState is the value of every number the invariants read, by resource address. */
export interface CapacityState {
  readonly services: Readonly<Record<string, ServiceCapacity>>;
  readonly sql: Readonly<Record<string, SqlCapacity>>;
  readonly connectors: Readonly<Record<string, ConnectorCapacity>>;
}

/** InvariantId names an invariant. */
export type InvariantId =
  | "db-connections"
  | "connector-throughput"
  | "startup-covers-connect"
  | "connect-below-request";

/** InvariantResult is one invariant evaluated on one state. */
export interface InvariantResult {
  readonly id: InvariantId;
  readonly policy: string;
  /** The resource the invariant protects, e.g. the SQL instance or a service. */
  readonly subject: string;
  readonly ok: boolean;
  /** Demand side. */
  readonly lhs: number;
  /** Supply side. */
  readonly rhs: number;
  /** The arithmetic, e.g. `20 × 5 + 10 = 110 > 0.8 × 120 = 96`. */
  readonly explanation: string;
}

/** fmt prints a number without float noise: 96, 0.8, 112.5. */
export function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(3)));
}

/**
 * checkInvariants evaluates every invariant of every policy on a state. A policy whose
 * resources are not all in the state skips the invariants it cannot evaluate.
 */
export function checkInvariants(policies: readonly PolicyModel[], state: CapacityState): InvariantResult[] {
  const out: InvariantResult[] = [];
  for (const p of policies) {
    const members = p.services.flatMap((s) => {
      const c = state.services[s];
      return c ? [{ address: s, c }] : [];
    });
    const sql = p.sqlInstance ? state.sql[p.sqlInstance] : undefined;
    if (sql && p.sqlInstance && members.length > 0) {
      // Σ (max instances × connections per instance) + reserved ≤ ceiling × max_connections
      const terms = members.map((m) => `${fmt(m.c.maxInstances)} × ${fmt(m.c.connectionsPerInstance)}`);
      const lhs =
        members.reduce((n, m) => n + m.c.maxInstances * m.c.connectionsPerInstance, 0) +
        p.reservedConnections;
      const rhs = p.connectionCeiling * sql.maxConnections;
      const ok = lhs <= rhs;
      out.push({
        id: "db-connections",
        policy: p.address,
        subject: p.sqlInstance,
        ok,
        lhs,
        rhs,
        explanation: `${terms.join(" + ")} + ${fmt(p.reservedConnections)} = ${fmt(lhs)} ${ok ? "≤" : ">"} ${fmt(
          p.connectionCeiling,
        )} × ${fmt(sql.maxConnections)} = ${fmt(rhs)} (database connections at full scale vs. ${fmt(
          p.connectionCeiling * 100,
        )}% of max_connections)`,
      });
    }
    const conn = p.connector ? state.connectors[p.connector] : undefined;
    if (conn && p.connector && members.length > 0) {
      // Σ (max instances × egress per instance) ≤ ceiling × connector throughput
      const terms = members.map((m) => `${fmt(m.c.maxInstances)} × ${fmt(m.c.egressMbpsPerInstance)} Mbps`);
      const lhs = members.reduce((n, m) => n + m.c.maxInstances * m.c.egressMbpsPerInstance, 0);
      const rhs = p.connectorCeiling * conn.maxThroughputMbps;
      const ok = lhs <= rhs;
      out.push({
        id: "connector-throughput",
        policy: p.address,
        subject: p.connector,
        ok,
        lhs,
        rhs,
        explanation: `${terms.join(" + ")} = ${fmt(lhs)} Mbps ${ok ? "≤" : ">"} ${fmt(p.connectorCeiling)} × ${fmt(
          conn.maxThroughputMbps,
        )} Mbps = ${fmt(rhs)} Mbps (egress at full scale vs. ${fmt(p.connectorCeiling * 100)}% of ${conn.derivation})`,
      });
    }
    for (const m of members) {
      const {
        startupBudgetSeconds: budget,
        dbConnectTimeoutSeconds: connect,
        requestTimeoutSeconds: request,
      } = m.c;
      if (budget !== undefined && connect !== undefined) {
        const ok = budget >= connect;
        out.push({
          id: "startup-covers-connect",
          policy: p.address,
          subject: m.address,
          ok,
          lhs: connect,
          rhs: budget,
          explanation: `startup probe budget ${fmt(budget)}s ${ok ? "≥" : "<"} database connect timeout ${fmt(connect)}s${
            ok ? "" : ": the probe gives up before the database connection can time out"
          }`,
        });
      }
      if (connect !== undefined && request !== undefined) {
        const ok = connect < request;
        out.push({
          id: "connect-below-request",
          policy: p.address,
          subject: m.address,
          ok,
          lhs: connect,
          rhs: request,
          explanation: `database connect timeout ${fmt(connect)}s ${ok ? "<" : "≥"} request timeout ${fmt(request)}s${
            ok ? "" : ": requests time out before a connection attempt can fail cleanly"
          }`,
        });
      }
    }
  }
  return out;
}

/**
 * slack is how far an invariant is from being violated (supply − demand, or the margin
 * of a timeout rule); negative when violated.
 */
export function slack(r: InvariantResult): number {
  if (r.id === "connect-below-request") return r.rhs - r.lhs - Number.EPSILON;
  return r.rhs - r.lhs;
}

/**
 * regressions returns the invariants of `next` that are violated and worse than in
 * `start`. An intermediate state may keep a violation the live system already has (the
 * plan is fixing it), but must never create one or deepen one.
 */
export function regressions(
  start: readonly InvariantResult[],
  next: readonly InvariantResult[],
): InvariantResult[] {
  return next.filter((r) => {
    if (r.ok) return false;
    const before = start.find((s) => s.id === r.id && s.policy === r.policy && s.subject === r.subject);
    return !before || slack(r) < slack(before);
  });
}
