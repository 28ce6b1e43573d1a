import type { GateHistory } from "../apply/gate-history.ts";
import { formatMetricValue, formatTarget } from "../render/criteria.ts";
import { clockTime, duration, esc, STYLE } from "../render/html.ts";
import { badge, gateCharts, invariantsTable, stepsList } from "../render/rollout.ts";
import type { DashboardEvent, DashboardFeed } from "./feed.ts";
import type { DashboardDoc, GroupView, ResourceView, RolloutView } from "./view.ts";

/** EVENTS_SHOWN is how many recent events the page lists; `/events` serves the whole ring. */
const EVENTS_SHOWN = 100;

const DASHBOARD_CSS = `
#live { font-weight: 600; }
.live-on { color: var(--ok); }
.now { border: 1px solid var(--run); background: var(--run-bg); border-radius: 6px; padding: 8px 12px; }
.now ul { margin: 4px 0 0; padding-left: 20px; }
table.resources td { font-size: 13px; }
.scroll { overflow-x: auto; }
table.resources ul { margin: 0; padding-left: 16px; }
.gate-chart .uplot-target:empty { display: none; }
.gate-chart.live svg.chart { display: none; }
.events td.level-error { color: var(--bad); font-weight: 600; }
.events td.level-warning { color: var(--warn); font-weight: 600; }
`;

function short(s: string | null | undefined, n = 7): string {
  return s ? s.slice(0, n) : "-";
}

function at(iso: string | null | undefined): string {
  return iso ? clockTime(Date.parse(iso)) : "-";
}

function readyBadge(r: ResourceView): string {
  const ready = r.conditions.find((c) => c.type === "Ready");
  const stalled = r.conditions.find((c) => c.type === "Stalled")?.status === "True";
  const reconciling = r.conditions.find((c) => c.type === "Reconciling")?.status === "True";
  if (!ready) return badge("Unknown", "pending");
  if (ready.status === "True") return badge(`Ready: ${ready.reason}`, "ok");
  return badge(
    `${stalled ? "Stalled" : reconciling ? "Reconciling" : "Not ready"}: ${ready.reason}`,
    stalled ? "bad" : reconciling ? "run" : "warn",
  );
}

function resourceRow(r: ResourceView): string {
  const ready = r.conditions.find((c) => c.type === "Ready");
  const conditions = r.conditions
    .map(
      (c) =>
        `<li><strong>${esc(c.type)}</strong> ${esc(c.status)} <span class="muted">${esc(c.reason)}</span></li>`,
    )
    .join("");
  const pending = r.pendingChanges.length
    ? `<ul>${r.pendingChanges
        .map(
          (c) =>
            `<li><code>${esc(c.field)}</code>: <code>${esc(c.before)}</code> → <code>${esc(c.after)}</code></li>`,
        )
        .join("")}${r.disruptions.map((d) => `<li>${badge("⚠", "warn")} ${esc(d)}</li>`).join("")}</ul>`
    : `<span class="muted">none</span>`;
  const link = r.consoleUrl
    ? ` <a href="${esc(r.consoleUrl)}" rel="noreferrer" target="_blank">console<span class="muted"> (opens a new tab)</span></a>`
    : "";
  return `<tr data-address="${esc(r.address)}" data-ready="${esc(ready?.status ?? "Unknown")}" data-reason="${esc(ready?.reason ?? "")}">
<td><span class="muted">${esc(r.kind)}</span><br><strong>${esc(r.name)}</strong>${link}<br><code class="muted">${esc(r.gcpName)}</code></td>
<td>${readyBadge(r)}<ul>${conditions}</ul></td>
<td>${esc(ready?.message ?? "")}</td>
<td><code>${esc(short(r.appliedCommit))}</code><br><span class="muted">spec ${esc(short(r.specHash))}</span></td>
<td>${pending}</td>
<td class="num">${r.driftCount}</td>
<td>${r.lastError ? `${esc(r.lastError.message)} <span class="muted">(${at(r.lastError.at)})</span>` : `<span class="muted">none</span>`}</td>
<td>${r.backoffUntil ? `${at(r.backoffUntil)} UTC${r.failures ? ` <span class="muted">(${r.failures} failure(s))</span>` : ""}` : `<span class="muted">-</span>`}</td>
</tr>`;
}

function groupSection(g: GroupView, i: number): string {
  const title = g.policy ? `Capacity policy ${g.policy}` : "Resources in no capacity policy";
  const invariants = g.policy ? invariantsTable(g.invariants, "capacity of the live state") : "";
  const rows = g.resources.map(resourceRow).join("");
  return `<section class="group" aria-labelledby="group-${i}"><h3 id="group-${i}">${esc(title)}</h3>${invariants}
<div class="scroll" tabindex="0" role="region" aria-label="${esc(`${title}: managed resources`)}"><table class="resources"><caption class="muted">managed resources</caption><thead><tr><th scope="col">resource</th><th scope="col">conditions</th><th scope="col">message</th><th scope="col">applied commit</th><th scope="col">pending changes (old → new)</th><th scope="col" class="num">drift</th><th scope="col">last error</th><th scope="col">backoff until</th></tr></thead>
<tbody>${rows || `<tr><td colspan="8" class="muted">none yet</td></tr>`}</tbody></table></div></section>`;
}

function waitingNow(v: RolloutView): string {
  if (v.state !== "running") {
    return `<p>${badge(v.state, v.state === "converged" ? "ok" : "bad")} ${esc(v.message ?? "")} <span class="muted">(ended ${at(v.endedAt)} UTC)</span></p>`;
  }
  const waits = v.waiting.length
    ? `<ul>${v.waiting
        .map(
          (w) =>
            `<li data-wait="${esc(w.kind)}">${esc(w.kind)}: ${esc(w.what)}${w.address ? ` (<code>${esc(w.address)}</code>)` : ""}, for ${esc(duration(w.elapsedMs))} so far</li>`,
        )
        .join("")}</ul>`
    : `<p class="muted">working: writing or reading</p>`;
  return `<div class="now" data-rollout-step="${v.step}" data-rollout-total="${v.total}"><strong>Step ${v.step} of ${v.total}</strong> ${badge("running", "run")}: waits for${waits}</div>`;
}

function quotaSection(doc: DashboardDoc): string {
  const { resources, budgets } = doc.quota;
  if (resources.length === 0 && budgets.length === 0) return "";
  const items = [
    ...resources.map(
      (r) =>
        `<li data-wait="quota"><code>${esc(r.address)}</code> waits for quota, for ${esc(duration(r.elapsedMs))}: ${esc(r.message)}</li>`,
    ),
    ...budgets.map(
      (b) =>
        `<li data-wait="quota">API budget <code>${esc(b.key)}</code>: ${b.current} of ${b.limit} calls a minute after ${b.throttled} answer(s) of 429; calls have waited ${esc(duration(b.waitedMs))} in all</li>`,
    ),
  ];
  return `<div class="now"><strong>Quota</strong> ${badge("waiting", "warn")}<ul>${items.join("")}</ul></div>`;
}

function rolloutSection(doc: DashboardDoc, feed: DashboardFeed, now: number): string {
  const running = doc.rollouts.filter((r) => r.state === "running");
  const shown = running.length ? running : doc.rollouts.slice(0, 1);
  if (shown.length === 0) return `<p class="muted">No rollout yet: no pass so far had changes to apply.</p>`;
  const records = new Map(feed.rollouts.map((e) => [e.execution, e.recorder.record]));
  const parts = shown.map((v) => {
    const record = records.get(v.execution)!;
    return `<article class="rollout" data-execution="${v.execution}" data-state="${esc(v.state)}" data-steps="${v.total}" aria-labelledby="rollout-${v.execution}">
<h3 id="rollout-${v.execution}">Rollout ${v.execution} (pass ${v.pass}), started ${at(v.startedAt)} UTC</h3>
${waitingNow(v)}
${stepsList(record, { now, detail: false, heading: "h4" })}</article>`;
  });
  const earlier = doc.rollouts.filter((r) => !shown.includes(r));
  if (earlier.length) {
    parts.push(
      `<h3>Earlier rollouts</h3><ul>${earlier
        .map(
          (r) =>
            `<li data-execution="${r.execution}" data-state="${esc(r.state)}" data-steps="${r.total}">${esc(
              `rollout ${r.execution} (pass ${r.pass}), ${r.total} step(s), ${r.state}: ${r.message ?? ""}`,
            )} <span class="muted">(ended ${at(r.endedAt)} UTC)</span></li>`,
        )
        .join("")}</ul>`,
    );
  }
  return parts.join("");
}

function gatesSection(
  doc: DashboardDoc,
  feed: DashboardFeed,
  history: GateHistory | undefined,
  now: number,
): string {
  const series = history?.series ?? [];
  const records = feed.rollouts.map((e) => e.recorder.record);
  const charts = gateCharts(series, {
    idPrefix: "gate-",
    startMs: now - 3 * 3_600_000,
    endMs: now,
    records,
  });
  const latest = doc.gates.series.map((s) => {
    const last = s.points.at(-1);
    const sample = s.samples.at(-1);
    return `<tr><td>${esc(s.label)}</td><td><code>${esc(s.subject)}</code></td><td class="num">${esc(
      formatMetricValue(s.metric, last?.[1]),
    )}</td><td class="num">${esc(formatTarget(s))}</td><td>${
      sample
        ? `${badge(sample.ok ? "pass" : "fail", sample.ok ? "ok" : "bad")} ${esc(formatMetricValue(s.metric, sample.value ?? undefined))}`
        : `<span class="muted">none yet</span>`
    }</td></tr>`;
  });
  // `<` escaped so the data can never close its script element.
  const data = JSON.stringify(doc.gates.series).replace(/</g, "\\u003c");
  return `${doc.gates.error ? `<p>${badge("stale", "warn")} ${esc(doc.gates.error)}</p>` : ""}
<p class="muted">The last 3 hours from Cloud Monitoring, read as the gates read them (worst value per minute), ${esc(
    doc.gates.readAt ? `read ${at(doc.gates.readAt)} UTC` : "not read yet",
  )}; dashed line: threshold; dotted lines: step starts; dots: the gates' samples.</p>
${charts}
<table class="latest"><caption class="muted">latest values</caption><thead><tr><th scope="col">gate</th><th scope="col">on</th><th scope="col" class="num">latest minute</th><th scope="col" class="num">target</th><th scope="col">last gate sample</th></tr></thead><tbody>${
    latest.join("") || `<tr><td colspan="5" class="muted">no gates defined</td></tr>`
  }</tbody></table>
<script type="application/json" id="gate-data">${data}</script>`;
}

function eventsSection(events: readonly DashboardEvent[]): string {
  const rows = [...events]
    .reverse()
    .slice(0, EVENTS_SHOWN)
    .map(
      (e) =>
        `<tr data-seq="${e.seq}" data-type="${esc(e.type)}"><td class="mono">${clockTime(Date.parse(e.at))}</td><td class="level-${esc(e.level)}">${esc(
          e.level,
        )}</td><td>${esc(e.type)}</td><td>${e.address ? `<code>${esc(e.address)}</code>` : ""}</td><td>${esc(e.message)}</td></tr>`,
    );
  return `<table class="events"><thead><tr><th scope="col">at (UTC)</th><th scope="col">level</th><th scope="col">event</th><th scope="col">resource</th><th scope="col">what happened</th></tr></thead><tbody>${
    rows.join("") || `<tr><td colspan="5" class="muted">nothing yet</td></tr>`
  }</tbody></table><p class="muted">The newest ${EVENTS_SHOWN} of the last ${events.length} kept; all as JSON at <a href="/events">/events</a>.</p>`;
}

/**
 * renderDashboard renders the dashboard page. Every panel is complete HTML, so the page
 * is useful with JavaScript off (it then reloads itself every 30 s); with JavaScript,
 * /assets/dashboard.js follows `/events/stream` and swaps each `data-panel` for the
 * fresh page's, and draws the gate charts with uPlot. Nothing on it writes, and no value
 * that looks secret is shown (see pageValue).
 */
export function renderDashboard(
  doc: DashboardDoc,
  feed: DashboardFeed,
  history: GateHistory | undefined,
  now: number,
): string {
  const src =
    doc.source.type === "git"
      ? `git ${doc.source.location}${doc.source.ref ? ` (${doc.source.ref})` : ""} at ${short(doc.source.commit)}`
      : `specs ${doc.source.location}`;
  const last = doc.lastPass;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>capstan run: dashboard</title>
<link rel="icon" href="data:,">
<noscript><meta http-equiv="refresh" content="30"></noscript>
<link rel="stylesheet" href="/assets/uplot.css">
<style>${STYLE}${DASHBOARD_CSS}</style>
<script src="/assets/uplot.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head>
<body data-latest-seq="${doc.events.latest}">
<header class="top">
<h1>capstan run</h1>
<div data-panel="summary">
<p>${badge(doc.instance.role, doc.instance.role === "leader" ? "ok" : "warn")} <code>${esc(doc.instance.identity)}</code>${
    doc.instance.role === "standby" && doc.instance.lease.holder
      ? ` (leader: <code>${esc(doc.instance.lease.holder)}</code>)`
      : ""
  }, ${esc(src)}. ${doc.ready ? badge("ready", "ok") : badge("not ready", "warn")}</p>
<p>${last ? `Pass ${last.id} ${esc(last.outcome)} at ${at(last.finishedAt ?? last.startedAt)} UTC: ${esc(last.message)}` : "No pass yet."}${
    doc.source.problems.length
      ? ` ${badge(`${doc.source.problems.length} spec problem(s)`, "bad")} ${esc(doc.source.problems.slice(0, 3).join("; "))}`
      : ""
  }</p>
</div>
<p id="live" role="status">Read-only. Without JavaScript this page reloads every 30 seconds.</p>
</header>
<main>
<section id="rollout" data-panel="rollout" aria-labelledby="rollout-h"><h2 id="rollout-h">Rollout</h2>
${quotaSection(doc)}${rolloutSection(doc, feed, now)}
</section>
<section id="resources" data-panel="resources" aria-labelledby="resources-h"><h2 id="resources-h">Resources by capacity policy</h2>
${doc.groups.map(groupSection).join("")}
</section>
<section id="gates" data-panel="gates" aria-labelledby="gates-h"><h2 id="gates-h">Gate metrics</h2>
${gatesSection(doc, feed, history, now)}
</section>
<section id="events" data-panel="events" aria-labelledby="events-h"><h2 id="events-h">Recent events</h2>
${eventsSection(feed.events())}
</section>
</main>
</body>
</html>
`;
}
