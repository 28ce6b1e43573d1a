/**
 * Status of `capstan run`, per resource, in the shape Kubernetes tools read: kstatus
 * conditions (sigs.k8s.io/cli-utils/pkg/kstatus): `Ready` says whether the live resource
 * has what its spec says, `Reconciling` that capstan is working towards it, `Stalled`
 * that it is stuck on an error and needs a person (or a retry after backoff).
 */

import type { LeaseStatus } from "../lease/index.ts";

/** ConditionType is one of the kstatus conditions capstan reports. */
export type ConditionType = "Ready" | "Reconciling" | "Stalled";

/**
 * Reason says why a resource's conditions are what they are:
 * - `UpToDate`: live matches the spec;
 * - `Progressing`: capstan is writing it or waiting for its operation;
 * - `DriftCorrected`: someone changed it live and capstan put the spec back;
 * - `DriftReported`: someone changed it live and its spec says `capstan.dev/on-drift: report`;
 * - `GateFailed`: a metric gate failed after its step, which was rolled back;
 * - `RolledBack`: its step failed and was rolled back;
 * - `ApplyFailed`: a write or its operation failed;
 * - `QuotaWait`: it waits for API quota or for the controller's overall rate;
 * - `OperationInProgress`: an operation on it outlived capstan's wait; capstan writes it
 *   no further while it runs, and re-reads it on a later pass;
 * - `DependencyNotReady`: another resource it depends on through a capacity policy must change first;
 * - `MaintenanceWindow`: a disruptive change waits for the maintenance window its spec names;
 * - `Suspended`: its spec says `capstan.dev/suspend: "true"`;
 * - `Refused`: the change is one capstan will not make as specified (consent missing, replacement);
 * - `NotFound`: the resource does not exist (capstan never creates);
 * - `Pending`: it has changes, and this instance is a standby that does not write.
 */
export type Reason =
  | "UpToDate"
  | "Progressing"
  | "DriftCorrected"
  | "DriftReported"
  | "GateFailed"
  | "RolledBack"
  | "ApplyFailed"
  | "QuotaWait"
  | "OperationInProgress"
  | "DependencyNotReady"
  | "MaintenanceWindow"
  | "Suspended"
  | "Refused"
  | "NotFound"
  | "Pending";

/** Condition is one kstatus condition, as in a Kubernetes object's status.conditions. */
export interface Condition {
  readonly type: ConditionType;
  readonly status: "True" | "False";
  readonly reason: Reason;
  readonly message: string;
  /** Clock time (RFC 3339) when `status` last changed. */
  readonly lastTransitionTime: string;
}

/** AppliedRevision is what capstan last brought a resource to: its spec's hash and the commit it came from. */
export interface AppliedRevision {
  readonly specHash: string;
  /** The git commit of the specs; undefined when they come from a directory. */
  readonly commit: string | undefined;
  /** Clock time (RFC 3339). */
  readonly at: string;
}

/** ResourceStatus is everything `capstan run` knows about one managed resource. */
export interface ResourceStatus {
  /** The spec's identity, `Kind:full GCP name`: unique where `address` may not be (same name in two projects). */
  readonly id: string;
  /** `Kind/name`. */
  readonly address: string;
  readonly kind: string;
  readonly name: string;
  /** The full GCP resource name. */
  readonly gcpName: string;
  /** The hash of the spec as loaded in the latest pass. */
  readonly specHash: string;
  /** The spec's `capstan.dev/on-drift` annotation. */
  readonly onDrift: "correct" | "report";
  readonly suspended: boolean;
  readonly conditions: readonly Condition[];
  /** The spec revision last fully applied (or found already in place). */
  readonly lastApplied: AppliedRevision | undefined;
  /** Fields that differ between live and spec, as of the latest pass. */
  readonly pendingChanges: readonly string[];
  readonly lastError: { readonly message: string; readonly at: string } | undefined;
  /** Consecutive failed reconciles. */
  readonly failures: number;
  /** When the next attempt may start (RFC 3339), while backing off or waiting. */
  readonly nextAttemptAt: string | undefined;
  /** How many times drift was found on this resource since the process started. */
  readonly driftCount: number;
  /** The id of the latest reconcile, to find its log lines. */
  readonly reconcileId: string | undefined;
}

/** PassSummary describes one pass of the loop. */
export interface PassSummary {
  readonly id: number;
  readonly startedAt: string;
  readonly finishedAt: string | undefined;
  /** `converged`: nothing left to do; `partial`: some resources wait or failed; others as named. */
  readonly outcome: "converged" | "partial" | "planned" | "invalid-specs" | "failed" | "interrupted";
  readonly message: string;
  /** API calls this pass made, by method. */
  readonly calls: number;
}

/** ControllerStatus is the document `/status` serves and `capstan status` prints. */
export interface ControllerStatus {
  readonly kind: "capstan.dev/run-status/v1";
  /** Clock time of this document (RFC 3339), so readers can show ages. */
  readonly now: string;
  readonly instance: {
    readonly identity: string;
    /** `leader` applies; `standby` only plans (another process holds the lease). */
    readonly role: "leader" | "standby";
    /** The lease: its URL, who holds it under which term, and why this instance lost it if it did. */
    readonly lease: LeaseStatus;
    /** With `--shard I/N`: this instance's shard. */
    readonly shard?: { readonly index: number; readonly count: number } | undefined;
  };
  readonly source: {
    readonly type: "dir" | "git";
    readonly location: string;
    readonly ref: string | undefined;
    readonly commit: string | undefined;
    /** Hash of every spec file's content. */
    readonly revision: string | undefined;
    readonly problems: readonly string[];
  };
  readonly ready: boolean;
  readonly lastPass: PassSummary | undefined;
  readonly passes: number;
  readonly resources: readonly ResourceStatus[];
}

/** ConditionsInput are the three condition values a state change sets at once. */
export interface ConditionsInput {
  readonly ready: boolean;
  readonly reconciling: boolean;
  readonly stalled: boolean;
  readonly reason: Reason;
  readonly message: string;
}

/**
 * setConditions returns the three kstatus conditions for a new state, keeping each
 * condition's lastTransitionTime when its status did not change.
 */
export function setConditions(
  previous: readonly Condition[],
  next: ConditionsInput,
  nowIso: string,
): Condition[] {
  const make = (type: ConditionType, on: boolean): Condition => {
    const status = on ? "True" : "False";
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      reason: next.reason,
      message: next.message,
      lastTransitionTime: before && before.status === status ? before.lastTransitionTime : nowIso,
    };
  };
  return [make("Ready", next.ready), make("Reconciling", next.reconciling), make("Stalled", next.stalled)];
}

/** conditionOf returns a resource's condition of one type. */
export function conditionOf(
  r: Pick<ResourceStatus, "conditions">,
  type: ConditionType,
): Condition | undefined {
  return r.conditions.find((c) => c.type === type);
}

function short(s: string | undefined, n = 7): string {
  return s ? s.slice(0, n) : "-";
}

function ago(nowIso: string, thenIso: string | undefined): string {
  if (!thenIso) return "-";
  const s = Math.max(0, Math.round((Date.parse(nowIso) - Date.parse(thenIso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** leaseLine says who holds the lease under which term, and why this instance lost it. */
function leaseLine(l: LeaseStatus, role: ControllerStatus["instance"]["role"]): string {
  const term = l.term === undefined ? "" : ` term ${l.term}`;
  if (role === "leader") return `lease ${l.url}${term}`;
  const lost = l.lost ? `; lost term ${l.lost.term} at ${l.lost.at}: ${l.lost.reason}` : "";
  return `lease ${l.url} held by ${l.holder ?? "nobody"}${term}${lost}`;
}

/**
 * renderStatus prints a status document as `capstan status` shows it: one header line
 * for the instance and its source, then one line per resource, like `kubectl get`.
 */
export function renderStatus(s: ControllerStatus): string {
  const lines: string[] = [];
  const src =
    s.source.type === "git"
      ? `git ${s.source.location}${s.source.ref ? ` (${s.source.ref})` : ""} at ${short(s.source.commit)}`
      : `specs ${s.source.location}`;
  lines.push(
    `capstan run ${s.instance.role} ${s.instance.identity}${s.instance.shard ? ` shard ${s.instance.shard.index}/${s.instance.shard.count}` : ""}, ${leaseLine(s.instance.lease, s.instance.role)}, ${src}`,
  );
  const last = s.lastPass;
  lines.push(
    last
      ? `pass ${last.id} ${last.outcome}, ${ago(s.now, last.finishedAt ?? last.startedAt)} ago: ${last.message}`
      : "no pass yet",
  );
  for (const p of s.source.problems) lines.push(`spec problem: ${p}`);
  lines.push("");
  const rows: string[][] = [
    ["KIND", "NAME", "READY", "STATUS", "REASON", "APPLIED", "COMMIT", "AGE", "MESSAGE"],
  ];
  for (const r of s.resources) {
    const ready = conditionOf(r, "Ready");
    const stalled = conditionOf(r, "Stalled")?.status === "True";
    const reconciling = conditionOf(r, "Reconciling")?.status === "True";
    const state =
      ready?.status === "True" ? "Current" : stalled ? "Stalled" : reconciling ? "InProgress" : "NotReady";
    const message = r.lastError && ready?.status !== "True" ? r.lastError.message : (ready?.message ?? "");
    rows.push([
      r.kind,
      r.name,
      ready?.status ?? "Unknown",
      state,
      ready?.reason ?? "-",
      short(r.lastApplied?.specHash),
      short(r.lastApplied?.commit),
      ago(s.now, ready?.lastTransitionTime),
      message.length > 100 ? `${message.slice(0, 97)}...` : message,
    ]);
  }
  lines.push(table(rows));
  return `${lines.join("\n")}\n`;
}
