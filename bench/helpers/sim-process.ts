import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..");

/**
 * startSimProcess serves a fixture from `capstan sim` in a child process, so the
 * simulator's memory and CPU are not counted in the benchmark's; resolves to its endpoint.
 */
export async function startSimProcess(
  fixtureFile: string,
  args: readonly string[] = [],
): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    [join(ROOT, "src/cli/capstan.ts"), "sim", "--port", "0", "-f", fixtureFile, ...args],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = /serving simulated GCP at (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`capstan sim exited with ${code}`)));
  });
  return { endpoint, child };
}
