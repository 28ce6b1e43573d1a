import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

describe("capstan demo (npm start)", () => {
  it("refuses the literal plan, applies the corrected specs, meets every success criterion and writes the report", () => {
    const dir = mkdtempSync(join(tmpdir(), "capstan-demo-"));
    const report = join(dir, "rollout.html");
    try {
      const r = spawnSync(process.execPath, ["src/cli/capstan.ts", "demo", "--report", report], {
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
      expect(r.stdout).toContain(
        `Rollout report (steps, waits, gate charts, capacity before and after): ${report}`,
      );
      expect(r.status).toBe(0);
      // The report's criteria are the ones the demo printed, measured after the burst.
      const html = readFileSync(report, "utf8");
      const success =
        /<td class="num">≥ 95\.0%<\/td><td class="num">(7\d\.\d%)<\/td><td class="num">(9\d\.\d%)<\/td>/.exec(
          html,
        );
      expect(success?.slice(1)).toEqual(
        /database connection success\s+≥ 95\.0%\s+(7\d\.\d%)\s+(9\d\.\d%)/.exec(r.stdout)?.slice(1),
      );
      expect(html.match(/<svg class="chart"/g)).toHaveLength(4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
