import type { Command } from "commander";
import { type ControllerStatus, renderStatus } from "../controller/index.ts";
import { UserError } from "./errors.ts";

/** DEFAULT_STATUS_URL is where `capstan status` looks when not told: a local `capstan run` on its default port. */
export const DEFAULT_STATUS_URL = "http://127.0.0.1:8080";

/**
 * fetchStatus reads the status document of a running `capstan run` at `base` (its
 * endpoint's root URL) and checks that it is one.
 */
export async function fetchStatus(base: string): Promise<ControllerStatus> {
  let url: URL;
  try {
    url = new URL("/status", base);
  } catch {
    throw new UserError(`--url must be a URL like ${DEFAULT_STATUS_URL}, got \`${base}\``);
  }
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new UserError(`could not reach capstan run at ${url}: ${(err as Error).message}; is it running?`);
  }
  if (!res.ok) throw new UserError(`${url} answered ${res.status} ${res.statusText}`);
  const body = (await res.json().catch(() => undefined)) as ControllerStatus | undefined;
  if (body?.kind !== "capstan.dev/run-status/v1")
    throw new UserError(`${url} is not a capstan run status endpoint`);
  return body;
}

/** registerStatus adds `capstan status`. */
export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("print the status of every resource from a running `capstan run`")
    .option(
      "--url <url>",
      "the endpoint of `capstan run` (its --port)",
      process.env["CAPSTAN_STATUS_URL"] ?? DEFAULT_STATUS_URL,
    )
    .option("-o, --output <format>", "table or json", "table")
    .action(async (opts: { url: string; output: string }) => {
      if (opts.output !== "table" && opts.output !== "json") {
        throw new UserError(`--output must be table or json, got \`${opts.output}\``);
      }
      const status = await fetchStatus(opts.url);
      process.stdout.write(
        opts.output === "json" ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status),
      );
    });
}
