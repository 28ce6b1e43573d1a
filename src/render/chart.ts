import { formatMetricValue, formatTarget } from "./criteria.ts";
import { clockTime, esc } from "./html.ts";

/** ChartSample is a gate reading drawn as a dot on the line. */
export interface ChartSample {
  readonly at: number;
  readonly value: number | undefined;
  readonly ok: boolean;
  /** For the dot's tooltip, e.g. `step 2, sample 1`. */
  readonly label: string;
}

/** ChartInput is one gate metric on one resource, over time. */
export interface ChartInput {
  /** Unique in the page: the SVG's title and description are referenced by it. */
  readonly id: string;
  readonly title: string;
  readonly metric: string;
  readonly threshold: number;
  readonly failWhen: "above" | "below";
  /** `[epoch ms, value]`, oldest first. */
  readonly points: readonly (readonly [number, number])[];
  readonly samples?: readonly ChartSample[];
  /** Vertical lines, e.g. where each step started. */
  readonly boundaries?: readonly { readonly at: number; readonly label: string }[];
  /** The time axis; defaults to the data's extent. */
  readonly startMs?: number;
  readonly endMs?: number;
}

/** Spacing of time ticks people read easily, in minutes. */
const TIME_STEPS_MIN = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440];

const W = 640;
const H = 220;
const M = { left: 64, right: 16, top: 24, bottom: 28 };

function niceStep(span: number, count: number): number {
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/**
 * svgChart draws one gate metric as an inline SVG line chart: the series, the threshold
 * as a dashed line with the failing side shaded, step boundaries as labelled vertical
 * lines and the gate's own samples as dots (green passed, red failed, each with a
 * tooltip). It needs no script, so the rollout report can carry it and the dashboard can
 * show it with JavaScript off. The SVG is an image with a title and a description that
 * states the figures in words.
 */
export function svgChart(c: ChartInput): string {
  const samples = (c.samples ?? []).filter((s) => s.value !== undefined) as (ChartSample & {
    value: number;
  })[];
  const times = [...c.points.map((p) => p[0]), ...samples.map((s) => s.at)];
  const values = [...c.points.map((p) => p[1]), ...samples.map((s) => s.value), c.threshold];
  const t0 = c.startMs ?? (times.length ? Math.min(...times) : 0);
  const t1 = Math.max(c.endMs ?? (times.length ? Math.max(...times) : 0), t0 + 60_000);
  let lo = Math.min(0, ...values);
  let hi = Math.max(...values);
  if (hi <= lo) hi = lo + 1;
  const step = niceStep(hi - lo, 4);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const x = (t: number) => M.left + ((t - t0) / (t1 - t0)) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - ((v - lo) / (hi - lo)) * (H - M.top - M.bottom);
  const out: string[] = [];
  const last = c.points.at(-1);
  const failed = samples.filter((s) => !s.ok).length;
  const desc =
    `${c.points.length} point(s) from ${clockTime(t0)} to ${clockTime(t1)} UTC` +
    (last ? `; latest ${formatMetricValue(c.metric, last[1])}` : "; no data") +
    `; target ${formatTarget(c)}` +
    (samples.length ? `; ${samples.length} gate sample(s), ${failed} failed` : "");
  out.push(
    `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${esc(c.id)}-t ${esc(c.id)}-d" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${esc(c.id)}-t">${esc(c.title)}</title>`,
    `<desc id="${esc(c.id)}-d">${esc(desc)}</desc>`,
  );
  // The failing side of the threshold.
  const ty = y(c.threshold);
  const [fy0, fy1] = c.failWhen === "below" ? [ty, H - M.bottom] : [M.top, ty];
  out.push(
    `<rect x="${M.left}" y="${n(fy0)}" width="${W - M.left - M.right}" height="${n(Math.max(0, fy1 - fy0))}" fill="#ffebe9"/>`,
  );
  for (let v = lo; v <= hi + step / 2; v += step) {
    out.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${n(y(v))}" y2="${n(y(v))}" stroke="#e5e7eb"/>`,
      `<text x="${M.left - 6}" y="${n(y(v) + 4)}" text-anchor="end">${esc(formatMetricValue(c.metric, v))}</text>`,
    );
  }
  const tStep = (TIME_STEPS_MIN.find((m) => (t1 - t0) / (m * 60_000) <= 6) ?? 1440) * 60_000;
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) {
    out.push(`<text x="${n(x(t))}" y="${H - 8}" text-anchor="middle">${clockTime(t).slice(0, 5)}</text>`);
  }
  out.push(
    `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#6b7280"/>`,
    `<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#6b7280"/>`,
  );
  for (const b of c.boundaries ?? []) {
    if (b.at < t0 || b.at > t1) continue;
    out.push(
      `<g class="boundary"><title>${esc(`${b.label} at ${clockTime(b.at)} UTC`)}</title>`,
      `<line x1="${n(x(b.at))}" x2="${n(x(b.at))}" y1="${M.top - 10}" y2="${H - M.bottom}" stroke="#57606a" stroke-dasharray="2 3"/>`,
      `<text x="${n(x(b.at) + 3)}" y="${M.top - 12}">${esc(b.label)}</text></g>`,
    );
  }
  out.push(
    `<line class="threshold" x1="${M.left}" x2="${W - M.right}" y1="${n(ty)}" y2="${n(ty)}" stroke="#a40e26" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text x="${W - M.right - 4}" y="${n(ty - 4)}" text-anchor="end" fill="#a40e26">${esc(`target ${formatTarget(c)}`)}</text>`,
  );
  if (c.points.length) {
    const d = c.points.map((p, i) => `${i ? "L" : "M"}${n(x(p[0]))} ${n(y(p[1]))}`).join(" ");
    out.push(`<path class="series" d="${d}" fill="none" stroke="#0550ae" stroke-width="1.75"/>`);
  }
  for (const s of samples) {
    out.push(
      `<circle class="sample ${s.ok ? "pass" : "fail"}" cx="${n(x(s.at))}" cy="${n(y(s.value))}" r="4" fill="${s.ok ? "#1a7f37" : "#cf222e"}" stroke="#fff"><title>${esc(
        `${s.label}: ${formatMetricValue(c.metric, s.value)} at ${clockTime(s.at)} UTC, ${s.ok ? "passed" : "failed"}`,
      )}</title></circle>`,
    );
  }
  out.push("</svg>");
  return out.join("");
}
