import type { GcpClients } from "./clients.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

/**
 * runOperationPoller returns a poller that reads one Cloud Run Admin API v2 operation
 * (`projects/{project}/locations/{location}/operations/{id}`) once per call, through the
 * Services client (`checkUpdateServiceProgress`: one GetOperation on the operations
 * mixin), and translates it into the API-neutral {@link OperationStatus}. The gax
 * Operation it gets back only polls by itself once a listener is attached, which this
 * never does: waiting is left to {@link waitForOperation} and its Clock, so it follows
 * scaled time instead of gax's wall-clock timers. Create, update and delete operations
 * all carry a Service, so one decoder serves them all. A failed operation surfaces
 * `error.code` (a google.rpc.Code number) and GCP's message, e.g. 9 "Revision
 * 'api-00007-x2k' is not ready and cannot serve traffic. ...".
 */
export function runOperationPoller(gcp: GcpClients, operationName: string): OperationPoller {
  return async (signal?: AbortSignal): Promise<OperationStatus> => {
    signal?.throwIfAborted();
    const op = await gcp.run.services.checkUpdateServiceProgress(operationName);
    signal?.throwIfAborted();
    if (!op.done) return { done: false };
    const error = op.error as { readonly code?: number | null; readonly message?: string | null } | undefined;
    if (error && (error.code ?? 0) !== 0) {
      return { done: true, error: { code: Number(error.code), message: String(error.message ?? "") } };
    }
    return { done: true };
  };
}
