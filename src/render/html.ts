/**
 * Helpers shared by the HTML views (the rollout report, the dashboard): escaping, times,
 * values with secrets hidden, and one stylesheet.
 */
import { looksSecret, REDACTED } from "../controller/log.ts";
import type { FieldChange, PathSegment } from "../diff/index.ts";
import { formatValue } from "./text.ts";

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** esc escapes text for HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** isoTime prints clock time (epoch ms) as RFC 3339, to the second. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** clockTime prints clock time as `HH:MM:SS` UTC, for tables where the date is given once. */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** duration prints a span of clock ms the way people say it: `850ms`, `42s`, `3m 05s`, `2h 10m`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function segmentName(seg: PathSegment): string {
  return typeof seg === "object" ? String(seg.id) : String(seg);
}

/** Masks every literal under a secret-looking name; a Secret Manager reference shows its name and version. */
function mask(v: unknown, inRef: boolean): unknown {
  if (v === undefined || v === null || inRef) return v;
  if (Array.isArray(v)) return v.map((x) => mask(x, false));
  if (typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === "name" ? x : mask(x, k === "secret")]),
    );
  }
  return REDACTED;
}

/**
 * pageValue prints one side of a change for a page anyone on the port's network can read.
 * capstan never reads a secret's value (only Secret Manager metadata), but a live env var
 * may hold one as a literal: under a name that looks secret (DB_PASSWORD, API_TOKEN; the
 * rule the logs redact with) every literal is shown as REDACTED, while a Secret Manager
 * reference shows the secret's name and version.
 */
export function pageValue(change: Pick<FieldChange, "path" | "field">, v: unknown): string {
  const names = change.path.map(segmentName);
  const secretish = names.some((n) => n !== "secret" && looksSecret(n));
  if (!secretish) return formatValue(v, change.field);
  return formatValue(mask(v, names.includes("secret")), change.field);
}

/**
 * STYLE is the one stylesheet of the HTML views: system fonts, contrast that passes WCAG
 * AA (checked by axe-core in the browser tests), states in colour and in words.
 */
export const STYLE = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #4b5563; --line: #d0d7de; --bg: #ffffff;
  --panel: #f6f8fa; --ok: #116329; --ok-bg: #dafbe1; --bad: #a40e26; --bad-bg: #ffebe9;
  --warn: #7d4e00; --warn-bg: #fff8c5; --run: #0550ae; --run-bg: #ddf4ff; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header.top { padding: 12px 24px; border-bottom: 1px solid var(--line); background: var(--panel); }
header.top h1 { margin: 0; font-size: 20px; }
header.top p { margin: 4px 0 0; color: var(--muted); }
main { padding: 8px 24px 32px; max-width: 1400px; }
section { margin-top: 24px; }
h2 { font-size: 17px; margin: 0 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12.5px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.ok { color: var(--ok); background: var(--ok-bg); }
.bad { color: var(--bad); background: var(--bad-bg); }
.warn { color: var(--warn); background: var(--warn-bg); }
.run { color: var(--run); background: var(--run-bg); }
.pending { color: var(--muted); background: var(--panel); }
.bar { position: relative; height: 14px; background: var(--panel); border: 1px solid var(--line);
  border-radius: 3px; min-width: 160px; }
.bar > span { position: absolute; inset: 0 auto 0 0; border-radius: 2px; }
.bar > span.ok { background: #2da44e; }
.bar > span.bad { background: #cf222e; }
.bar > i { position: absolute; top: -3px; bottom: -3px; width: 2px; background: var(--fg); }
ol.steps { list-style: none; padding: 0; margin: 0; }
ol.steps > li { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 6px 0; }
ol.steps > li.running { border-color: var(--run); box-shadow: 0 0 0 1px var(--run) inset; }
figure { margin: 8px 0 16px; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 8px 24px; }
svg.chart { width: 100%; height: auto; max-width: 720px; background: #fff; }
svg.chart text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #374151; }
a { color: #0550ae; }
`;
