/**
 * The pieces of HTML the rollout report and the dashboard share: the step list with what
 * each step waited on, the capacity invariants as bars with their arithmetic, the
 * criteria table and the gate charts. Pure functions of their inputs, no scripts.
 */
import type { GateSeries } from "../apply/gate-history.ts";
import type { RolloutRecord, StepRecord, StepState, WaitRecord } from "../apply/record.ts";
import type { InvariantResult } from "../capacity/invariants.ts";
import { PHASE_TITLES } from "../plan/steps.ts";
import { type ChartSample, svgChart } from "./chart.ts";
import { type Criterion, criterionMet, formatMetricValue, formatTarget, metricLabel } from "./criteria.ts";
import { clockTime, duration, esc, pageValue } from "./html.ts";
import { describeDisruption } from "./text.ts";

const STATE_CLASS: Readonly<Record<StepState, string>> = {
  pending: "pending",
  running: "run",
  done: "ok",
  "rolled-back": "bad",
  failed: "bad",
  interrupted: "warn",
};

/** badge prints a state as a coloured word (the word carries the meaning, the colour only helps). */
export function badge(text: string, cls: string): string {
  return `<span class="badge ${esc(cls)}">${esc(text)}</span>`;
}

const WAIT_LABEL: Readonly<Record<WaitRecord["kind"], string>> = {
  operation: "operation",
  readiness: "readiness",
  settle: "settle",
  gate: "gate",
  "maintenance-window": "maintenance window",
};

/** waitsTable lists what a step waited on, each with how long (`now` for waits still open). */
export function waitsTable(waits: readonly WaitRecord[], now: number): string {
  if (waits.length === 0) return "";
  const rows = waits.map((w) => {
    const open = w.endedAt === undefined;
    return `<tr${open ? ' class="waiting"' : ""}><td>${esc(WAIT_LABEL[w.kind])}</td><td>${esc(w.address ?? "")}</td><td>${esc(
      w.what,
    )}</td><td class="mono">${clockTime(w.startedAt)}</td><td class="num">${duration((w.endedAt ?? now) - w.startedAt)}${
      open ? " so far" : ""
    }</td></tr>`;
  });
  return `<table class="waits"><caption class="muted">waited on</caption><thead><tr><th scope="col">wait</th><th scope="col">resource</th><th scope="col">what</th><th scope="col">since (UTC)</th><th scope="col" class="num">for</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

function changesTable(r: StepRecord): string {
  const rows = r.step.changes.map(
    (c) =>
      `<tr><td><code>${esc(c.address)}</code></td><td><code>${esc(c.change.field)}</code></td><td><code>${esc(
        pageValue(c.change, c.change.before),
      )}</code> → <code>${esc(pageValue(c.change, c.change.after))}</code></td></tr>`,
  );
  return `<table class="changes"><caption class="muted">changes</caption><thead><tr><th scope="col">resource</th><th scope="col">field</th><th scope="col">old → new</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

function samplesTable(record: RolloutRecord, step: number | undefined): string {
  const samples = record.samples.filter((s) => s.step === step);
  if (samples.length === 0) return "";
  const rows = samples.map(
    (s) =>
      `<tr><td class="mono">${clockTime(s.at)}</td><td>${esc(metricLabel(s.metric))}</td><td><code>${esc(
        s.subject,
      )}</code></td><td class="num">${esc(formatMetricValue(s.metric, s.value))}</td><td class="num">${esc(
        formatMetricValue(s.metric, s.threshold),
      )}</td><td class="num">${esc(s.baseline === undefined ? "" : formatMetricValue(s.metric, s.baseline))}</td><td>${badge(
        s.ok ? "pass" : "fail",
        s.ok ? "ok" : "bad",
      )} <span class="muted">sample ${s.sample}</span></td></tr>`,
  );
  return `<table class="samples"><caption class="muted">gate samples</caption><thead><tr><th scope="col">at (UTC)</th><th scope="col">gate</th><th scope="col">on</th><th scope="col" class="num">value</th><th scope="col" class="num">threshold</th><th scope="col" class="num">before the step</th><th scope="col">result</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

/** stepTiming prints when a step started and ended, and how long it took (or has taken). */
function stepTiming(r: StepRecord, now: number): string {
  if (r.startedAt === undefined) return "";
  const end = r.endedAt ?? now;
  return `<span class="muted">${clockTime(r.startedAt)}${r.endedAt !== undefined ? ` → ${clockTime(r.endedAt)}` : ""} UTC, ${duration(
    end - r.startedAt,
  )}${r.endedAt === undefined ? " so far" : ""}</span>`;
}

/** Options of {@link stepsList}. */
export interface StepsListOptions {
  /** Clock time of the view: open waits and running steps are timed up to it. */
  readonly now: number;
  /** Show each step's changes, samples and invariants (the report), or only its waits (the dashboard). */
  readonly detail: boolean;
  /** Heading level of each step's title. */
  readonly heading?: "h3" | "h4";
}

/**
 * stepsList renders the steps of a rollout in order: each with its state (done, running,
 * pending, rolled back), its phase and cost, when it started and ended, and what it
 * waited on and for how long.
 */
export function stepsList(record: RolloutRecord, options: StepsListOptions): string {
  const h = options.heading ?? "h3";
  const items = record.steps.map((r) => {
    const s = r.step;
    const cost = s.disruption
      ? ` ${badge(`⚠ ${describeDisruption(s.disruption).split(":")[0]}`, "warn")}`
      : "";
    const parts = [
      `<${h}>Step ${s.index} of ${record.steps.length}: ${esc(PHASE_TITLES[s.phase])} ${badge(r.state, STATE_CLASS[r.state])}${cost}</${h}>`,
      `<p>${stepTiming(r, options.now)}${r.startedAt === undefined ? `<span class="muted">${s.changes.length} change(s) to ${esc([...new Set(s.changes.map((c) => c.address))].join(", "))}</span>` : ""}</p>`,
    ];
    if (options.detail) parts.push(changesTable(r));
    parts.push(waitsTable(r.waits, options.now));
    if (r.rolledBack.length) {
      parts.push(
        `<p>${badge("rolled back", "bad")} ${r.rolledBack.map((b) => `<code>${esc(b.address)}</code> ${esc(b.fields.join(", "))}`).join("; ")}</p>`,
      );
    }
    if (options.detail) {
      parts.push(samplesTable(record, s.index));
      if (r.invariants) parts.push(invariantsTable(r.invariants, "capacity observed after the step"));
    }
    return `<li class="${esc(r.state)}" data-step="${s.index}" data-state="${esc(r.state)}">${parts.join("")}</li>`;
  });
  return `<ol class="steps">${items.join("")}</ol>`;
}

/** invariantBar draws demand against its ceiling, the ceiling as a mark, with the arithmetic as its text. */
export function invariantBar(r: InvariantResult): string {
  const top = Math.max(r.lhs, r.rhs, Number.EPSILON);
  const fill = Math.max(0, Math.min(100, (r.lhs / top) * 100));
  const mark = Math.max(0, Math.min(100, (r.rhs / top) * 100));
  return `<div class="bar" aria-hidden="true" title="${esc(r.explanation)}"><span class="${r.ok ? "ok" : "bad"}" style="width:${fill.toFixed(
    1,
  )}%"></span><i style="left:calc(${mark.toFixed(1)}% - 1px)"></i></div>`;
}

/** invariantsTable lists capacity invariants, each as a bar with its arithmetic beside it. */
export function invariantsTable(results: readonly InvariantResult[], caption: string): string {
  if (results.length === 0) return `<p class="muted">${esc(caption)}: no capacity invariants apply.</p>`;
  const rows = results.map(
    (r) =>
      `<tr data-invariant="${esc(r.id)}"><td>${badge(r.ok ? "holds" : "violated", r.ok ? "ok" : "bad")}</td><td><code>${esc(
        r.id,
      )}</code></td><td><code>${esc(r.subject)}</code></td><td>${invariantBar(r)}</td><td class="mono">${esc(r.explanation)}</td></tr>`,
  );
  return `<table class="invariants"><caption class="muted">${esc(caption)}</caption><thead><tr><th scope="col">state</th><th scope="col">invariant</th><th scope="col">protects</th><th scope="col">demand vs. ceiling</th><th scope="col">arithmetic</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

/** capacityBeforeAfter pairs each invariant of live state before a rollout with its value after. */
export function capacityBeforeAfter(
  before: readonly InvariantResult[],
  after: readonly InvariantResult[] | undefined,
): string {
  const key = (r: InvariantResult) => `${r.policy}|${r.id}|${r.subject}`;
  const afterBy = new Map((after ?? []).map((r) => [key(r), r]));
  const keys = [...new Set([...before.map(key), ...afterBy.keys()])];
  if (keys.length === 0) return `<p class="muted">No capacity invariants apply.</p>`;
  const beforeBy = new Map(before.map((r) => [key(r), r]));
  const cell = (r: InvariantResult | undefined) =>
    r
      ? `<td>${badge(r.ok ? "holds" : "violated", r.ok ? "ok" : "bad")} ${invariantBar(r)}<span class="mono">${esc(r.explanation)}</span></td>`
      : `<td class="muted">not evaluated</td>`;
  const rows = keys.map((k) => {
    const [policy, id, subject] = k.split("|");
    return `<tr><td><code>${esc(id)}</code><br><code>${esc(subject)}</code><br><span class="muted">${esc(policy)}</span></td>${cell(
      beforeBy.get(k),
    )}${cell(afterBy.get(k))}</tr>`;
  });
  return `<table class="capacity"><thead><tr><th scope="col">invariant</th><th scope="col">before</th><th scope="col">after</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

/** criteriaTable lists each gate's target with its value before and after, and whether it is met. */
export function criteriaTable(criteria: readonly Criterion[]): string {
  if (criteria.length === 0) return `<p class="muted">No metric gates are defined.</p>`;
  const rows = criteria.map((c) => {
    const met = criterionMet(c);
    return `<tr><td>${esc(metricLabel(c.metric))}<br><code class="muted">${esc(c.metric)}</code></td><td><code>${esc(
      c.subject,
    )}</code></td><td class="num">${esc(formatTarget(c))}</td><td class="num">${esc(
      formatMetricValue(c.metric, c.before),
    )}</td><td class="num">${esc(formatMetricValue(c.metric, c.after))}</td><td>${badge(met ? "yes" : "no", met ? "ok" : "bad")}</td></tr>`;
  });
  return `<table class="criteria"><thead><tr><th scope="col">criterion</th><th scope="col">on</th><th scope="col" class="num">target</th><th scope="col" class="num">before</th><th scope="col" class="num">after</th><th scope="col">met</th></tr></thead><tbody>${rows.join(
    "",
  )}</tbody></table>`;
}

/** Options of {@link gateCharts}. */
export interface GateChartsOptions {
  /** Prefix of the charts' ids, unique in the page. */
  readonly idPrefix: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Rollouts whose step starts and gate samples are drawn on the charts. */
  readonly records: readonly RolloutRecord[];
}

/** gateCharts draws one SVG chart per gate series, with the records' step starts and gate samples. */
export function gateCharts(series: readonly GateSeries[], options: GateChartsOptions): string {
  if (series.length === 0) return `<p class="muted">No gate metrics to chart.</p>`;
  const boundaries = options.records.flatMap((rec) =>
    rec.steps.flatMap((r) =>
      r.startedAt === undefined ? [] : [{ at: r.startedAt, label: `step ${r.step.index}` }],
    ),
  );
  const figures = series.map((s, i) => {
    const samples: ChartSample[] = options.records.flatMap((rec) =>
      rec.samples
        .filter((x) => x.metric === s.metric && x.subject === s.subject)
        .map((x) => ({
          at: x.at,
          value: x.value,
          ok: x.ok,
          label: `${x.step === undefined ? "verification" : `step ${x.step}`}, sample ${x.sample}`,
        })),
    );
    const title = `${metricLabel(s.metric)} on ${s.subject}`;
    return `<figure class="gate-chart" data-metric="${esc(s.metric)}" data-subject="${esc(s.subject)}" data-points="${s.points.length}"><figcaption>${esc(
      title,
    )} <span class="muted">(target ${esc(formatTarget(s))})</span></figcaption>${svgChart({
      id: `${options.idPrefix}${i}`,
      title,
      metric: s.metric,
      threshold: s.threshold,
      failWhen: s.failWhen,
      points: s.points,
      samples,
      boundaries,
      startMs: options.startMs,
      endMs: options.endMs,
    })}</figure>`;
  });
  return `<div class="charts">${figures.join("")}</div>`;
}
