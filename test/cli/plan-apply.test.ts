import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSimulator, loadFixture, type Simulator } from "../../src/sim/index.ts";
import { compileSchema } from "../../src/spec/validate.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SCALE = 2000;

/** capstan runs the real CLI as a child process against the in-test simulator. */
function capstan(
  endpoint: string,
  ...args: string[]
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["src/cli/capstan.ts", "--endpoint", endpoint, "--time-scale", String(SCALE), ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

describe("capstan plan and apply against the simulator (specs/examples)", () => {
  let sim: Simulator;
  let endpoint: string;
  beforeAll(async () => {
    sim = createSimulator({
      fixture: await loadFixture(join(ROOT, "test/fixtures/e2e/examples-live.yaml")),
      timeScale: SCALE,
    });
    endpoint = await sim.listen(0);
  });
  afterAll(async () => {
    await sim.close();
  });

  it("plans with exit code 2 when there are changes, writing nothing but validate-only requests", async () => {
    const r = await capstan(endpoint, "plan", "specs/examples", "--detailed-exitcode");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(2);
    expect(r.stdout).toContain("# CloudRunService/api will be updated in place");
    expect(r.stdout).toContain("template.scaling.maxInstances:");
    expect(r.stdout).toMatch(/secret projects\/acme-staging\/secrets\/db-password latest = version 2/);
    const writes = sim.requests().filter((e) => e.write);
    expect(writes.every((e) => e.query.includes("validateOnly=true"))).toBe(true);
  });

  it("prints JSON that follows schemas/plan.schema.json and markdown for a pull request", async () => {
    const json = await capstan(endpoint, "plan", "specs/examples", "--output", "json");
    const schema = JSON.parse(readFileSync(join(ROOT, "schemas/plan.schema.json"), "utf8"));
    const validate = compileSchema(schema);
    const doc = JSON.parse(json.stdout);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const md = await capstan(endpoint, "plan", "specs/examples", "--output", "markdown");
    expect(md.stdout).toContain("### capstan plan");
    expect(md.stdout).toContain("| field | live | desired |");
    // The rollout's steps as a flowchart GitHub draws, below the tables.
    expect(md.stdout).toMatch(/#### Rollout[\s\S]*```mermaid\nflowchart TD\n[\s\S]*live --> step1/);
  });

  it("applies a saved plan, keeps what the specs do not manage, then plans no changes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "capstan-plan-"));
    const saved = join(dir, "plan.json");
    expect((await capstan(endpoint, "plan", "specs/examples", "--out", saved)).status).toBe(0);
    const applied = await capstan(endpoint, "apply", saved);
    expect(applied.stdout).toContain("Apply converged");
    expect(applied.status).toBe(0);
    const after = await capstan(endpoint, "plan", "specs/examples", "--detailed-exitcode");
    expect(after.stdout).toContain("No changes. Live state matches the specs");
    expect(after.status).toBe(0);
    const state = sim.dump() as {
      run: { services: { template: { containers: { image: string; env: { name: string }[] }[] } }[] };
    };
    const container = state.run.services[0]!.template.containers[0]!;
    expect(container.image).toBe("europe-docker.pkg.dev/acme-staging/api/api:2.4.1");
    expect(container.env.map((e) => e.name)).toContain("IMAGE_TAG");
  });

  it("refuses to apply a saved plan once live state has changed since", async () => {
    const dir = await mkdtemp(join(tmpdir(), "capstan-plan-"));
    const saved = join(dir, "plan.json");
    sim.edit("vpcaccess", {
      kind: "connector",
      name: "projects/acme-staging/locations/europe-west1/connectors/vpc-main",
      patch: { maxInstances: 7 },
    });
    await capstan(endpoint, "plan", "specs/examples", "--out", saved);
    sim.edit("run", {
      kind: "service",
      name: "projects/acme-staging/locations/europe-west1/services/api",
      patch: { labels: { touched: "yes" } },
    });
    const r = await capstan(endpoint, "apply", "--plan", saved);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("live state changed since");
  });
});
