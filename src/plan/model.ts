import type { InvariantResult } from "../capacity/invariants.ts";
import type { FieldChange } from "../diff/index.ts";
import type { Step } from "./steps.ts";

/** PLAN_FORMAT_VERSION is the version of the JSON plan document (schemas/plan.schema.json). */
export const PLAN_FORMAT_VERSION = "capstan.dev/plan/v1";

/** ResourceKind is a kind of GCP resource capstan manages. */
export type ResourceKind =
  | "VpcConnector"
  | "SqlInstance"
  | "BackendService"
  | "HealthCheck"
  | "CloudRunService";

/**
 * Action is what a plan does to one resource:
 * - `update`: change fields in place;
 * - `replace`: the change can only be made by replacing the resource (connector scale-down),
 *   which the spec explicitly allowed;
 * - `no-op`: every managed field already has its value;
 * - `missing`: the resource does not exist live (capstan neither creates nor deletes).
 */
export type Action = "update" | "replace" | "no-op" | "missing";

/** DisruptionKind is what a change costs beyond the change itself. */
export type DisruptionKind = "new-revision" | "restart" | "replacement";

/** Disruption describes the cost of a set of changes to one resource. */
export interface Disruption {
  readonly kind: DisruptionKind;
  /** Why, for people: e.g. `max_connections requires a restart`. */
  readonly reason: string;
  /** The fields that cause it. */
  readonly fields: readonly string[];
  /** Expected unavailability, when the platform documents one. */
  readonly expectedDowntimeSeconds?: number | undefined;
}

/** SourceRef points at the spec that declared something. */
export interface SourceRef {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** ResourcePlan is the planned action on one resource. */
export interface ResourcePlan {
  /** `Kind/name`, the way people refer to a spec. */
  readonly address: string;
  readonly kind: ResourceKind;
  /** The full GCP resource name, e.g. `projects/p/locations/r/services/backend`. */
  readonly name: string;
  readonly action: Action;
  readonly changes: readonly FieldChange[];
  readonly disruptions: readonly Disruption[];
  /** Facts a reviewer should see beside the changes, e.g. what `latest` resolves to. */
  readonly notes: readonly string[];
  readonly source?: SourceRef | undefined;
}

/** Problem is an error or warning found while planning, reported as data. */
export interface Problem {
  readonly severity: "error" | "warning";
  readonly message: string;
  /** `Kind/name` when the problem belongs to a resource. */
  readonly address?: string | undefined;
  readonly source?: SourceRef | undefined;
}

/** PlanSummary counts a plan's actions and disruptions. */
export interface PlanSummary {
  readonly update: number;
  readonly replace: number;
  readonly noop: number;
  readonly missing: number;
  readonly changes: number;
  readonly disruptions: Readonly<Record<DisruptionKind, number>>;
  readonly errors: number;
}

/** Plan is the result of `capstan plan`: a pure value, rendered as text, markdown or JSON. */
export interface Plan {
  readonly formatVersion: typeof PLAN_FORMAT_VERSION;
  /** When live state was read (clock time, RFC 3339). */
  readonly observedAt: string;
  readonly resources: readonly ResourcePlan[];
  readonly problems: readonly Problem[];
  readonly summary: PlanSummary;
  /** The ordered steps and the capacity invariants before and after each. */
  readonly rollout?: {
    readonly start: readonly InvariantResult[];
    readonly steps: readonly Step[];
  };
}

/** summarize counts the actions, changes, disruptions and errors of a plan. */
export function summarize(resources: readonly ResourcePlan[], problems: readonly Problem[]): PlanSummary {
  const disruptions: Record<DisruptionKind, number> = { "new-revision": 0, restart: 0, replacement: 0 };
  for (const r of resources) for (const d of r.disruptions) disruptions[d.kind] += 1;
  return {
    update: resources.filter((r) => r.action === "update").length,
    replace: resources.filter((r) => r.action === "replace").length,
    noop: resources.filter((r) => r.action === "no-op").length,
    missing: resources.filter((r) => r.action === "missing").length,
    changes: resources.reduce((n, r) => n + r.changes.length, 0),
    disruptions,
    errors: problems.filter((p) => p.severity === "error").length,
  };
}

/** hasChanges says whether applying the plan would change anything live. */
export function hasChanges(plan: Plan): boolean {
  return plan.summary.update + plan.summary.replace > 0;
}
