import type { Command } from "commander";
import { type ApplyReport, execute, gateTargets } from "../apply/execute.ts";
import { gatePasses, monitoringGateReader } from "../apply/gates.ts";
import { teeProgress, textProgress } from "../apply/progress.ts";
import { buildPlan } from "../plan/build.ts";
import { formatMetricValue, formatTarget, metricLabel } from "../render/criteria.ts";
import { renderText, useColor } from "../render/index.ts";
import { createSimulator, loadFixture } from "../sim/index.ts";
import { loadSpecs } from "../spec/load.ts";
import type { Resource } from "../spec/types.ts";
import { formatProblem } from "../spec/validate.ts";
import { UserError } from "./errors.ts";
import { startRolloutReport } from "./report.ts";
import { createRuntime } from "./runtime.ts";

/** DemoOptions are the flags of `capstan demo`. */
export interface DemoOptions {
  readonly fixture: string;
  readonly specs: string;
  readonly literal: string;
  readonly report: string;
}

const MINUTE = 60_000;

/**
 * registerDemo adds `capstan demo`, what `npm start` runs: the Golden Path on the
 * embedded simulator. It starts the simulator with the degraded staging state, shows
 * that the remediation plan's literal numbers are refused, plans the corrected specs
 * (steps and capacity arithmetic), applies them with live progress, and ends with the
 * success criteria before and after, measured through Cloud Monitoring as gates read them,
 * and writes the rollout report (`rollout.html`).
 */
export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "run the Golden Path on the embedded simulator: plan, apply, and measure the success criteria",
    )
    .option(
      "--fixture <file>",
      "simulator fixture with the degraded live state",
      "fixtures/staging-degraded.yaml",
    )
    .option("--specs <dir>", "the remediation as specs", "specs/staging")
    .option(
      "--literal <dir>",
      "the plan's literal numbers, to show what capstan refuses",
      "test/fixtures/golden-path/literal-plan",
    )
    .option("--report <file.html>", "where to write the rollout report", "rollout.html")
    // --time-scale is the global option (a subcommand option of the same name would never
    // see its value: the program's takes it); the demo's own default is 3000.
    .action(async (opts: DemoOptions, cmd: Command) => {
      const given = cmd.optsWithGlobals<{ timeScale?: string }>().timeScale ?? "3000";
      const scale = Number(given);
      if (!(scale > 0)) throw new UserError(`--time-scale must be a number > 0, got \`${given}\``);
      const out = (s = "") => process.stdout.write(`${s}\n`);
      const color = useColor(process.stdout);
      const heading = (s: string) => out(color ? `\n\x1b[1m== ${s}\x1b[0m` : `\n== ${s}`);
      const realStart = performance.now();

      const sim = createSimulator({ fixture: await loadFixture(opts.fixture), timeScale: scale });
      const endpoint = await sim.listen(0);
      const rt = createRuntime({ endpoint, clock: sim.clock });
      try {
        heading("The situation");
        out("Staging: Cloud Run `backend` behind an external HTTP(S) load balancer (serverless NEG),");
        out("egress through a VPC connector, Cloud SQL PostgreSQL. Bursts saturate the connector,");
        out("the database runs out of connections and requests fail. The simulator, seeded with");
        out(`${opts.fixture}, models that load; time runs ${scale}× faster.`);

        heading("1. capstan checks the plan's own numbers before touching anything");
        const literal = await loadSpecs([opts.literal]);
        out(`  capstan validate ${opts.literal}`);
        for (const p of literal.problems) out(`    ${formatProblem(p)}`);
        // The documents that did load are still planned, to show the capacity arithmetic.
        const refused = await buildPlan({
          specs: literal,
          gcp: rt.gcp,
          reconcilers: rt.reconcilers,
          clock: rt.clock,
        });
        out(`  capstan plan ${opts.literal}`);
        for (const p of refused.plan.problems) if (!p.source) out(`    refused: ${p.message}`);
        out(`  → the literal plan is refused; ${opts.specs} is the corrected, consistent version.`);

        const specs = await loadSpecs([opts.specs]);
        if (specs.problems.length) {
          for (const p of specs.problems) out(formatProblem(p));
          throw new UserError(`${opts.specs} has problems`);
        }
        const policy = specs.resources.find(
          (r): r is Resource<"CapacityPolicy"> => r.kind === "CapacityPolicy",
        );
        if (!policy) throw new UserError(`${opts.specs} has no CapacityPolicy with the success criteria`);

        // Let the load model run one burst cycle so the criteria have data.
        await rt.clock.sleep(20 * MINUTE);
        heading(`2. capstan plan ${opts.specs}`);
        const result = await buildPlan({ specs, gcp: rt.gcp, reconcilers: rt.reconcilers, clock: rt.clock });
        process.stdout.write(renderText(result.plan, { color }));
        if (result.plan.summary.errors > 0) throw new UserError("the plan has errors");
        // The success criteria are the gates of the policy, each on the resource its metric describes.
        const targets = gateTargets(result, undefined);
        const gates = monitoringGateReader(rt.gcp, rt.clock);
        const measure = () => Promise.all(targets.map((t) => gates(t.gate, t.subject)));
        const before = await measure();

        heading(`3. capstan apply ${opts.specs} --auto-approve`);
        const session = await startRolloutReport({ result, gcp: rt.gcp, clock: rt.clock, gates, before });
        const report: ApplyReport = await execute({
          result,
          gcp: rt.gcp,
          reconcilers: rt.reconcilers,
          clock: rt.clock,
          gates,
          progress: teeProgress(
            textProgress(
              (s) => process.stdout.write(s),
              () => rt.clock.now(),
            ),
            session.recorder.sink,
          ),
        });
        out(`\nApply ${report.outcome}: ${report.message}`);

        // One more burst cycle on the new settings, then measure again.
        await rt.clock.sleep(20 * MINUTE);
        const after = await measure();

        heading("4. Success criteria, measured through Cloud Monitoring");
        const rows = targets.map(({ gate: g }, i) => ({
          name: metricLabel(g.metric),
          target: formatTarget(g),
          before: formatMetricValue(g.metric, before[i]),
          after: formatMetricValue(g.metric, after[i]),
          met: gatePasses(g, after[i]) && after[i] !== undefined,
        }));
        const w = [34, 10, 10, 10];
        out(
          `  ${"criterion".padEnd(w[0]!)} ${"target".padEnd(w[1]!)} ${"before".padEnd(w[2]!)} ${"after".padEnd(w[3]!)} met`,
        );
        for (const r of rows) {
          out(
            `  ${r.name.padEnd(w[0]!)} ${r.target.padEnd(w[1]!)} ${r.before.padEnd(w[2]!)} ${r.after.padEnd(w[3]!)} ${r.met ? "yes" : "NO"}`,
          );
        }
        const allMet = rows.every((r) => r.met) && report.outcome === "converged";
        out(
          `\n${allMet ? "All success criteria met." : "Not every success criterion is met."} ` +
            `(${((performance.now() - realStart) / 1000).toFixed(1)} s real, ${sim.requests().length} API calls)`,
        );
        const file = await session.write(report, {
          file: opts.report,
          title: `capstan demo: capstan apply ${opts.specs}`,
          after,
        });
        out(`Rollout report (steps, waits, gate charts, capacity before and after): ${file}`);
        out(
          "Adapt specs/staging to your project and run `capstan plan specs/staging` against real GCP (see README).",
        );
        process.exitCode = allMet ? 0 : 1;
      } finally {
        await rt.close();
        await sim.close();
      }
    });
}
