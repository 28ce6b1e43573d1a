import { stringify } from "yaml";
import { names } from "../../src/gcp/names.ts";
import type { ResourceKind } from "../../src/plan/model.ts";
import { formatDuration } from "../../src/spec/units.ts";

/** Managed is a recorded resource of a kind capstan manages, told apart by its request path. */
export interface Managed {
  readonly kind: ResourceKind;
  readonly project: string;
  /** The region of regional kinds, `global` for global ones. */
  readonly region: string;
  readonly name: string;
}

/**
 * managedOf says which managed kind a recorded GET path reads, and which resource: the
 * path alone decides, so a recording added to the corpus later is picked up as it is.
 */
export function managedOf(path: string): Managed | undefined {
  const rel = path.replace(/^\/(?:compute\/)?v\d+\//, "");
  const run = /^\/v2\//.test(path) ? names.runService.parse(rel) : undefined;
  if (run) return { kind: "CloudRunService", project: run.project, region: run.location, name: run.service };
  const connector = names.connector.parse(rel);
  if (connector && /^\/v1\//.test(path)) {
    return {
      kind: "VpcConnector",
      project: connector.project,
      region: connector.location,
      name: connector.connector,
    };
  }
  const sql = names.sqlInstance.parse(rel);
  if (sql) return { kind: "SqlInstance", project: sql.project, region: "", name: sql.instance };
  const hc = names.computeHealthCheck.parse(rel);
  if (hc) return { kind: "HealthCheck", project: hc.project, region: "global", name: hc.healthCheck };
  const bs = names.computeBackendService.parse(rel);
  if (bs) return { kind: "BackendService", project: bs.project, region: "global", name: bs.backendService };
  return undefined;
}

/** DURATIONS are the managed fields whose normal form is seconds; a spec writes them as durations. */
const DURATIONS = new Set([
  "template.timeout",
  "template.startupProbe.initialDelay",
  "template.startupProbe.period",
  "template.startupProbe.timeout",
  "template.livenessProbe.initialDelay",
  "template.livenessProbe.period",
  "template.livenessProbe.timeout",
  "outlierDetection.interval",
  "outlierDetection.baseEjectionTime",
]);

/**
 * specOf is the generic rule by which the corpus tests derive a spec from a recorded
 * resource: every managed field, with the value capstan's normalisation reads from the
 * live body, written as a user writes it. The shape capstan compares is the spec's own
 * (src/reconcilers/types.ts), so the rule only undoes the two things normalisation does
 * that a spec does not say the same way: durations become duration strings, and a Cloud
 * SQL instance a service mounts (normalised to its full name) is written as the
 * connection name the live service mounts it by.
 */
export function specOf(state: Record<string, unknown>, live: unknown): Record<string, unknown> {
  const connections = connectionNames(live);
  const walk = (v: unknown, at: string): unknown => {
    if (Array.isArray(v)) {
      if (at === "template.cloudSqlInstances") return v.map((n) => connections.get(String(n)) ?? n);
      return v.map((x) => walk(x, at));
    }
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, at ? `${at}.${k}` : k)]));
    }
    if (typeof v === "number" && DURATIONS.has(at)) return formatDuration(v);
    return v;
  };
  return walk(state, "") as Record<string, unknown>;
}

/** connectionNames maps each Cloud SQL instance a live Cloud Run service mounts, by full name, to its connection name. */
function connectionNames(live: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const volumes = (live as { template?: { volumes?: { cloudSqlInstance?: { instances?: string[] } }[] } })
    ?.template?.volumes;
  for (const v of volumes ?? []) {
    for (const c of v.cloudSqlInstance?.instances ?? []) {
      const [project, , instance] = c.split(":");
      if (project && instance) out.set(names.sqlInstance.format({ project, instance }), c);
    }
  }
  return out;
}

/** specDocument prints one spec document for `m` with `spec` as its body. */
export function specDocument(m: Managed, spec: Record<string, unknown>): string {
  const metadata: Record<string, unknown> = { name: m.name, project: m.project };
  if (m.region !== "global" && m.region !== "") metadata["region"] = m.region;
  return stringify({ apiVersion: "capstan.dev/v1alpha1", kind: m.kind, metadata, spec });
}
