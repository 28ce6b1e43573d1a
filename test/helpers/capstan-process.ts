import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import type { ControllerStatus } from "../../src/controller/status.ts";
import { parseStrict } from "./strict-json.ts";

/** ROOT is the repository. */
export const ROOT = join(import.meta.dirname, "..", "..");
/** CLI is capstan's entry point. */
export const CLI = join(ROOT, "src", "cli", "capstan.ts");

/** Child is a `capstan run` child process, its JSON log lines and its status port. */
export interface Child {
  readonly proc: ChildProcess;
  readonly logs: Record<string, unknown>[];
  readonly port: Promise<number>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  status(): Promise<ControllerStatus>;
  metric(prefix: string): Promise<number>;
}

/**
 * spawnCapstan starts `capstan ARGS` as a real child process (the Node running the
 * tests, on the CLI's entry point) and collects its JSON log lines; `port` resolves once
 * it logs "serving status".
 */
export function spawnCapstan(
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv } = {},
): Child {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  let buffer = "";
  let portFound: (p: number) => void;
  let portFailed: (e: Error) => void;
  const port = new Promise<number>((resolve, reject) => {
    portFound = resolve;
    portFailed = reject;
  });
  proc.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      // Strict: a line with two `message` keys (a field named like pino's message key)
      // fails the test here instead of losing one of them in Cloud Logging.
      const entry = parseStrict(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry["message"] === "serving status") portFound(entry["port"] as number);
    }
  });
  proc.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on("exit", (code, signal) => {
      portFailed(new Error(`capstan exited (${code ?? signal}) before serving: ${stderr}`));
      resolve({ code, signal });
    });
  });
  const url = async (path: string) => `http://127.0.0.1:${await port}${path}`;
  return {
    proc,
    logs,
    port,
    exited,
    status: async () => (await (await fetch(await url("/status"))).json()) as ControllerStatus,
    metric: async (prefix: string) => {
      const text = await (await fetch(await url("/metrics"))).text();
      return text
        .split("\n")
        .filter((l) => l.startsWith(prefix))
        .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
    },
  };
}
