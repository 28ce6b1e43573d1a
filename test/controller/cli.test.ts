import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FileLeaseRecord } from "../../src/lease/index.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { type Child, CLI, ROOT, spawnCapstan } from "../helpers/capstan-process.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { CLUSTER_SPECS } from "../lease/cluster.ts";
import { readiness, tempDir, writeSpecs } from "./harness.ts";

const P = "acme-staging";

function runArgs(endpoint: string, specsDir: string, extra: readonly string[] = []): string[] {
  // The state folder beside the specs (never inside them), one per test.
  return [
    "--endpoint",
    endpoint,
    "--time-scale",
    "1000",
    "run",
    "--specs",
    specsDir,
    "--state-dir",
    join(specsDir, "..", "state"),
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--log-level",
    "debug",
    ...extra,
  ];
}

describe("capstan run as a process", () => {
  let h: SimHarness | undefined;
  let children: Child[] = [];
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    for (const c of children)
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill("SIGKILL");
    await Promise.all(children.map((c) => c.exited));
    children = [];
    await h?.close();
    await cleanup?.();
  });

  it("killed with -9 mid-rollout and restarted, takes over the stale lease and converges without a second restart", async () => {
    const t = await tempDir("capstan-kill-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, {
      "capstan.yaml": CLUSTER_SPECS["capstan.yaml"],
      "db.yaml": CLUSTER_SPECS["db.yaml"],
    });
    const fixture: Fixture = {
      // A 20-minute restart (1.2 s at ×1000), so the kill lands while it runs.
      durations: { "sql.update": 30, "sql.restart": 1200 },
      sql: {
        instances: [
          {
            project: P,
            name: "main-db",
            region: "europe-west1",
            databaseVersion: "POSTGRES_16",
            settings: {
              tier: "db-custom-2-7680",
              databaseFlags: [{ name: "max_connections", value: "100" }],
            },
          },
        ],
      },
    };
    h = await startSim(fixture, { timeScale: 1000 });
    const sim = h.sim;
    const patches = () =>
      sim.requests().filter((r) => r.method === "PATCH" && r.path.endsWith("/instances/main-db"));
    const first = spawnCapstan(runArgs(h.endpoint, specsDir, ["--interval", "1h"]));
    children.push(first);
    await vi.waitFor(() => expect(patches()).toHaveLength(1), { timeout: 40_000, interval: 5 });
    first.proc.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");
    const leaseFile = join(t.dir, "state", "lease.json");
    const stale = JSON.parse(readFileSync(leaseFile, "utf8")) as FileLeaseRecord;
    expect(stale.pid).toBe(first.proc.pid);

    const second = spawnCapstan(runArgs(h.endpoint, specsDir, ["--interval", "1h"]));
    children.push(second);
    await vi.waitFor(
      async () => {
        const s = await second.status();
        expect(s.instance.role).toBe("leader");
        expect(readiness(s.resources.find((r) => r.address === "SqlInstance/main-db"))).toBe("True/UpToDate");
      },
      { timeout: 40_000, interval: 20 },
    );
    // The restart-carrying PATCH went out once: the second process found it running (or
    // done) and only waited for it.
    expect(patches()).toHaveLength(1);
    const flags = (sim.dump()["sql"] as { instances: { settings: { databaseFlags: unknown[] } }[] })
      .instances[0]!.settings.databaseFlags;
    expect(flags).toContainEqual({ name: "max_connections", value: "200" });
    const taken = JSON.parse(readFileSync(leaseFile, "utf8")) as FileLeaseRecord;
    expect(taken).toMatchObject({ pid: second.proc.pid, leaseTransitions: 1 });

    second.proc.kill("SIGTERM");
    expect(await second.exited).toEqual({ code: 0, signal: null });
    // Released as client-go releases: an empty holder, the term kept for the next one.
    expect(JSON.parse(readFileSync(leaseFile, "utf8"))).toMatchObject({
      holderIdentity: "",
      leaseTransitions: 1,
    });
  }, 90_000);

  it("started twice together, only one writes; on SIGTERM it exits 0, the other takes over, and capstan status shows it", async () => {
    const t = await tempDir("capstan-twice-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    const ids = ["a-hc", "b-hc", "c-hc"];
    const specs: Record<string, string> = { "capstan.yaml": `project: ${P}\n` };
    for (const id of ids) {
      specs[`${id}.yaml`] =
        `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: ${id}\nspec:\n  checkIntervalSec: 15\n`;
    }
    await writeSpecs(specsDir, specs);
    h = await startSim(
      {
        durations: { "compute.update": 8 },
        compute: {
          project: P,
          healthChecks: ids.map((name) => ({ name, checkIntervalSec: 5, httpHealthCheck: { port: 8080 } })),
        },
      },
      { timeScale: 1000 },
    );
    const sim = h.sim;
    // The grace period runs on the scaled clock: 10 minutes simulated is 0.6 s real, room
    // for the call in flight to finish on a loaded machine, so the stop is a clean one.
    const args = runArgs(h.endpoint, specsDir, ["--interval", "30s", "--grace-period", "10m"]);
    const pair = [spawnCapstan(args), spawnCapstan(args)];
    children.push(...pair);
    let leader!: Child;
    await vi.waitFor(
      async () => {
        const statuses = await Promise.all(pair.map((c) => c.status()));
        const i = statuses.findIndex((s) => s.instance.role === "leader");
        expect(i).toBeGreaterThanOrEqual(0);
        expect(statuses[1 - i]!.instance.role).toBe("standby");
        for (const id of ids) {
          expect(readiness(statuses[i]!.resources.find((r) => r.name === id))).toBe("True/UpToDate");
        }
        leader = pair[i]!;
      },
      { timeout: 40_000, interval: 20 },
    );
    const standby = pair.find((c) => c !== leader)!;
    const writes = sim.requests().filter((r) => r.write);
    expect(writes.map((w) => w.path.split("/").at(-1)).sort()).toEqual(ids);
    expect(writes.filter((w) => w.status !== 200)).toEqual([]);
    expect(
      await leader.metric('capstan_api_calls_total{api="compute.googleapis.com",method="healthChecks.patch"'),
    ).toBe(3);
    expect(
      await standby.metric(
        'capstan_api_calls_total{api="compute.googleapis.com",method="healthChecks.patch"',
      ),
    ).toBe(0);
    expect(await leader.metric("capstan_leader")).toBe(1);
    expect(await standby.metric("capstan_leader")).toBe(0);

    leader.proc.kill("SIGTERM");
    expect(await leader.exited).toEqual({ code: 0, signal: null });
    expect(leader.logs.map((l) => l["message"])).toEqual(
      expect.arrayContaining(["stopping", "stopped", "exiting"]),
    );
    await vi.waitFor(async () => expect((await standby.status()).instance.role).toBe("leader"), {
      timeout: 40_000,
      interval: 20,
    });
    sim.edit("compute", {
      kind: "healthCheck",
      name: `projects/${P}/global/healthChecks/b-hc`,
      patch: { checkIntervalSec: 9 },
    });
    await vi.waitFor(
      async () => {
        const b = (await standby.status()).resources.find((r) => r.name === "b-hc");
        expect(readiness(b)).toBe("True/DriftCorrected");
      },
      { timeout: 40_000, interval: 20 },
    );
    expect(sim.requests().filter((r) => r.write)).toHaveLength(4);

    const status = spawn(
      process.execPath,
      [CLI, "status", "--url", `http://127.0.0.1:${await standby.port}`],
      {
        cwd: ROOT,
      },
    );
    let out = "";
    status.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8");
    });
    const code = await new Promise<number | null>((resolve) => status.on("exit", (c) => resolve(c)));
    expect(code).toBe(0);
    const lines = out.split("\n");
    expect(lines[0]).toMatch(/^capstan run leader \S+, lease file:\S+ term \d+, specs /);
    expect(lines.find((l) => l.startsWith("HealthCheck") && l.includes("b-hc"))).toMatch(
      /^HealthCheck\s+b-hc\s+True\s+Current\s+DriftCorrected\s+[0-9a-f]{7}\s+-\s/,
    );
    standby.proc.kill("SIGTERM");
    expect((await standby.exited).code).toBe(0);
  }, 90_000);

  it("writes every log line of a pass as strict JSON with one message key, conflicts included", async () => {
    const t = await tempDir("capstan-logs-");
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, {
      "capstan.yaml": `project: ${P}\n`,
      "hc.yaml": `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: hc\nspec:\n  checkIntervalSec: 15\n`,
    });
    h = await startSim(
      {
        durations: { "compute.update": 8 },
        compute: {
          project: P,
          healthChecks: [{ name: "hc", checkIntervalSec: 5, httpHealthCheck: { port: 8080 } }],
        },
      },
      { timeScale: 1000 },
    );
    // One stale-fingerprint refusal: the executor logs a `conflict` event, whose own
    // `message` field once made a second `message` key on the line.
    h.sim.faults.add({
      match: { rpc: "HealthChecks.Patch" },
      times: 1,
      error: { status: "FAILED_PRECONDITION", httpCode: 412, reason: "conditionNotMet" },
    });
    const child = spawnCapstan(runArgs(h.endpoint, specsDir));
    children.push(child);
    await vi.waitFor(
      async () => {
        const r = (await child.status()).resources.find((x) => x.name === "hc");
        expect(readiness(r)).toBe("True/UpToDate");
      },
      { timeout: 40_000, interval: 20 },
    );
    child.proc.kill("SIGTERM");
    expect((await child.exited).code).toBe(0);
    // Every line went through parseStrict in spawnCapstan; the conflict is among them.
    const conflict = child.logs.find((l) => l["event"] === "conflict");
    expect(conflict).toMatchObject({ message: "conflict", detail: expect.any(String) });
  }, 60_000);
});
