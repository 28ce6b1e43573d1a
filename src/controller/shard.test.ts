import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSpecSet } from "../spec/load.ts";
import { parseShard, shardOf, shardSpecs } from "./shard.ts";

const EXAMPLES = join(import.meta.dirname, "..", "..", "specs", "examples");
const read = (f: string) => readFileSync(join(EXAMPLES, f), "utf8");

/** Two projects that rendezvous hashing puts in different shards of 2. */
function projectsApart(): [string, string] {
  const a = "acme-staging";
  for (let i = 0; ; i++) {
    const b = `acme-other-${i}`;
    if (shardOf(b, 2) !== shardOf(a, 2)) return [a, b];
  }
}

describe("sharding by project", () => {
  it("reads --shard I/N and refuses anything else", () => {
    expect(parseShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(parseShard("0/1")).toEqual({ index: 0, count: 1 });
    for (const bad of ["4/4", "-1/4", "1", "a/b", "1/0", ""]) expect(parseShard(bad)).toBeUndefined();
  });

  it("puts each project in one shard, the same wherever it is asked, and moves only to a new shard when N grows", () => {
    const projects = Array.from({ length: 400 }, (_, i) => `project-${i}`);
    const four = projects.map((p) => shardOf(p, 4));
    expect(projects.map((p) => shardOf(p, 4))).toEqual(four);
    expect(new Set(four)).toEqual(new Set([0, 1, 2, 3]));
    // Roughly even: each shard has a quarter, give or take.
    for (let s = 0; s < 4; s++) {
      const n = four.filter((x) => x === s).length;
      expect(n).toBeGreaterThan(70);
      expect(n).toBeLessThan(130);
    }
    // Rendezvous hashing: from 4 to 5 shards a project keeps its shard or moves to the new one.
    projects.forEach((p, i) => {
      const five = shardOf(p, 5);
      expect(five === four[i] || five === 4).toBe(true);
    });
  });

  it("keeps only the shard's projects, and refuses a capacity policy whose resources span shards", () => {
    const [a, b] = projectsApart();
    const sources = ["api.yaml", "capacity.yaml", "database.yaml", "load-balancer.yaml", "network.yaml"].map(
      (f) => ({ path: join(EXAMPLES, f), text: read(f) }),
    );
    const defaults = [{ dir: EXAMPLES, path: join(EXAMPLES, "capstan.yaml"), text: read("capstan.yaml") }];
    const together = parseSpecSet(sources, defaults, { cwd: EXAMPLES });
    expect(together.problems).toEqual([]);
    const mine = shardOf(a, 2);
    expect(shardSpecs(together, { index: mine, count: 2 })).toMatchObject({
      problems: [],
      resources: together.resources,
    });
    expect(shardSpecs(together, { index: 1 - mine, count: 2 }).resources).toEqual([]);

    // The database moves to a project of the other shard; the policy still relates it to the service.
    const moved = sources.map((s) =>
      s.path.endsWith("database.yaml")
        ? {
            ...s,
            text: s.text.replace(/metadata:\n {2}name: (\S+)/, `metadata:\n  name: $1\n  project: ${b}`),
          }
        : s.path.endsWith("api.yaml")
          ? { ...s, text: s.text.replace("[main-db]", `["${b}:europe-west1:main-db"]`) }
          : s,
    );
    const spanning = parseSpecSet(moved, defaults, { cwd: EXAMPLES });
    expect(spanning.problems).toEqual([]);
    for (const index of [0, 1]) {
      const problems = shardSpecs(spanning, { index, count: 2 }).problems;
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({
        file: join(EXAMPLES, "capacity.yaml"),
        kind: "CapacityPolicy",
        name: "api-capacity",
      });
      expect(problems[0]!.message).toContain(
        `${a} → shard ${shardOf(a, 2)}, ${b} → shard ${shardOf(b, 2)} of 2`,
      );
    }
  });
});
