import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { type ExplainSink, explain } from "../gcp/explain.ts";
import { registerApply } from "./apply.ts";
import { registerDemo } from "./demo.ts";
import { registerDoctor } from "./doctor.ts";
import { UserError } from "./errors.ts";
import { registerPlan } from "./plan.ts";
import { registerRun } from "./run.ts";
import { openRuntime, type RuntimeFactory, runtimeOptionsOf } from "./runtime.ts";
import { registerSim } from "./sim.ts";
import { registerStatus } from "./status.ts";
import { registerValidate } from "./validate.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/**
 * buildProgram assembles the `capstan` command line. `context` is filled with what the
 * runtime learns (the endpoint, the credentials), so a failure can be explained with it.
 */
export function buildProgram(context: ExplainSink = {}): Command {
  const program = new Command("capstan")
    .description("Safely converge the Google Cloud settings around a Cloud Run service to the specs in git")
    .version(pkg.version, "-v, --version")
    .option("--endpoint <url>", "send GCP API calls to this endpoint (the simulator) instead of Google")
    .option(
      "-t, --time-scale <x>",
      "run the clock this many times faster: capstan's, or the simulator's for `capstan sim` (rehearsals)",
    )
    .option(
      "--limit <api:category=perMinute>",
      "override a per-minute API budget, e.g. run.googleapis.com:write=60 or sqladmin.googleapis.com:mutate=60 (repeatable; category read, write or one of the API's quota categories)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .showHelpAfterError();
  const runtime: RuntimeFactory = async (cmd, specs) => {
    const options = runtimeOptionsOf(cmd);
    context.endpoint = options.endpoint;
    const rt = await openRuntime({ ...options, projectId: specs?.resources[0]?.metadata.project });
    context.credentials = rt.credentials;
    return rt;
  };
  registerSim(program);
  registerValidate(program);
  registerPlan(program, runtime);
  registerApply(program, runtime);
  registerDoctor(program, context);
  registerDemo(program);
  registerRun(program, context);
  registerStatus(program);
  return program;
}

/**
 * main runs the CLI and maps errors to exit codes. A user error, a GCP failure and a
 * credentials failure each print one message saying what failed and what to do, never a
 * stack trace; anything else is a bug in capstan, reported as one (its stack with
 * CAPSTAN_DEBUG=1).
 */
export async function main(argv: string[]): Promise<number> {
  const context: ExplainSink = {};
  const program = buildProgram(context).exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      process.stderr.write(`capstan: ${err.message}\n`);
      return err.exitCode;
    }
    const explained = explain(err, context);
    if (explained) {
      process.stderr.write(`capstan: ${explained.summary}\n  to fix: ${explained.fix}\n`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(
      `capstan: internal error: ${message}\n  this is a bug in capstan; please report it${process.env["CAPSTAN_DEBUG"] ? "" : " (CAPSTAN_DEBUG=1 prints its stack)"}\n`,
    );
    if (process.env["CAPSTAN_DEBUG"] && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
