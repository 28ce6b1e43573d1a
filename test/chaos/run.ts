/**
 * `npm run chaos`: the chaos suite from the command line (runner.ts says what a run
 * does and how it is judged).
 *
 *   npm run chaos                               100 runs, seed 1
 *   npm run chaos -- --runs 500 --seed 7        another 500
 *   npm run chaos -- --verbose --run-seed 0x9e3779b9   replay one run with its log
 *   npm run chaos -- --lease gs                 lease mode: 3 capstan run processes on a
 *                                               gs:// (or k8s://) lease, with kills and
 *                                               lease faults (lease.ts)
 *
 * Flags: --runs N, --seed S, --run-seed S (repeatable), --time-scale X, --verbose (each
 * run's faults, progress and chaos log), --requests (with --verbose: the simulator's
 * request log too).
 * Exits 1 when any run violates an invariant of the suite.
 */
import { parseArgs } from "node:util";
import { formatLeaseChaos, runLeaseChaos } from "./lease.ts";
import { deriveSeed, parseSeed } from "./rng.ts";
import { formatRun, formatSummary, runChaos } from "./runner.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    lease: { type: "string" },
    events: { type: "string", default: "6" },
    seed: { type: "string", default: "1" },
    "run-seed": { type: "string", multiple: true },
    "time-scale": { type: "string", default: "3000" },
    verbose: { type: "boolean", default: false },
    requests: { type: "boolean", default: false },
  },
});
const lease = values.lease;
if (lease !== undefined && lease !== "gs" && lease !== "k8s")
  throw new TypeError(`--lease must be gs or k8s, got \`${lease}\``);
// Lease runs start three processes each and take a minute or two: fewer by default.
const runs = Number(values.runs ?? (lease ? 1 : 100));
const timeScale = Number(values["time-scale"]);
if (!Number.isInteger(runs) || runs < 1)
  throw new TypeError(`--runs must be an integer >= 1, got \`${values.runs}\``);
if (!(timeScale > 0))
  throw new TypeError(`--time-scale must be a number > 0, got \`${values["time-scale"]}\``);
const runSeeds = values["run-seed"]?.map(parseSeed);
const seed = parseSeed(values.seed);

if (lease) {
  let failed = false;
  const seeds = runSeeds ?? Array.from({ length: runs }, (_, i) => deriveSeed(seed, i));
  for (const s of seeds) {
    const r = await runLeaseChaos({
      scheme: lease,
      seed: s,
      events: Number(values.events),
      timeScale: values["time-scale"] === "3000" ? 10 : timeScale,
      onLine: (line) => {
        if (values.verbose) process.stdout.write(`      ${line}\n`);
      },
    });
    process.stdout.write(formatLeaseChaos(r));
    failed ||= r.splitBrain.length > 0 || r.maxLeaders > 1 || !r.converged;
  }
  process.exit(failed ? 1 : 0);
}

process.stdout.write(
  `capstan chaos: ${runSeeds ? `${runSeeds.length} replayed run(s)` : `${runs} runs, seed ${values.seed}`}, time ×${timeScale}\n`,
);
const summary = await runChaos({
  seed,
  runs,
  timeScale,
  requestLog: values.requests,
  ...(runSeeds ? { runSeeds } : {}),
  onRun: (r) => {
    process.stdout.write(`${formatRun(r)}\n`);
    if (values.verbose || r.outcome === "violated") {
      for (const f of r.faults)
        process.stdout.write(
          `      fault @${f.on === "event" ? "" : "wait "}${f.at}: ${f.detail}${f.fired ? "" : " (not fired)"}\n`,
        );
      if (r.message) process.stdout.write(`      last apply: ${r.message}\n`);
      for (const v of r.violations) process.stdout.write(`      VIOLATION ${v.kind}: ${v.message}\n`);
    }
    if (values.verbose) for (const line of r.log) process.stdout.write(`      ${line}\n`);
  },
});
process.stdout.write(formatSummary(summary));
process.exitCode = summary.violations.length > 0 ? 1 : 0;
