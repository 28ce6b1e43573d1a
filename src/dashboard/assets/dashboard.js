// The dashboard's live updates, served as is (no build step). The page is complete HTML
// without this script; with it, the page follows /events/stream (Server-Sent Events) and,
// after each event, fetches itself again and swaps every [data-panel] for the fresh one,
// so nobody presses reload. The gate charts are drawn with uPlot (served from
// node_modules as /assets/uplot.js) over the inline SVG the server drew.
(() => {
  const live = document.getElementById("live");
  /** @type {Map<string, any>} uPlot instances by metric and subject, kept across refreshes. */
  const charts = new Map();
  let timer = 0;
  let inflight = false;
  let again = false;

  function setLive(text, ok) {
    if (!live) return;
    live.textContent = text;
    live.className = ok ? "live-on" : "";
  }

  function fraction(metric) {
    return /(ratio|utilization|utilizations|utilisation)$/.test(metric);
  }

  function format(metric, v) {
    if (v === null || v === undefined) return "";
    if (metric.endsWith("_seconds")) return `${v.toFixed(1)} s`;
    if (fraction(metric)) return `${(v * 100).toFixed(0)}%`;
    return String(Number(v.toPrecision(3)));
  }

  /** Aligns the series, the threshold and the gate samples on one time axis, as uPlot wants. */
  function chartData(s) {
    const times = [...new Set([...s.points.map((p) => p[0]), ...s.samples.map((x) => x.at)])].sort(
      (a, b) => a - b,
    );
    const byTime = new Map(s.points.map((p) => [p[0], p[1]]));
    const samples = new Map(s.samples.filter((x) => x.value !== null).map((x) => [x.at, x.value]));
    return [
      times,
      times.map((t) => (byTime.has(t) ? byTime.get(t) : null)),
      times.map(() => s.threshold),
      times.map((t) => (samples.has(t) ? samples.get(t) : null)),
    ];
  }

  /** A uPlot hook that draws each step's start as a labelled dotted line. */
  function boundariesPlugin(getBoundaries) {
    return {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = "#57606a";
            ctx.fillStyle = "#374151";
            ctx.setLineDash([2, 3]);
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            for (const b of getBoundaries()) {
              const x = u.valToPos(b.at, "x", true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(b.label, x + 3, u.bbox.top + 12 * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  function drawCharts(panel) {
    const data = document.getElementById("gate-data");
    if (!data || typeof window.uPlot !== "function") return;
    /** @type {any[]} */
    const series = JSON.parse(data.textContent || "[]");
    const seen = new Set();
    for (const figure of panel.querySelectorAll("figure.gate-chart")) {
      const key = `${figure.dataset.metric} ${figure.dataset.subject}`;
      const s = series.find((x) => `${x.metric} ${x.subject}` === key);
      if (!s) continue;
      seen.add(key);
      let target = figure.querySelector(".uplot-target");
      if (!target) {
        target = document.createElement("div");
        target.className = "uplot-target";
        target.setAttribute("role", "img");
        const desc = figure.querySelector("desc");
        target.setAttribute(
          "aria-label",
          `${figure.querySelector("figcaption")?.textContent ?? key}. ${desc?.textContent ?? ""}`,
        );
        figure.append(target);
      }
      let u = charts.get(key);
      if (u) {
        u.__boundaries = s.boundaries;
        target.append(u.root);
        u.setData(chartData(s));
      } else {
        const width = Math.max(320, Math.min(720, figure.clientWidth || 640));
        const holder = { boundaries: s.boundaries };
        u = new window.uPlot(
          {
            width,
            height: 220,
            legend: { show: false },
            plugins: [boundariesPlugin(() => u?.__boundaries ?? holder.boundaries)],
            scales: { x: { time: true } },
            axes: [{}, { values: (_u, vals) => vals.map((v) => format(s.metric, v)), size: 60 }],
            series: [
              {},
              { label: s.label, stroke: "#0550ae", width: 1.75, spanGaps: true, points: { show: false } },
              { label: "threshold", stroke: "#a40e26", dash: [6, 4], width: 1.5, points: { show: false } },
              {
                label: "gate samples",
                stroke: "#1a7f37",
                fill: "#1a7f37",
                paths: () => null,
                points: { show: true, size: 8, fill: "#1a7f37" },
              },
            ],
          },
          chartData(s),
          target,
        );
        u.__boundaries = s.boundaries;
        charts.set(key, u);
      }
      figure.classList.add("live");
    }
    for (const [key, u] of charts) {
      if (!seen.has(key)) {
        u.destroy();
        charts.delete(key);
      }
    }
  }

  async function refresh() {
    if (inflight) {
      again = true;
      return;
    }
    inflight = true;
    try {
      const res = await fetch(location.pathname, { headers: { accept: "text/html" }, cache: "no-store" });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const next = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const panel of document.querySelectorAll("[data-panel]")) {
        const fresh = next.querySelector(`[data-panel="${panel.dataset.panel}"]`);
        if (fresh) panel.innerHTML = fresh.innerHTML;
      }
      document.body.dataset.latestSeq = next.body.dataset.latestSeq || "0";
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      const gates = document.querySelector('[data-panel="gates"]');
      if (gates) drawCharts(gates);
    } catch (err) {
      setLive(`Live: update failed (${err instanceof Error ? err.message : err}); retrying.`, false);
    } finally {
      inflight = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  const gates = document.querySelector('[data-panel="gates"]');
  if (gates) drawCharts(gates);
  if (typeof EventSource !== "function") return;
  const stream = new EventSource(`/events/stream?since=${document.body.dataset.latestSeq || 0}`);
  stream.addEventListener("open", () => setLive("Live: following capstan run's events (read-only).", true));
  stream.addEventListener("error", () => setLive("Live: connection lost, reconnecting…", false));
  stream.addEventListener("event", schedule);
  stream.addEventListener("state", schedule);
  // Waits count up between events (a 5-minute settle sends none): refresh while a rollout runs.
  setInterval(() => {
    if (document.querySelector('#rollout [data-state="running"]')) schedule();
  }, 5000);
  window.addEventListener("resize", () => {
    for (const [, u] of charts) {
      const figure = u.root.closest("figure");
      if (figure) u.setSize({ width: Math.max(320, Math.min(720, figure.clientWidth)), height: 220 });
    }
  });
})();
