import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatProblem, loadSpecs } from "../../src/spec/index.ts";

// Each file of the corpus starts with a comment saying what it shows, then one
// `# expect: line:col  Kind/name  message` line per problem it must produce, in order.
const ROOT = join(import.meta.dirname, "..", "..");
const DIR = "test/fixtures/specs/broken";
const FILES = readdirSync(join(ROOT, DIR))
  .filter((f) => f.endsWith(".yaml") && f !== "capstan.yaml")
  .sort();

function expectations(file: string): string[] {
  return readFileSync(join(ROOT, DIR, file), "utf8")
    .split("\n")
    .flatMap((line) => {
      const m = /^# expect: (.+)$/.exec(line);
      return m ? [`${DIR}/${file}:${m[1]}`] : [];
    });
}

describe("the broken-spec corpus", () => {
  it("holds at least 30 broken specs, each with its expected problems", () => {
    expect(FILES.length).toBeGreaterThanOrEqual(30);
    for (const f of FILES) expect(expectations(f), f).not.toEqual([]);
  });

  it.each(FILES)("reports exactly the expected problems for %s", async (file) => {
    const set = await loadSpecs([`${DIR}/${file}`], { cwd: ROOT });
    expect(set.problems.map(formatProblem)).toEqual(expectations(file));
  });

  it("reports the problems of every file at once, sorted by file and line, when loaded together", async () => {
    const some = ["sql-flag-out-of-range.yaml", "connector-cidr-not-28.yaml", "liveness-tcp.yaml"];
    const set = await loadSpecs(
      some.map((f) => `${DIR}/${f}`),
      { cwd: ROOT },
    );
    expect(set.problems.map(formatProblem)).toEqual(some.sort().flatMap(expectations));
  });
});
