import type { GateSeries } from "../apply/gate-history.ts";
import type { RolloutRecord } from "../apply/record.ts";
import type { Plan } from "../plan/model.ts";
import type { Criterion } from "./criteria.ts";
import { duration, esc, isoTime, pageValue, STYLE } from "./html.ts";
import { badge, capacityBeforeAfter, criteriaTable, gateCharts, stepsList, waitsTable } from "./rollout.ts";
import { describeDisruption, summaryLine } from "./text.ts";

/** RolloutReportInput is everything a rollout report shows. */
export interface RolloutReportInput {
  /** What ran, e.g. `capstan apply specs/staging`. */
  readonly title: string;
  readonly plan: Plan;
  readonly record: RolloutRecord;
  /** The gate metrics over the rollout, as the gates read them (see readGateHistory). */
  readonly history: readonly GateSeries[];
  /** Why the history is missing or partial, if it is. */
  readonly historyError?: string | undefined;
  /** Each gate's value before and after the rollout. */
  readonly criteria: readonly Criterion[];
  /** Clock time the report was written (epoch ms). */
  readonly generatedAt: number;
  /** The chart's time axis; defaults to the rollout's span. */
  readonly chartStartMs?: number;
  readonly chartEndMs?: number;
}

const OUTCOME_CLASS: Readonly<Record<NonNullable<RolloutRecord["outcome"]>, string>> = {
  converged: "ok",
  "nothing-to-do": "ok",
  refused: "bad",
  "rolled-back": "bad",
  failed: "bad",
  interrupted: "warn",
  unverified: "warn",
};

function planSection(plan: Plan): string {
  const out = [
    `<p><strong>${esc(summaryLine(plan))}</strong> <span class="muted">Live state read at ${esc(plan.observedAt)}.</span></p>`,
  ];
  for (const r of plan.resources) {
    if (r.action === "no-op") continue;
    out.push(
      `<h3><code>${esc(r.address)}</code> ${badge(r.action, r.action === "update" ? "run" : "bad")}</h3>`,
    );
    out.push(`<p class="muted mono">${esc(r.name)}</p>`);
    if (r.changes.length) {
      out.push(
        `<table><thead><tr><th scope="col">field</th><th scope="col">live</th><th scope="col">desired</th></tr></thead><tbody>${r.changes
          .map(
            (c) =>
              `<tr><td><code>${esc(c.field)}</code></td><td><code>${esc(pageValue(c, c.before))}</code></td><td><code>${esc(pageValue(c, c.after))}</code></td></tr>`,
          )
          .join("")}</tbody></table>`,
      );
    }
    const notes = [...r.disruptions.map((d) => `⚠ ${describeDisruption(d)}`), ...r.notes];
    if (notes.length) out.push(`<ul>${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`);
  }
  if (plan.problems.length) {
    out.push(
      `<h3>Problems</h3><ul>${plan.problems
        .map(
          (p) =>
            `<li>${badge(p.severity, p.severity === "error" ? "bad" : "warn")} ${p.source ? `<code>${esc(`${p.source.file}:${p.source.line}:${p.source.col}`)}</code> ` : ""}${p.address ? `<code>${esc(p.address)}</code> ` : ""}${esc(p.message)}</li>`,
        )
        .join("")}</ul>`,
    );
  }
  return out.join("");
}

/**
 * renderRolloutReport writes the rollout report: one self-contained HTML file (no
 * scripts, no external resources; charts are inline SVG) to attach to a change ticket or
 * an incident review. It shows the outcome, the success criteria before and after, the
 * gate metrics as charts with their thresholds and step boundaries, the capacity
 * arithmetic before and after, each step with its start, end and what it waited on, and
 * the plan.
 * Secret values never appear: see pageValue.
 */
export function renderRolloutReport(input: RolloutReportInput): string {
  const { record, plan } = input;
  const end = record.endedAt ?? input.generatedAt;
  const outcome = record.outcome ?? "interrupted";
  const observedAfter = record.steps.findLast((s) => s.invariants)?.invariants;
  const plannedAfter = record.steps.at(-1)?.step.invariants;
  const startMs = input.chartStartMs ?? record.startedAt;
  const endMs = input.chartEndMs ?? end;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(`Rollout report: ${input.title}`)}</title>
<style>${STYLE}</style>
</head>
<body>
<header class="top">
<h1>Rollout report: ${esc(input.title)}</h1>
<p>${badge(outcome, OUTCOME_CLASS[outcome])} ${esc(record.message ?? "")}</p>
<p>Started ${esc(isoTime(record.startedAt))}, ended ${esc(isoTime(end))} (${esc(duration(end - record.startedAt))}). Times are capstan's clock, in UTC. Written ${esc(isoTime(input.generatedAt))}.</p>
</header>
<main>
<section id="criteria" aria-labelledby="criteria-h"><h2 id="criteria-h">Success criteria, before and after</h2>
${criteriaTable(input.criteria)}
</section>
<section id="gates" aria-labelledby="gates-h"><h2 id="gates-h">Gate metrics</h2>
<p class="muted">As the gates read them from Cloud Monitoring (worst value per minute), with each gate's threshold, the start of each step and the gates' own samples (green passed, red failed).</p>
${input.historyError ? `<p>${badge("incomplete", "warn")} ${esc(input.historyError)}</p>` : ""}
${gateCharts(input.history, { idPrefix: "chart-", startMs, endMs, records: [record] })}
</section>
<section id="capacity" aria-labelledby="capacity-h"><h2 id="capacity-h">Capacity, before and after</h2>
${capacityBeforeAfter(record.start, observedAfter ?? plannedAfter)}
${observedAfter ? "" : `<p class="muted">"After" is the planned end state: no step reached its observed check.</p>`}
</section>
<section id="steps" aria-labelledby="steps-h"><h2 id="steps-h">Steps</h2>
${record.before.length ? `<p>Before step 1, resources still settling from an earlier operation:</p>${waitsTable(record.before, end)}` : ""}
${stepsList(record, { now: end, detail: true })}
</section>
<section id="plan" aria-labelledby="plan-h"><h2 id="plan-h">The plan</h2>
${planSection(plan)}
</section>
</main>
</body>
</html>
`;
}
