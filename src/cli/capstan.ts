import { main } from "./main.ts";

// The executable entry: kept apart from main.ts so tests can import main without running it.
const code = await main(process.argv);
// A command that failed may leave retries of its other calls waiting on timers: once its
// output is flushed, they must not keep the process (and the user) waiting.
await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
await new Promise<void>((resolve) => process.stderr.write("", () => resolve()));
process.exit(code);
