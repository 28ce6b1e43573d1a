import type { Command } from "commander";
import { createSimulator, loadFixture } from "../sim/index.ts";
import { UserError } from "./errors.ts";

/** registerSim adds `capstan sim`. */
export function registerSim(program: Command): void {
  program
    .command("sim")
    .description("serve the GCP simulator on loopback until interrupted")
    .option("-p, --port <port>", "port to listen on (0 picks a free one)", "8089")
    .option("-f, --fixture <file>", "YAML fixture with the initial state", "fixtures/example.yaml")
    // `--time-scale X` (or `-t X`) is the global option, read here: a subcommand option of
    // the same name never sees its value, since the program's takes it.
    .action(async (opts: { port: string; fixture: string }, cmd: Command) => {
      const given = cmd.optsWithGlobals<{ timeScale?: string }>().timeScale;
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UserError(`--port must be an integer from 0 to 65535, got \`${opts.port}\``);
      }
      const timeScale = given === undefined ? undefined : Number(given);
      if (timeScale !== undefined && !(timeScale > 0)) {
        throw new UserError(`--time-scale must be a number > 0, got \`${given}\``);
      }
      const fixture = await loadFixture(opts.fixture).catch((err: Error) => {
        throw new UserError(`could not read fixture ${opts.fixture}: ${err.message}`);
      });
      const sim = createSimulator({ fixture, ...(timeScale ? { timeScale } : {}) });
      const endpoint = await sim.listen(port);
      process.stdout.write(
        `capstan sim: serving simulated GCP at ${endpoint} (time scale ${sim.clock.scale})\n` +
          `Point capstan at it with:\n  export CAPSTAN_GCP_ENDPOINT=${endpoint}${sim.clock.scale === 1 ? "" : ` CAPSTAN_TIME_SCALE=${sim.clock.scale}`}\n` +
          `Control API: ${endpoint}/__sim/state, /__sim/faults, /__sim/requests (see README)\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await sim.close();
    });
}
