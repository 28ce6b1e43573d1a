import { join } from "node:path";
import { simpleGit } from "simple-git";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GitSource } from "../../src/controller/source.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import { controllerFor, type RunningController, readiness, tempDir, writeSpecs } from "./harness.ts";

const P = "acme-staging";

const FIXTURE: Fixture = {
  durations: { "compute.update": 8 },
  compute: {
    project: P,
    healthChecks: [
      {
        name: "web-hc",
        checkIntervalSec: 5,
        timeoutSec: 5,
        httpHealthCheck: { port: 8080, requestPath: "/healthz" },
      },
    ],
  },
};

const spec = (interval: number) =>
  `apiVersion: capstan.dev/v1alpha1\nkind: HealthCheck\nmetadata:\n  name: web-hc\nspec:\n  checkIntervalSec: ${interval}\n`;

describe("capstan run --git", () => {
  let h: SimHarness;
  let c: RunningController;
  let cleanup: () => Promise<void>;
  afterEach(async () => {
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  it("applies a commit pushed to the followed branch and records that commit in the status", async () => {
    const t = await tempDir("capstan-git-");
    cleanup = t.remove;
    // A real repository, made with the system git: specs under infra/, a README beside them.
    const repo = join(t.dir, "repo");
    await writeSpecs(repo, {
      "README.md": "infra\n",
      "infra/capstan.yaml": `project: ${P}\n`,
      "infra/web.yaml": spec(10),
    });
    const git = simpleGit({ baseDir: repo });
    await git.init(["--initial-branch=main"]);
    await git.addConfig("user.email", "ops@example.com").addConfig("user.name", "Ops");
    await git.add(".").commit("first specs");
    const first = (await git.revparse(["HEAD"])).trim();
    // Work on another branch must not be picked up.
    await git.checkoutLocalBranch("experiment");
    await writeSpecs(repo, { "infra/web.yaml": spec(60) });
    await git.add(".").commit("not on main");
    await git.checkout("main");

    h = await startSim(FIXTURE, { timeScale: 1000 });
    const stateDir = join(t.dir, "state");
    c = controllerFor(h, {
      specsDir: "unused",
      stateDir,
      source: new GitSource({ repo, ref: "main", workdir: join(stateDir, "checkout"), paths: ["infra"] }),
      intervalMs: 3_600_000,
      pollIntervalMs: 5_000,
    });
    c.controller.start();
    await vi.waitFor(() => expect(readiness(c.resource("HealthCheck/web-hc"))).toBe("True/UpToDate"), {
      timeout: 15_000,
      interval: 10,
    });
    const checkInterval = () =>
      (h.sim.dump()["compute"] as { healthChecks: Record<string, unknown>[] }).healthChecks[0]![
        "checkIntervalSec"
      ];
    expect(checkInterval()).toBe(10);
    expect(c.controller.status().source).toMatchObject({ type: "git", ref: "main", commit: first });
    expect(c.resource("HealthCheck/web-hc")!.lastApplied?.commit).toBe(first);

    await writeSpecs(repo, { "infra/web.yaml": spec(20) });
    await git.add(".").commit("slower checks");
    const second = (await git.revparse(["HEAD"])).trim();
    await vi.waitFor(() => expect(c.resource("HealthCheck/web-hc")!.lastApplied?.commit).toBe(second), {
      timeout: 15_000,
      interval: 10,
    });
    expect(checkInterval()).toBe(20);
    expect(readiness(c.resource("HealthCheck/web-hc"))).toBe("True/UpToDate");
    expect(c.controller.status().source.commit).toBe(second);
    expect(c.resource("HealthCheck/web-hc")!.driftCount).toBe(0);
  });
});
