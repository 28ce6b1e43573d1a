import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect } from "vitest";

const GOLDEN_DIR = join(import.meta.dirname, "..", "golden");

/**
 * expectGolden compares `value` (pretty JSON) or text with test/golden/<name>. Run
 * `npm run golden:refresh` to rewrite every golden file from the current behaviour, then
 * review the diff in git.
 */
export function expectGolden(name: string, value: unknown): void {
  const file = join(GOLDEN_DIR, name);
  const text = typeof value === "string" ? value : `${JSON.stringify(value, null, 2)}\n`;
  if (process.env["CAPSTAN_GOLDEN_REFRESH"] === "1") {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) {
    throw new Error(
      `golden file test/golden/${name} is missing: run \`npm run golden:refresh\` and review it`,
    );
  }
  expect(text).toBe(readFileSync(file, "utf8"));
}
