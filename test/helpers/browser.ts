/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser, on its DOM.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import axe from "axe-core";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

const ROOT = join(import.meta.dirname, "..", "..");
const CLI = join(ROOT, "src", "cli", "capstan.ts");

/**
 * CHROMIUM is the browser the tests drive: Debian's `chromium` package (or
 * CAPSTAN_CHROMIUM). puppeteer-core never downloads one.
 */
export const CHROMIUM =
  process.env["CAPSTAN_CHROMIUM"] ??
  ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p)) ??
  "/usr/bin/chromium";

/**
 * skipBrowserTests says why the browser tests cannot run here, or undefined when they
 * can. Only a machine without chromium and without CI skips them; under CI (whose
 * .ci/run installs chromium) they always run, and fail if the browser is missing.
 */
export function skipBrowserTests(): string | undefined {
  if (existsSync(CHROMIUM) || process.env["CI"]) return undefined;
  return `browser tests skipped: no chromium at ${CHROMIUM}; install Debian's package (apt-get install -y chromium) or set CAPSTAN_CHROMIUM`;
}

/**
 * launchBrowser starts headless chromium with a fresh profile and the flags this closed
 * network needs: no background networking, component updates, sync or QUIC, so no
 * connection leaves the machine.
 */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "capstan-chromium-"));
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
}

/** screenshotDir makes a temporary folder for screenshots and names it in the test output. */
export async function screenshotDir(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `capstan-screenshots-${name}-`));
  console.log(`screenshots of ${name} for a person to look at: ${dir}`);
  return dir;
}

/** watchConsole collects the page's console errors, uncaught exceptions and failed requests. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => errors.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on("requestfailed", (r) => {
    // An EventSource or fetch cut off when the test closes the page is not a fault.
    if (r.failure()?.errorText !== "net::ERR_ABORTED")
      errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return errors;
}

/** seriousViolations runs axe-core in the page and returns its serious and critical violations. */
export async function seriousViolations(
  page: Page,
): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  await page.evaluate(axe.source);
  const results = (await page.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document, { resultTypes: ["violations"] }),
  )) as axe.AxeResults;
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact!, nodes: v.nodes.slice(0, 3).map((n) => n.html) }));
}

/** RunProcess is a `capstan run` child process serving on an ephemeral port. */
export interface RunProcess {
  readonly proc: ChildProcess;
  readonly port: Promise<number>;
  stop(): Promise<void>;
}

/** spawnRun starts `capstan run` against a simulator endpoint, with scaled time, serving on loopback. */
export function spawnRun(endpoint: string, timeScale: number, args: readonly string[]): RunProcess {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      "--endpoint",
      endpoint,
      "--time-scale",
      String(timeScale),
      "run",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      ...args,
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  proc.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const port = new Promise<number>((resolve, reject) => {
    let buffer = "";
    proc.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        if (entry["message"] === "serving status") resolve(entry["port"] as number);
      }
    });
    proc.on("exit", (code) => reject(new Error(`capstan run exited (${code}) before serving: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
  return {
    proc,
    port,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/**
 * runCapstan runs the CLI in a child process to its end, without blocking this process
 * (an in-process simulator must keep answering it), and returns its exit code and output.
 */
export function runCapstan(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
    });
    p.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    p.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
