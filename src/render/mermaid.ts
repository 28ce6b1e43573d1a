import type { Plan } from "../plan/model.ts";
import { PHASE_TITLES, type Phase, type Step } from "../plan/steps.ts";
import { describeDisruption } from "./text.ts";

/** MAX_FIELDS is how many field names a step's box lists per resource before "+N more". */
const MAX_FIELDS = 3;

/**
 * label escapes text for a quoted Mermaid label. Mermaid reads `#name;` and `#code;` as
 * entities inside labels (https://mermaid.js.org/syntax/flowchart.html#entity-codes-to-escape-characters),
 * so quotes, angle brackets and `#` are written as entity codes; `<br/>` is the only markup
 * this module puts in.
 */
function label(s: string): string {
  return s.replace(/#/g, "#35;").replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
}

function stepLines(step: Step): string[] {
  const byAddress = new Map<string, string[]>();
  for (const c of step.changes) {
    const fields = byAddress.get(c.address) ?? [];
    fields.push(c.change.field);
    byAddress.set(c.address, fields);
  }
  const lines = [...byAddress].map(([address, fields]) => {
    const shown = fields.slice(0, MAX_FIELDS).join(", ");
    const more = fields.length > MAX_FIELDS ? ` +${fields.length - MAX_FIELDS} more` : "";
    return `${address}: ${shown}${more}`;
  });
  if (step.disruption) {
    // The kind and downtime, not the whole reason: the tables above carry the details.
    const [cost] = describeDisruption(step.disruption).split(":");
    lines.unshift(`⚠️ ${cost}`);
  }
  return lines;
}

/**
 * renderMermaid draws a plan's rollout as a Mermaid flowchart (GitHub renders ```mermaid
 * blocks in comments): one box per step in order, grouped by phase (capacity providers
 * raised before their consumers, lowered after them), disruptive steps marked with ⚠️ and
 * drawn in the `disruptive` class. Empty when the plan has no steps.
 */
export function renderMermaid(plan: Plan): string {
  const steps = plan.rollout?.steps ?? [];
  if (steps.length === 0) return "";
  const out = ["```mermaid", "flowchart TD", '  live(["live state"])'];
  // Consecutive steps of one phase share a subgraph; a phase may come back later.
  const runs: { phase: Phase; steps: Step[] }[] = [];
  for (const s of steps) {
    const last = runs.at(-1);
    if (last && last.phase === s.phase) last.steps.push(s);
    else runs.push({ phase: s.phase, steps: [s] });
  }
  runs.forEach((run, i) => {
    out.push(`  subgraph phase${i + 1}["${label(PHASE_TITLES[run.phase])}"]`);
    for (const s of run.steps) {
      const text = [`step ${s.index}`, ...stepLines(s)].map(label).join("<br/>");
      out.push(`    step${s.index}["${text}"]`);
    }
    out.push("  end");
  });
  out.push(`  live --> ${steps.map((s) => `step${s.index}`).join(" --> ")}`);
  const disruptive = steps.filter((s) => s.disruption).map((s) => `step${s.index}`);
  if (disruptive.length) {
    out.push("  classDef disruptive fill:#fff4e5,stroke:#b54708,stroke-width:3px");
    out.push(`  class ${disruptive.join(",")} disruptive`);
  }
  out.push("```");
  return `${out.join("\n")}\n`;
}
