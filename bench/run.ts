// Runs every benchmark in bench/ (each a standalone script that prints its own figures),
// one after another so they do not compete for the two cores. `npm run bench -- NAME`
// runs only the benchmarks whose file name contains NAME.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const only = process.argv[2];
const scripts = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && (!only || f.includes(only)))
  .sort();
let failed = 0;
for (const script of scripts) {
  process.stdout.write(`\n=== bench/${script}\n`);
  const r = spawnSync(process.execPath, [join(dir, script)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
