/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser, on its DOM.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { tempDir } from "../controller/harness.ts";
import {
  launchBrowser,
  runCapstan,
  screenshotDir,
  seriousViolations,
  skipBrowserTests,
  watchConsole,
} from "../helpers/browser.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const skip = skipBrowserTests();
if (skip) console.warn(skip);

describe.skipIf(skip !== undefined)("the rollout report in a real browser, opened from disk", () => {
  let h: SimHarness;
  let browser: Browser;
  let file: string;
  let stdout: string;
  let shots: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    shots = await screenshotDir("report");
    h = await startSim((await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture);
    const t = await tempDir("capstan-report-");
    cleanup = t.remove;
    file = join(t.dir, "change-1234", "rollout.html");
    const r = await runCapstan([
      "--endpoint",
      h.endpoint,
      "--time-scale",
      "1000",
      "apply",
      "specs/staging",
      "--auto-approve",
      "--report",
      file,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    stdout = r.stdout;
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await h?.close();
    await cleanup?.();
  });

  it("is written where asked and named in the output", () => {
    expect(stdout).toContain("Apply converged");
    expect(stdout).toContain(`Rollout report: ${file}`);
    const html = readFileSync(file, "utf8");
    // Self-contained: no script, nothing loaded from anywhere.
    expect(html).not.toMatch(/<script|<link |src="http|href="http/i);
  });

  it("shows each step with its times and waits, the gate charts with thresholds and step boundaries, and passes axe", async () => {
    const page = await browser.newPage();
    const errors = watchConsole(page);
    await page.setViewport({ width: 1280, height: 1000 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    expect(await page.evaluate(() => document.scripts.length)).toBe(0);
    expect(await page.$eval("header h1", (el) => el.textContent)).toBe(
      "Rollout report: capstan apply specs/staging",
    );
    const steps = await page.$$eval("#steps ol.steps > li", (lis) =>
      lis.map((li) => ({
        state: li.getAttribute("data-state"),
        timing: li.querySelector("p")?.textContent ?? "",
        waits: [...li.querySelectorAll("table.waits tbody tr td:first-child")].map((td) => td.textContent),
      })),
    );
    expect(steps.map((s) => s.state)).toEqual(["done", "done", "done", "done"]);
    for (const s of steps) {
      expect(s.timing).toMatch(/^\d\d:\d\d:\d\d → \d\d:\d\d:\d\d UTC, /);
      expect(s.waits).toContain("operation");
      expect(s.waits).toContain("settle");
    }
    const charts = await page.$$eval("figure.gate-chart", (figs) =>
      figs.map((f) => ({
        points: Number(f.getAttribute("data-points")),
        series: f.querySelector("path.series")?.getAttribute("d")?.split("L").length ?? 0,
        threshold: f.querySelectorAll("line.threshold").length,
        boundaries: f.querySelectorAll("g.boundary").length,
        samples: f.querySelectorAll("circle.sample").length,
      })),
    );
    expect(charts).toHaveLength(4);
    for (const c of charts) {
      expect(c.points).toBeGreaterThan(10);
      expect(c.series).toBe(c.points);
      expect(c.threshold).toBe(1);
      expect(c.boundaries).toBe(4);
      expect(c.samples).toBeGreaterThanOrEqual(5);
    }
    const criteria = await page.$$eval("table.criteria tbody tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent?.trim())),
    );
    expect(criteria.map((r) => r[0])).toEqual([
      "database connection successcustom.googleapis.com/capstan/db_connection_success_ratio",
      "avg connection establishment (s)custom.googleapis.com/capstan/db_connection_establishment_seconds",
      "connector peak utilisationvpcaccess.googleapis.com/connector/cpu/utilizations",
      "database pool utilisationcustom.googleapis.com/capstan/db_pool_utilization",
    ]);
    expect(criteria.map((r) => r.at(-1))).toEqual(["yes", "yes", "yes", "yes"]);
    const capacity = await page.$eval("table.capacity", (t) => t.textContent ?? "");
    expect(capacity).toContain("25 × 5 + 10 = 135 > 0.8 × 100 = 80");
    expect(capacity).toContain("17 × 5 + 10 = 95 ≤ 0.8 × 120 = 96");
    await page.screenshot({ path: join(shots, "report.png"), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
