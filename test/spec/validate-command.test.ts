import { execFile } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserError } from "../../src/cli/errors.ts";
import { registerValidate, runValidate } from "../../src/cli/validate.ts";
import { createSimulator, type Simulator } from "../../src/sim/index.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const BROKEN = "test/fixtures/specs/broken";

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

async function inRoot<T>(fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(ROOT);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

describe("capstan validate", () => {
  it("prints a one-line summary for a clean spec set", async () => {
    const out = sink();
    await inRoot(() => runValidate(["specs/examples"], { out: out.stream }));
    expect(out.text()).toBe("capstan validate: 6 specs in 5 files OK\n");
  });

  it("prints every problem as file:line:col  Kind/name  message and fails with exit code 1", async () => {
    const out = sink();
    const err = await inRoot(() =>
      runValidate([`${BROKEN}/liveness-tcp.yaml`, `${BROKEN}/sql-flag-out-of-range.yaml`], {
        out: out.stream,
      }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(1);
    expect((err as UserError).message).toBe(
      "2 problems in 2 files (2 spec files checked); nothing was sent to GCP",
    );
    expect(out.text().split("\n")).toEqual([
      `${BROKEN}/liveness-tcp.yaml:12:9  CloudRunService/api  spec.template.livenessProbe.tcpSocket: a liveness probe cannot use tcpSocket: Cloud Run supports HTTP and gRPC liveness probes only; use httpGet or grpc`,
      `${BROKEN}/sql-flag-out-of-range.yaml:10:22  SqlInstance/main-db  spec.databaseFlags.max_connections: \`max_connections\` must be an integer between 14 and 262143, got 5`,
      "",
    ]);
  });

  it("reports the problems as data with --output json", async () => {
    const out = sink();
    await inRoot(() =>
      runValidate([`${BROKEN}/connector-cidr-not-28.yaml`], { out: out.stream, output: "json" }),
    ).catch(() => undefined);
    const report = JSON.parse(out.text()) as { valid: boolean; problems: unknown[] };
    expect(report.valid).toBe(false);
    expect(report.problems).toEqual([
      {
        file: `${BROKEN}/connector-cidr-not-28.yaml`,
        line: 10,
        col: 16,
        kind: "VpcConnector",
        name: "vpc-main",
        message: "spec.ipCidrRange: must be an unused /28 IPv4 range such as 10.8.0.0/28; got 10.8.0.0/24",
      },
    ]);
  });

  it("takes a project and region for specs that have none from the command line", async () => {
    const out = sink();
    await inRoot(() =>
      runValidate([`${BROKEN}/missing-region.yaml`], {
        out: out.stream,
        defaults: { region: "europe-west1" },
      }),
    );
    expect(out.text()).toBe("capstan validate: 1 spec in 1 file OK\n");
  });

  it("is registered with its arguments and refuses an unknown output format", async () => {
    const program = new Command("capstan").exitOverride();
    registerValidate(program);
    const cmd = program.commands.find((c) => c.name() === "validate");
    expect(cmd?.description()).toContain("offline");
    await expect(
      program.parseAsync(["node", "capstan", "validate", "--output", "yaml", "specs/examples"]),
    ).rejects.toThrow("--output must be text or json, got `yaml`");
  });

  describe("as a command", () => {
    let sim: Simulator;
    let endpoint: string;
    beforeAll(async () => {
      sim = createSimulator();
      endpoint = await sim.listen();
    });
    afterAll(async () => {
      await sim.close();
    });

    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, "src/cli/capstan.ts"), "validate", ...args], {
        cwd: ROOT,
        env: { ...process.env, CAPSTAN_GCP_ENDPOINT: endpoint },
      }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      );

    it("exits 0 on clean specs and 1 on broken ones, without a single API call", async () => {
      const ok = await run(["specs/examples"]);
      expect(ok).toMatchObject({ code: 0, stdout: "capstan validate: 6 specs in 5 files OK\n" });
      const bad = await run([BROKEN]);
      expect(bad.code).toBe(1);
      expect(bad.stdout.trim().split("\n").length).toBeGreaterThanOrEqual(30);
      expect(bad.stderr).toMatch(/^capstan: \d+ problems in \d+ files .*nothing was sent to GCP\n$/);
      expect(sim.requests()).toEqual([]);
    });
  });
});
