import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimulator, loadFixture, type Simulator } from "../../src/sim/index.ts";

const ROOT = join(import.meta.dirname, "..", "..");

interface Result {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * capstan runs the real CLI as a new user would on a fresh machine: an empty HOME, no
 * GOOGLE_APPLICATION_CREDENTIALS, no simulator endpoint. The metadata server the
 * library looks for last is pointed at a loopback port (GCE_METADATA_HOST, gcp-metadata's
 * documented override) so the probe stays on this machine.
 */
function capstan(home: string, metadataHost: string, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env["PATH"],
      HOME: home,
      NO_COLOR: "1",
      GCE_METADATA_HOST: metadataHost,
    };
    const child = spawn(process.execPath, ["src/cli/capstan.ts", ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

/** expectOneMessage checks a failure is one `capstan:` message with a fix, and no stack trace. */
function expectOneMessage(r: Result): void {
  expect(r.status).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^capstan: /);
  expect(r.stderr).toMatch(/\n {2}to fix: .+\n$/);
  expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(2);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain("Error:");
}

describe("a new user's first commands", () => {
  let home: string;
  let metadata: Server;
  let metadataHost: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "capstan-home-"));
    // A metadata server that refuses what it is asked, as a machine off Google Cloud has none.
    metadata = createServer((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((r) => metadata.listen(0, "127.0.0.1", r));
    metadataHost = `127.0.0.1:${(metadata.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => metadata.close(() => r()));
    await rm(home, { recursive: true, force: true });
  });

  it("capstan plan without credentials says so, where it looked, and how to log in", async () => {
    const r = await capstan(home, metadataHost, "plan", "specs/staging");
    expectOneMessage(r);
    expect(r.stderr).toContain("capstan: no Google Cloud credentials found");
    expect(r.stderr).toContain("GOOGLE_APPLICATION_CREDENTIALS (not set)");
    expect(r.stderr).toContain(join(home, ".config", "gcloud", "application_default_credentials.json"));
    expect(r.stderr).toContain("gcloud auth application-default login");
  });

  it("capstan doctor without credentials reports them missing in its table, and exits 1", async () => {
    const r = await capstan(home, metadataHost, "doctor", "specs/staging");
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^MISSING\s+credentials\s+no Google Cloud credentials found/);
    expect(r.stdout).toContain("fix: run `gcloud auth application-default login`");
    expect(r.stderr).toBe("");
  });

  describe("against a simulator", () => {
    let sim: Simulator;
    let endpoint: string;
    beforeAll(async () => {
      sim = createSimulator({
        fixture: await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml")),
        timeScale: 100,
      });
      endpoint = await sim.listen(0);
    });
    afterAll(async () => {
      await sim.close();
    });

    it("refuses to run when capstan's time scale is not the simulator's, saying which to pass", async () => {
      const r = await capstan(home, metadataHost, "--endpoint", endpoint, "plan", "specs/staging");
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(
        `capstan: the simulator at ${endpoint} runs at time scale 100, capstan at 1: their timeouts and operations would not agree. Run capstan with --time-scale 100 (or restart the simulator with --time-scale 1)\n`,
      );
      expect(sim.requests()).toEqual([]);
    });

    it("names the API to enable and the command that enables it", async () => {
      sim.load({
        ...(await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))),
        access: {
          projects: { "acme-staging": { number: "123456789012", services: ["run.googleapis.com"] } },
        },
      });
      const r = await capstan(
        home,
        metadataHost,
        "--endpoint",
        endpoint,
        "--time-scale",
        "100",
        "plan",
        "specs/staging",
      );
      expectOneMessage(r);
      expect(r.stderr).toMatch(/is not enabled in projects\/123456789012/);
      expect(r.stderr).toMatch(
        /to fix: gcloud services enable \w+\.googleapis\.com --project acme-staging\n$/,
      );
    });
  });
});
