import type { CallMeta, GcpCaller } from "./call.ts";
import type { GcpClients } from "./clients.ts";

/**
 * Gcp is how reconcilers reach GCP: the clients, and `call`, which every API call goes
 * through so it is rate limited, retried on capstan's clock and counted.
 */
export interface Gcp {
  readonly clients: GcpClients;
  /** call runs one API call under the caller's rules (see GcpCaller.call). */
  call<T>(meta: CallMeta, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

/** gcpAccess binds clients and a caller into a {@link Gcp}. */
export function gcpAccess(clients: GcpClients, caller: GcpCaller): Gcp {
  return { clients, call: (meta, fn, signal) => caller.call(meta, fn, signal) };
}
