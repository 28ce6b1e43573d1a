import type { InvariantResult } from "../capacity/invariants.ts";
import type { FieldChange } from "../diff/index.ts";
import type { Disruption, Plan, ResourcePlan } from "../plan/model.ts";
import { PHASE_TITLES } from "../plan/steps.ts";
import { formatMemory } from "../spec/units.ts";

/** TextOptions control the human rendering. */
export interface TextOptions {
  /**
   * Use ANSI colours. The CLI turns them on only for a terminal without `NO_COLOR`
   * (https://no-color.org).
   * @default false
   */
  readonly color?: boolean;
}

const ANSI = {
  reset: "\x1b[0m",
  bold: "\x1b[1m",
  red: "\x1b[31m",
  green: "\x1b[32m",
  yellow: "\x1b[33m",
  dim: "\x1b[2m",
};

type Paint = (style: keyof typeof ANSI, s: string) => string;

/** useColor decides whether output to a stream gets colour: a TTY and no NO_COLOR. */
export function useColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !("NO_COLOR" in env && env["NO_COLOR"] !== "");
}

const MEMORY_FIELD = /(^|\.)memory$/;
const SECONDS_FIELD = /(^|\.)(timeout|period|initialDelay|interval|baseEjectionTime|settleTime)$/;

/**
 * formatValue prints a planned value the way a reviewer reads it. Specs normalise units
 * (bytes, seconds); with the field's name they are printed back in the units people
 * write (`1Gi`, `60s`).
 */
export function formatValue(v: unknown, field?: string): string {
  if (v === undefined || v === null) return "(unset)";
  if (typeof v === "number" && field) {
    if (MEMORY_FIELD.test(field)) return formatMemory(v);
    if (SECONDS_FIELD.test(field)) return `${v}s`;
  }
  return JSON.stringify(v);
}

const SYMBOL: Record<ResourcePlan["action"], string> = {
  update: "~",
  replace: "-/+",
  "no-op": " ",
  missing: "!",
};
const HEADLINE: Record<ResourcePlan["action"], string> = {
  update: "will be updated in place",
  replace: "must be REPLACED",
  "no-op": "is up to date",
  missing: "does not exist: capstan manages existing resources only",
};

/** describeDisruption prints a disruption's cost in one line. */
export function describeDisruption(d: Disruption): string {
  const label = {
    "new-revision": "new Cloud Run revision",
    restart: "SQL restart",
    replacement: "connector replacement",
  }[d.kind];
  const downtime = d.expectedDowntimeSeconds ? ` (expected downtime ~${d.expectedDowntimeSeconds}s)` : "";
  return `${label}${downtime}: ${d.reason}`;
}

function changeLine(c: FieldChange, width: number, paint: Paint): string {
  const sym =
    c.before === undefined
      ? paint("green", "+")
      : c.after === undefined
        ? paint("red", "-")
        : paint("yellow", "~");
  return `      ${sym} ${`${c.field}:`.padEnd(width + 1)} ${formatValue(c.before, c.field)} → ${formatValue(c.after, c.field)}`;
}

/**
 * renderText prints a plan the way `terraform plan` does: a block per resource that
 * changes, with its full name, each changed field `old → new`, what the change costs,
 * then a summary line.
 */
export function renderText(plan: Plan, options: TextOptions = {}): string {
  const paint: Paint = options.color ? (style, s) => `${ANSI[style]}${s}${ANSI.reset}` : (_, s) => s;
  const lines: string[] = [];
  const shown = plan.resources.filter((r) => r.action !== "no-op" || r.notes.length > 0);
  if (shown.length > 0) {
    lines.push("capstan will perform the following actions:", "");
  }
  for (const r of shown) {
    const colour = r.action === "update" || r.action === "no-op" ? "yellow" : "red";
    lines.push(paint("bold", `  # ${r.address} ${HEADLINE[r.action]}`));
    lines.push(paint("dim", `    ${r.name}`));
    const width = Math.max(0, ...r.changes.map((c) => c.field.length));
    if (r.changes.length > 0) {
      lines.push(`  ${paint(colour, SYMBOL[r.action])} ${r.kind} {`);
      for (const c of r.changes) lines.push(changeLine(c, width, paint));
      lines.push("    }");
    }
    for (const d of r.disruptions) lines.push(`    ${paint("red", "!")} ${describeDisruption(d)}`);
    for (const n of r.notes) lines.push(paint("dim", `    note: ${n}`));
    lines.push("");
  }
  lines.push(...rolloutLines(plan, paint));
  for (const p of plan.problems) {
    const where = p.source ? `${p.source.file}:${p.source.line}:${p.source.col}  ` : "";
    const who = p.address ? `${p.address}  ` : "";
    lines.push(
      `${paint(p.severity === "error" ? "red" : "yellow", `${p.severity}:`)} ${where}${who}${p.message}`,
    );
  }
  if (plan.problems.length > 0) lines.push("");
  lines.push(summaryLine(plan));
  return `${lines.join("\n")}\n`;
}

function invariantLine(r: InvariantResult, paint: Paint): string {
  return `${r.ok ? paint("green", "✓") : paint("red", "✗")} ${r.id} ${r.subject}: ${r.explanation}`;
}

/**
 * rolloutLines prints the ordered steps, each with its writes and the capacity
 * invariants on the state after it.
 */
function rolloutLines(plan: Plan, paint: Paint): string[] {
  const r = plan.rollout;
  if (!r || r.steps.length === 0) return [];
  const lines = ["Rollout, in order (capacity invariants checked after every step):", ""];
  if (r.start.length) {
    lines.push("  live state now:");
    for (const i of r.start) lines.push(`      ${invariantLine(i, paint)}`);
  }
  for (const s of r.steps) {
    const cost = s.disruption ? paint("red", `  [${describeDisruption(s.disruption)}]`) : "";
    lines.push(`  step ${s.index}: ${PHASE_TITLES[s.phase]}${cost}`);
    for (const c of s.changes) {
      lines.push(
        `      ${c.address}  ${c.change.field}: ${formatValue(c.change.before, c.change.field)} → ${formatValue(c.change.after, c.change.field)}`,
      );
    }
    for (const i of s.invariants) lines.push(`      then ${invariantLine(i, paint)}`);
  }
  lines.push("");
  return lines;
}

/** summaryLine is the closing line of a plan, e.g. `Plan: 2 to update, 0 to replace, 3 unchanged.` */
export function summaryLine(plan: Plan): string {
  const s = plan.summary;
  if (s.update + s.replace === 0 && s.missing === 0 && s.errors === 0) {
    return `No changes. Live state matches the specs (${s.noop} resource${s.noop === 1 ? "" : "s"}).`;
  }
  const parts = [`${s.update} to update`, `${s.replace} to replace`, `${s.noop} unchanged`];
  if (s.missing) parts.push(`${s.missing} missing`);
  const costs: string[] = [];
  if (s.disruptions["new-revision"]) costs.push(`${s.disruptions["new-revision"]} new revision(s)`);
  if (s.disruptions.restart) costs.push(`${s.disruptions.restart} SQL restart(s)`);
  if (s.disruptions.replacement) costs.push(`${s.disruptions.replacement} replacement(s)`);
  const err = s.errors ? ` ${s.errors} error(s).` : "";
  return `Plan: ${parts.join(", ")}.${costs.length ? ` Costs: ${costs.join(", ")}.` : ""}${err}`;
}
