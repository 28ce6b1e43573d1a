import { type Gcp, gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller, type GcpCallerOptions } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import type { SimHarness } from "./sim.ts";

/** ConnectOptions tune the caller of {@link connect}; its clock and limiter are always the simulator's. */
export type ConnectOptions = Omit<GcpCallerOptions, "clock" | "limiter">;

/**
 * connect returns the {@link Gcp} capstan would use against a simulator: the harness's
 * real clients behind a GcpCaller with default rate limits, on the simulator's clock.
 */
export function connect(harness: SimHarness, options: ConnectOptions = {}): Gcp {
  const clock = harness.sim.clock;
  return gcpAccess(harness.gcp, new GcpCaller({ ...options, clock, limiter: new RateLimiter({ clock }) }));
}
