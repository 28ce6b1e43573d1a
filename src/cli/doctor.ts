import type { Command } from "commander";
import { type Check, type DoctorReport, runDoctor } from "../gcp/doctor.ts";
import type { ExplainSink } from "../gcp/explain.ts";
import { type Command as CapstanCommand, COMMANDS } from "../gcp/permissions.ts";
import { UserError } from "./errors.ts";
import { loadOrExplain } from "./plan.ts";
import { openRuntime, runtimeOptionsOf } from "./runtime.ts";

const MARK: Record<Check["status"], string> = { ok: "ok", missing: "MISSING", error: "ERROR", note: "note" };

/** renderDoctor prints the report as a table: one row per check, with its fix. */
export function renderDoctor(report: DoctorReport): string {
  const rows = report.checks.map((c) => [
    MARK[c.status],
    c.project ? `${c.check} (${c.project})` : c.check,
    c.detail,
  ]);
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length), 0);
  const w0 = width(0);
  const w1 = Math.min(width(1), 48);
  const lines: string[] = [];
  report.checks.forEach((c, i) => {
    const [mark, what, detail] = rows[i]!;
    lines.push(`${mark!.padEnd(w0)}  ${what!.padEnd(w1)}  ${detail}`);
    if (c.fix && c.status !== "ok") lines.push(`${"".padEnd(w0)}  ${"".padEnd(w1)}  fix: ${c.fix}`);
  });
  const blocking = report.checks.filter((c) => c.blocking && c.status !== "ok").length;
  lines.push(
    "",
    report.ok
      ? `Everything \`capstan ${report.command}\` needs is in place.`
      : `${blocking} thing(s) \`capstan ${report.command}\` needs are missing; run each fix above, then \`capstan doctor\` again.`,
  );
  return `${lines.join("\n")}\n`;
}

/** registerDoctor adds `capstan doctor`. */
export function registerDoctor(program: Command, context: ExplainSink): void {
  program
    .command("doctor")
    .description("check credentials, projects, enabled APIs and IAM permissions before the first plan")
    .argument("[paths...]", "spec files or directories", ["specs"])
    .option("--for <command>", `the command to check for: ${COMMANDS.join(", ")}`, "plan")
    .option("-o, --output <format>", "text or json", "text")
    .action(async (paths: string[], opts: { for: string; output: string }, cmd: Command) => {
      if (!(COMMANDS as readonly string[]).includes(opts.for)) {
        throw new UserError(`--for must be one of ${COMMANDS.join(", ")}, got \`${opts.for}\``);
      }
      if (opts.output !== "text" && opts.output !== "json") {
        throw new UserError(`--output must be text or json, got \`${opts.output}\``);
      }
      const specs = await loadOrExplain(paths, process.stderr, { liveCatalogs: true });
      const options = runtimeOptionsOf(cmd);
      context.endpoint = options.endpoint;
      // Credentials are doctor's first check, not a precondition: it reports them as a row.
      const rt = await openRuntime({
        ...options,
        projectId: specs.resources[0]?.metadata.project,
        credentials: "skip",
      });
      try {
        const report = await runDoctor({
          gcp: rt.gcp,
          resources: specs.resources,
          command: opts.for as CapstanCommand,
          endpoint: options.endpoint,
        });
        process.stdout.write(
          opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report),
        );
        process.exitCode = report.ok ? 0 : 1;
      } finally {
        await rt.close();
      }
    });
}
