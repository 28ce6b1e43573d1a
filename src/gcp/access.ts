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

/**
 * withReadMemo returns a Gcp that shares the answer of keyed reads (CallMeta.key) for as
 * long as it is used: a plan reads each referenced secret version once, however many
 * services reference it. Failed reads are not remembered.
 */
export function withReadMemo(gcp: Gcp): Gcp {
  const memo = new Map<string, Promise<unknown>>();
  return {
    clients: gcp.clients,
    call<T>(meta: CallMeta, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      if (meta.write || meta.key === undefined) return gcp.call(meta, fn, signal);
      const key = `${meta.api}|${meta.key}`;
      const hit = memo.get(key);
      if (hit) return hit as Promise<T>;
      const p = gcp.call(meta, fn, signal);
      memo.set(key, p);
      p.catch(() => memo.delete(key));
      return p;
    },
  };
}
