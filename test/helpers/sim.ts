import { createClients, type GcpClients } from "../../src/gcp/clients.ts";
import { createSimulator, type Fixture, type Simulator } from "../../src/sim/index.ts";

/** SimHarness is a simulator on an ephemeral loopback port plus real clients pointed at it. */
export interface SimHarness {
  readonly sim: Simulator;
  readonly gcp: GcpClients;
  readonly endpoint: string;
  close(): Promise<void>;
}

/**
 * startSim serves a simulator seeded with `fixture` on an ephemeral port and creates the
 * real Google clients against it. Time runs `timeScale` times faster (default 1000, so a
 * 3-minute operation takes 180 ms).
 */
export async function startSim(
  fixture: Fixture = {},
  options: { timeScale?: number; captureResponses?: boolean } = {},
): Promise<SimHarness> {
  const sim = createSimulator({
    fixture,
    timeScale: options.timeScale ?? 1000,
    captureResponses: options.captureResponses ?? false,
  });
  const endpoint = await sim.listen(0);
  const gcp = createClients({ endpoint });
  return {
    sim,
    gcp,
    endpoint,
    async close() {
      await gcp.close();
      await sim.close();
    },
  };
}
