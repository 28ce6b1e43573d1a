import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

describe("capstan demo (npm start)", () => {
  it("refuses the literal plan, applies the corrected specs and meets every success criterion", () => {
    const r = spawnSync(process.execPath, ["src/cli/capstan.ts", "demo"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(
      "refused: the desired state violates db-connections for SqlInstance/staging-db: 20 × 5 + 10 = 110 > 0.8 × 120 = 96",
    );
    expect(r.stdout).toMatch(/Apply converged: all \d+ step\(s\) applied and verified/);
    expect(r.stdout).toMatch(/database connection success\s+≥ 95\.0%\s+7\d\.\d%\s+9\d\.\d%\s+yes/);
    expect(r.stdout).toContain("All success criteria met.");
    expect(r.status).toBe(0);
  });
});
