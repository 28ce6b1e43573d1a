import type { Plan } from "../plan/model.ts";
import { PHASE_TITLES } from "../plan/steps.ts";
import { renderMermaid } from "./mermaid.ts";
import { describeDisruption, formatValue, summaryLine } from "./text.ts";

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/**
 * renderMarkdown prints a plan as a pull request comment: the summary first, then a
 * table of changes per resource, the rollout's steps as a table and as a Mermaid
 * flowchart, then problems. Unchanged resources are counted, not listed.
 */
export function renderMarkdown(plan: Plan): string {
  const out: string[] = ["### capstan plan", "", `**${summaryLine(plan)}**`, ""];
  for (const r of plan.resources) {
    if (r.action === "no-op") continue;
    const tag = { update: "update", replace: "⚠️ replace", missing: "❗ missing", "no-op": "" }[r.action];
    out.push(`#### \`${r.address}\` (${tag})`, "", `\`${r.name}\``, "");
    if (r.changes.length) {
      out.push("| field | live | desired |", "|---|---|---|");
      for (const c of r.changes) {
        out.push(
          `| \`${cell(c.field)}\` | \`${cell(formatValue(c.before, c.field))}\` | \`${cell(formatValue(c.after, c.field))}\` |`,
        );
      }
      out.push("");
    }
    for (const d of r.disruptions) out.push(`- ⚠️ ${describeDisruption(d)}`);
    for (const n of r.notes) out.push(`- ${n}`);
    if (r.disruptions.length || r.notes.length) out.push("");
  }
  if (plan.rollout?.steps.length) {
    out.push("#### Rollout", "", "| step | phase | changes | invariants after |", "|---|---|---|---|");
    for (const s of plan.rollout.steps) {
      const changes = s.changes
        .map(
          (c) =>
            `\`${c.address}\` ${cell(c.change.field)}: ${cell(formatValue(c.change.before, c.change.field))} → ${cell(formatValue(c.change.after, c.change.field))}`,
        )
        .join("<br>");
      const inv = s.invariants.map((i) => `${i.ok ? "✅" : "❌"} ${cell(i.explanation)}`).join("<br>");
      out.push(`| ${s.index}${s.disruption ? " ⚠️" : ""} | ${PHASE_TITLES[s.phase]} | ${changes} | ${inv} |`);
    }
    out.push("", renderMermaid(plan));
  }
  if (plan.problems.length) {
    out.push("#### Problems", "");
    for (const p of plan.problems) {
      const where = p.source ? `\`${p.source.file}:${p.source.line}:${p.source.col}\` ` : "";
      out.push(`- **${p.severity}** ${where}${p.address ? `\`${p.address}\` ` : ""}${p.message}`);
    }
    out.push("");
  }
  return `${out.join("\n")}\n`;
}
