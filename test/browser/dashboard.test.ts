/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser, on its DOM.
import { join } from "node:path";
import type { Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DashboardDoc } from "../../src/dashboard/view.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { tempDir } from "../controller/harness.ts";
import {
  launchBrowser,
  type RunProcess,
  screenshotDir,
  seriousViolations,
  skipBrowserTests,
  spawnRun,
  watchConsole,
} from "../helpers/browser.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const skip = skipBrowserTests();
if (skip) console.warn(skip);
/**
 * Simulated seconds per real second: the shortest step (a 300 s settle plus its gates)
 * then lasts about a second, long enough for the page to show it running.
 */
const SCALE = 300;

describe.skipIf(skip !== undefined)("the dashboard in a real browser (headless chromium)", () => {
  let h: SimHarness;
  let run: RunProcess;
  let browser: Browser;
  let base: string;
  let shots: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    shots = await screenshotDir("dashboard");
    h = await startSim((await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture, {
      timeScale: SCALE,
    });
    const t = await tempDir("capstan-browser-run-");
    cleanup = t.remove;
    browser = await launchBrowser();
    run = spawnRun(h.endpoint, SCALE, ["--specs", "specs/staging", "--state-dir", t.dir, "--interval", "1h"]);
    base = `http://127.0.0.1:${await run.port}`;
  });
  afterAll(async () => {
    await browser?.close();
    await run?.stop();
    await h?.close();
    await cleanup?.();
  });

  it("shows the resources, follows the rollout step by step without a reload, charts the gates, and passes axe", async () => {
    const page = await browser.newPage();
    const errors = watchConsole(page);
    await page.setViewport({ width: 1400, height: 1000 });
    // axe-core is injected by the test; the page's own CSP allows only its own scripts.
    await page.setBypassCSP(true);
    await page.goto(`${base}/`, { waitUntil: "load" });
    // Record, from inside the page, every "step i of n" the rollout panel shows.
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[]; loadedOnce: boolean };
      w.loadedOnce = true;
      w.seen = [];
      const note = () => {
        for (const el of document.querySelectorAll<HTMLElement>("[data-rollout-step]")) {
          const id = `${el.closest("[data-execution]")?.getAttribute("data-execution")}:${el.dataset.rolloutStep}`;
          if (w.seen.at(-1) !== id) w.seen.push(id);
        }
      };
      note();
      new MutationObserver(note).observe(document.body, { childList: true, subtree: true });
    });

    // The resource rows and their kstatus conditions.
    await page.waitForFunction(
      () => {
        const trs = [...document.querySelectorAll("table.resources tr[data-address]")];
        return trs.length >= 4 && trs.every((tr) => tr.querySelectorAll("td:nth-child(2) li").length === 3);
      },
      { timeout: 60_000, polling: 200 },
    );
    const rows = await page.$$eval("table.resources tr[data-address]", (trs) =>
      trs.map((tr) => [
        tr.getAttribute("data-address"),
        tr.querySelector("td:nth-child(2)")?.textContent ?? "",
      ]),
    );
    expect(rows.map(([a]) => a)).toEqual(
      expect.arrayContaining([
        "CloudRunService/backend",
        "SqlInstance/staging-db",
        "VpcConnector/staging-egress",
        "BackendService/backend-bs",
      ]),
    );
    for (const [, conditions] of rows) expect(conditions).toMatch(/Ready.*Reconciling.*Stalled/s);
    await page.screenshot({ path: join(shots, "dashboard-rollout.png"), fullPage: true });

    // The rollout converges while the page only follows the stream.
    await page.waitForFunction(
      () =>
        document.querySelector('#rollout [data-execution][data-state="converged"][data-steps="4"]') !== null,
      { timeout: 90_000, polling: 200 },
    );
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    const fourSteps = seen
      .filter((s) => s.startsWith(seen[0]!.split(":")[0]!))
      .map((s) => Number(s.split(":")[1]));
    expect(new Set(fourSteps).size, `steps seen: ${seen.join(", ")}`).toBeGreaterThanOrEqual(2);
    expect(fourSteps).toEqual([...fourSteps].sort((a, b) => a - b));
    // No reload happened: the page's own state survived, and it navigated once.
    expect(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(await page.evaluate(() => performance.getEntriesByType("navigation").length)).toBe(1);
    expect(Number(await page.evaluate(() => document.body.dataset["refreshes"]))).toBeGreaterThan(2);
    expect(await page.$eval("#live", (el) => el.textContent)).toContain("following");

    // The gate charts: drawn by uPlot, each holding points.
    await page.waitForFunction(
      () => document.querySelectorAll("figure.gate-chart.live .uplot canvas").length === 4,
    );
    const points = await page.$eval("#gate-data", (el) =>
      (JSON.parse(el.textContent ?? "[]") as { points: unknown[] }[]).map((s) => s.points.length),
    );
    expect(points).toHaveLength(4);
    for (const n of points) expect(n).toBeGreaterThan(10);
    const doc = (await (await fetch(`${base}/api/dashboard`)).json()) as DashboardDoc;
    expect(doc.gates.series.every((s) => s.samples.length > 0 && s.boundaries.length >= 4)).toBe(true);

    await page.screenshot({ path: join(shots, "dashboard-converged.png"), fullPage: true });
    expect(await seriousViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 150_000);

  it("renders a useful page with JavaScript off: the tables and the charts as SVG", async () => {
    const page = await browser.newPage();
    await page.setJavaScriptEnabled(false);
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(`${base}/`, { waitUntil: "load" });
    const html = await page.content();
    expect(html).toContain("Without JavaScript this page reloads every 30 seconds");
    expect((html.match(/<tr data-address=/g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect((html.match(/<svg class="chart"/g) ?? []).length).toBe(4);
    expect(html).toMatch(/<path class="series" d="M/);
    expect(html).toContain('data-invariant="db-connections"');
    expect(html).not.toContain('class="uplot');
    await page.screenshot({ path: join(shots, "dashboard-no-javascript.png"), fullPage: true });
    await page.close();
  });
});
