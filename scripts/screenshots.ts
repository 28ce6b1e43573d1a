/// <reference lib="dom" />
// Regenerates the README's screenshots (docs/images/dashboard.png, docs/images/report.png)
// in Debian's chromium: the dashboard of a `capstan run` midway through converging
// fixtures/staging-degraded.yaml on the simulator, and the rollout report of a
// `capstan apply --report` of the same. Run: npm run screenshots
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Fixture, loadFixture } from "../src/sim/index.ts";
import { CHROMIUM, launchBrowser, runCapstan, spawnRun } from "../test/helpers/browser.ts";
import { startSim } from "../test/helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "docs", "images");
const fixture = async () => (await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as Fixture;
const dir = await mkdtemp(join(tmpdir(), "capstan-screenshots-"));
const browser = await launchBrowser().catch((err: Error) => {
  throw new Error(`could not start chromium at ${CHROMIUM} (apt-get install -y chromium): ${err.message}`);
});
try {
  // The dashboard, while step 3 of 4 runs.
  const live = await startSim(await fixture(), { timeScale: 300 });
  const run = spawnRun(live.endpoint, 300, ["--specs", "specs/staging", "--state-dir", join(dir, "state")]);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    await page.goto(`http://127.0.0.1:${await run.port}/`, { waitUntil: "load" });
    await page.waitForFunction(
      () =>
        document.querySelector('#rollout [data-rollout-step="3"]') !== null &&
        document.querySelector(".uplot"),
      { timeout: 120_000, polling: 100 },
    );
    await page.screenshot({
      path: join(OUT, "dashboard.png"),
      clip: { x: 0, y: 0, width: 1280, height: 2000 },
      captureBeyondViewport: true,
    });
    console.log(`wrote ${join(OUT, "dashboard.png")}`);
  } finally {
    await run.stop();
    await live.close();
  }

  // The rollout report of an apply of the same.
  const sim = await startSim(await fixture(), { timeScale: 1000 });
  try {
    const file = join(dir, "rollout.html");
    const r = await runCapstan([
      "--endpoint",
      sim.endpoint,
      "--time-scale",
      "1000",
      "apply",
      "specs/staging",
      "--auto-approve",
      "--report",
      file,
    ]);
    if (r.code !== 0) throw new Error(`capstan apply exited ${r.code}: ${r.stderr}`);
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    await page.screenshot({
      path: join(OUT, "report.png"),
      clip: { x: 0, y: 0, width: 1280, height: 2200 },
      captureBeyondViewport: true,
    });
    console.log(`wrote ${join(OUT, "report.png")}`);
  } finally {
    await sim.close();
  }
} finally {
  await browser.close();
  await rm(dir, { recursive: true, force: true });
}
