import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import pino from "pino";
import { type ApplyReport, execute } from "../apply/execute.ts";
import { monitoringGateReader } from "../apply/gates.ts";
import { type ProgressSink, teeProgress, textProgress } from "../apply/progress.ts";
import { buildPlan } from "../plan/build.ts";
import { hasChanges } from "../plan/model.ts";
import { UserError } from "./errors.ts";
import { fingerprintPlan, loadOrExplain, renderPlan, type SavedPlan, specsHash } from "./plan.ts";
import { type RolloutReportSession, startRolloutReport } from "./report.ts";
import type { RuntimeFactory } from "./runtime.ts";

/** ApplyFlags are the flags of `capstan apply`. */
export interface ApplyFlags {
  readonly plan?: string;
  readonly autoApprove?: boolean;
  readonly logFormat: string;
  readonly report?: string;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(question);
    return answer.trim() === "yes";
  } finally {
    rl.close();
  }
}

/** jsonProgress logs progress events as structured pino lines (Cloud Logging's `severity` field). */
export function jsonProgress(): ProgressSink {
  const log = pino({
    base: { component: "capstan-apply" },
    messageKey: "message",
    formatters: { level: (label) => ({ severity: label.toUpperCase() }) },
  });
  return (e) => {
    const { type, ...fields } = e;
    const level = type === "stopped" || type === "rollback" ? "warn" : "info";
    log[level]({ event: type, ...JSON.parse(JSON.stringify(fields)) }, `apply ${type}`);
  };
}

/** renderReport prints the closing report of an apply. */
export function renderReport(report: ApplyReport): string {
  const lines = [`\nApply ${report.outcome}: ${report.message}`];
  if (report.rolledBack.length) {
    lines.push("Rolled back:");
    for (const r of report.rolledBack) lines.push(`  ${r.address} ${r.field} = ${JSON.stringify(r.value)}`);
  }
  if (report.live.length && report.outcome !== "converged") {
    lines.push("Live state now:");
    for (const r of report.live) lines.push(`  ${r.address} ${r.field} = ${JSON.stringify(r.value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** registerApply adds `capstan apply`. */
export function registerApply(program: Command, runtime: RuntimeFactory): void {
  program
    .command("apply")
    .description("converge live GCP to the specs, step by step, gated and rolled back on failure")
    .argument("[paths...]", "spec files or directories", ["specs"])
    .option(
      "--plan <file>",
      "apply exactly a plan saved by `capstan plan --out`; refuse if anything changed since",
    )
    .option("--auto-approve", "do not ask for confirmation")
    .option("--log-format <format>", "text (progress lines) or json (structured logs)", "text")
    .option(
      "--report <file.html>",
      "write a self-contained HTML rollout report: steps, waits, gate charts, capacity before and after",
    )
    .action(async (argPaths: string[], opts: ApplyFlags, cmd: Command) => {
      if (opts.logFormat !== "text" && opts.logFormat !== "json") {
        throw new UserError(`--log-format must be text or json, got \`${opts.logFormat}\``);
      }
      // `capstan apply plan.json` is the same as `--plan plan.json`, as with terraform apply PLANFILE.
      const planFile =
        opts.plan ?? (argPaths.length === 1 && argPaths[0]!.endsWith(".json") ? argPaths[0] : undefined);
      const saved = planFile ? (JSON.parse(await readFile(planFile, "utf8")) as SavedPlan) : undefined;
      if (saved && saved.kind !== "capstan.dev/saved-plan/v1") {
        throw new UserError(`${planFile} is not a plan saved by \`capstan plan --out\``);
      }
      const paths = saved ? saved.specPaths : argPaths;
      const specs = await loadOrExplain(paths, process.stderr, { liveCatalogs: true });
      const rt = await runtime(cmd, specs);
      const abort = new AbortController();
      const stop = () => {
        process.stderr.write("\nInterrupted: stopping after the call in flight…\n");
        abort.abort(new Error("interrupted"));
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      try {
        const result = await buildPlan({
          specs,
          gcp: rt.gcp,
          reconcilers: rt.reconcilers,
          clock: rt.clock,
          signal: abort.signal,
        });
        if (saved) {
          if ((await specsHash(specs)) !== saved.specsHash) {
            throw new UserError(`the specs changed since ${planFile} was saved; plan again and review`);
          }
          const now = fingerprintPlan(result);
          if (JSON.stringify(now) !== JSON.stringify({ versions: saved.versions, changes: saved.changes })) {
            throw new UserError(`live state changed since ${planFile} was saved; plan again and review`);
          }
        } else {
          process.stdout.write(renderPlan(result.plan, "text", process.stdout));
        }
        if (result.plan.summary.errors > 0) throw new UserError("the plan has errors; nothing was changed");
        const gates = monitoringGateReader(rt.gcp, rt.clock);
        const writeReport = async (session: RolloutReportSession, report: ApplyReport) => {
          const file = await session.write(report, {
            file: opts.report!,
            title: `capstan apply ${paths.join(" ")}`,
          });
          process.stdout.write(`Rollout report: ${file}\n`);
        };
        const startReport = () =>
          startRolloutReport({ result, gcp: rt.gcp, clock: rt.clock, gates, signal: abort.signal });
        if (!hasChanges(result.plan)) {
          process.stdout.write("Nothing to apply.\n");
          if (opts.report) {
            const nothing: ApplyReport = {
              outcome: "nothing-to-do",
              message: "no changes: live state matches the specs",
              steps: [],
              rolledBack: [],
              live: [],
            };
            await writeReport(await startReport(), nothing);
          }
          return;
        }
        if (!opts.autoApprove && !saved) {
          if (!process.stdin.isTTY)
            throw new UserError("refusing to apply without a terminal to confirm on; pass --auto-approve");
          if (!(await confirm("\nApply these changes? Only 'yes' will be accepted: "))) {
            throw new UserError("apply cancelled");
          }
        }
        const lines =
          opts.logFormat === "json"
            ? jsonProgress()
            : textProgress(
                (s) => process.stdout.write(s),
                () => rt.clock.now(),
              );
        const session = opts.report ? await startReport() : undefined;
        const report = await execute({
          result,
          gcp: rt.gcp,
          reconcilers: rt.reconcilers,
          clock: rt.clock,
          gates,
          progress: session ? teeProgress(lines, session.recorder.sink) : lines,
          signal: abort.signal,
        });
        process.stdout.write(renderReport(report));
        if (session) await writeReport(session, report);
        process.exitCode = report.outcome === "converged" || report.outcome === "nothing-to-do" ? 0 : 1;
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        await rt.close();
      }
    });
}
