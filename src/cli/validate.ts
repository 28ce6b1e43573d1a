import type { Command } from "commander";
import { loadSpecs } from "../spec/load.ts";
import { formatProblem } from "../spec/validate.ts";
import { UserError } from "./errors.ts";

/** ValidateFormat is how `capstan validate` prints its findings. */
export type ValidateFormat = "text" | "json";

/** Options of {@link runValidate}. */
export interface ValidateOptions {
  /**
   * Output format.
   * @default "text"
   */
  readonly output?: ValidateFormat;
  /**
   * Where the report goes.
   * @default process.stdout
   */
  readonly out?: NodeJS.WritableStream;
  /**
   * Project and region for specs that get neither from their document nor from a
   * `capstan.yaml`.
   * @default {}
   */
  readonly defaults?: { readonly project?: string; readonly region?: string };
}

/**
 * runValidate checks the specs under `paths` offline (schemas, references, GCP platform
 * rules) and prints every problem as `file:line:col  Kind/name  message`, then a
 * summary. It creates no GCP client and needs no credentials. It throws a UserError
 * (exit 1) when there is any problem.
 */
export async function runValidate(paths: readonly string[], options: ValidateOptions = {}): Promise<void> {
  const out = options.out ?? process.stdout;
  const set = await loadSpecs(paths.length ? paths : ["specs/"], {
    ...(options.defaults ? { defaults: options.defaults } : {}),
  });
  const files = new Set(set.problems.map((p) => p.file));
  if (options.output === "json") {
    out.write(
      `${JSON.stringify(
        {
          valid: set.problems.length === 0,
          files: set.files,
          resources: set.resources.map((r) => ({
            kind: r.kind,
            name: r.metadata.name,
            id: r.id,
            file: r.file,
          })),
          problems: set.problems,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    for (const p of set.problems) out.write(`${formatProblem(p)}\n`);
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (set.problems.length > 0) {
    throw new UserError(
      `${plural(set.problems.length, "problem")} in ${plural(files.size, "file")} (${plural(set.files.length, "spec file")} checked); nothing was sent to GCP`,
    );
  }
  if (options.output !== "json") {
    out.write(
      `capstan validate: ${plural(set.resources.length, "spec")} in ${plural(set.files.length, "file")} OK\n`,
    );
  }
}

/** registerValidate adds `capstan validate`. */
export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check specs offline (schemas, references, GCP platform rules); needs no credentials")
    .argument("[paths...]", "spec files or directories", [])
    .option("-o, --output <format>", "text or json", "text")
    .option("--project <id>", "project for specs that set none (nor does any capstan.yaml)")
    .option("--region <region>", "region for specs that set none (nor does any capstan.yaml)")
    .action(async (paths: string[], opts: { output: string; project?: string; region?: string }) => {
      if (opts.output !== "text" && opts.output !== "json") {
        throw new UserError(`--output must be text or json, got \`${opts.output}\``);
      }
      await runValidate(paths, {
        output: opts.output,
        defaults: {
          ...(opts.project ? { project: opts.project } : {}),
          ...(opts.region ? { region: opts.region } : {}),
        },
      });
    });
}
