import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerApply } from "./apply.ts";
import { registerDemo } from "./demo.ts";
import { UserError } from "./errors.ts";
import { registerPlan } from "./plan.ts";
import { registerRun } from "./run.ts";
import { createRuntime, parseLimits, type Runtime, simulatorNow } from "./runtime.ts";
import { registerSim } from "./sim.ts";
import { registerStatus } from "./status.ts";
import { registerValidate } from "./validate.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** buildProgram assembles the `capstan` command line. */
export function buildProgram(): Command {
  const program = new Command("capstan")
    .description("Safely converge the Google Cloud settings around a Cloud Run service to the specs in git")
    .version(pkg.version, "-v, --version")
    .option("--endpoint <url>", "send GCP API calls to this endpoint (the simulator) instead of Google")
    .option(
      "--time-scale <x>",
      "run capstan's clock this many times faster (rehearsals against `capstan sim -t X`)",
    )
    .option(
      "--limit <api:kind=perMinute>",
      "override a per-minute API budget, e.g. run.googleapis.com:write=60 (repeatable; kind is read or write)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .showHelpAfterError();
  const runtime = async (cmd: Command): Promise<Runtime> => {
    const g = cmd.optsWithGlobals<{ endpoint?: string; timeScale?: string; limit?: string[] }>();
    const endpoint = g.endpoint ?? process.env["CAPSTAN_GCP_ENDPOINT"];
    return createRuntime({
      endpoint,
      limits: parseLimits(g.limit ?? []),
      timeScale: g.timeScale === undefined ? undefined : Number(g.timeScale),
      epoch: endpoint ? await simulatorNow(endpoint) : undefined,
    });
  };
  registerSim(program);
  registerValidate(program);
  registerPlan(program, runtime);
  registerApply(program, runtime);
  registerDemo(program);
  registerRun(program);
  registerStatus(program);
  return program;
}

/** main runs the CLI and maps errors to exit codes: user errors print one clean message. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram().exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof UserError) {
      process.stderr.write(`capstan: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
