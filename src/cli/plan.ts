import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { buildPlan, type PlanResult } from "../plan/build.ts";
import { hasChanges, type Plan } from "../plan/model.ts";
import { renderJson, renderMarkdown, renderText, useColor } from "../render/index.ts";
import { loadSpecs } from "../spec/load.ts";
import type { SpecSet } from "../spec/types.ts";
import { formatProblem } from "../spec/validate.ts";
import { UserError } from "./errors.ts";
import type { RuntimeFactory } from "./runtime.ts";

/** OutputFormat is how a plan is printed. */
export type OutputFormat = "text" | "json" | "markdown";

/** parseFormat checks `--output`. */
export function parseFormat(value: string): OutputFormat {
  if (value === "text" || value === "json" || value === "markdown") return value;
  throw new UserError(`--output must be text, json or markdown, got \`${value}\``);
}

/**
 * loadOrExplain loads specs and, when any has a problem, prints every problem and throws
 * a UserError, so no command makes an API call on a broken spec set. With `liveCatalogs`
 * a problem found only by a catalog the plan reads live (Problem.catalog: Cloud SQL's
 * flags.list) does not stop the command: the plan judges it again by the live answer.
 */
export async function loadOrExplain(
  paths: readonly string[],
  out: NodeJS.WritableStream,
  options: { readonly liveCatalogs?: boolean } = {},
): Promise<SpecSet> {
  const specs = await loadSpecs(paths.length ? paths : ["specs"]);
  const fatal = options.liveCatalogs ? specs.problems.filter((p) => !p.catalog) : specs.problems;
  if (fatal.length > 0) {
    for (const p of specs.problems) out.write(`${formatProblem(p)}\n`);
    throw new UserError(`${specs.problems.length} problem(s) in the specs; nothing was read or changed`);
  }
  if (specs.resources.length === 0) throw new UserError(`no specs found in ${paths.join(", ") || "specs"}`);
  return specs;
}

/** renderPlan prints a plan in the chosen format. */
export function renderPlan(plan: Plan, format: OutputFormat, stream: { isTTY?: boolean }): string {
  if (format === "json") return renderJson(plan);
  if (format === "markdown") return renderMarkdown(plan);
  return renderText(plan, { color: useColor(stream) });
}

/**
 * SavedPlan is what `plan --out FILE` writes: the plan, the specs it came from (by
 * content hash) and every resource's concurrency token, so `apply FILE` can refuse when
 * anything changed since the review.
 */
export interface SavedPlan {
  readonly kind: "capstan.dev/saved-plan/v1";
  readonly specPaths: readonly string[];
  readonly specsHash: string;
  /** Resource full name → concurrency token when planned. */
  readonly versions: Readonly<Record<string, string | null>>;
  /** Resource full name → the changes as `field=value` lines, to compare plans. */
  readonly changes: Readonly<Record<string, readonly string[]>>;
  readonly plan: Plan;
}

/** specsHash fingerprints the content of every spec file of a set. */
export async function specsHash(specs: SpecSet): Promise<string> {
  const h = createHash("sha256");
  for (const f of [...specs.files].sort()) {
    h.update(f);
    h.update(await readFile(f));
  }
  return h.digest("hex");
}

/** fingerprintPlan extracts what must not change between a reviewed plan and its apply. */
export function fingerprintPlan(result: PlanResult): Pick<SavedPlan, "versions" | "changes"> {
  const versions: Record<string, string | null> = {};
  const changes: Record<string, string[]> = {};
  for (const p of result.planned) {
    const name = p.resource.gcpName ?? p.address;
    versions[name] = p.observed?.version ?? null;
    changes[name] = p.changes.map((c) => `${c.field}=${JSON.stringify(c.after)}`);
  }
  return { versions, changes };
}

/** registerPlan adds `capstan plan`. */
export function registerPlan(program: Command, runtime: RuntimeFactory): void {
  program
    .command("plan")
    .description("show what apply would change, in which steps, and what it costs; never writes")
    .argument("[paths...]", "spec files or directories", ["specs"])
    .option("-o, --output <format>", "text, json or markdown", "text")
    .option("--out <file>", "save the plan for `capstan apply --plan FILE`")
    .option("--detailed-exitcode", "exit 0 when there are no changes, 2 when there are, 1 on error")
    .action(
      async (
        paths: string[],
        opts: { output: string; out?: string; detailedExitcode?: boolean },
        cmd: Command,
      ) => {
        const format = parseFormat(opts.output);
        const specs = await loadOrExplain(paths, process.stderr, { liveCatalogs: true });
        const rt = await runtime(cmd, specs);
        try {
          const result = await buildPlan({
            specs,
            gcp: rt.gcp,
            reconcilers: rt.reconcilers,
            clock: rt.clock,
          });
          process.stdout.write(renderPlan(result.plan, format, process.stdout));
          if (opts.out) {
            const saved: SavedPlan = {
              kind: "capstan.dev/saved-plan/v1",
              specPaths: paths,
              specsHash: await specsHash(specs),
              ...fingerprintPlan(result),
              plan: result.plan,
            };
            await writeFile(opts.out, `${JSON.stringify(saved, null, 2)}\n`);
            process.stderr.write(
              `Saved the plan to ${opts.out}; apply exactly it with: capstan apply --plan ${opts.out}\n`,
            );
          }
          if (result.plan.summary.errors > 0) process.exitCode = 1;
          else if (opts.detailedExitcode) process.exitCode = hasChanges(result.plan) ? 2 : 0;
        } finally {
          await rt.close();
        }
      },
    );
}
