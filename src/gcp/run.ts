import type { protos } from "@google-cloud/run";
import type { Gcp } from "./access.ts";
import { gaxCallOptions } from "./call.ts";
import { names } from "./names.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

/** RUN_API is the service name capstan's rate limits and metrics know the Cloud Run Admin API by. */
export const RUN_API = "run.googleapis.com";

/**
 * runOperationPoller returns a poller that reads one Cloud Run Admin API v2 operation
 * (`projects/{project}/locations/{location}/operations/{id}`) once per call, through the
 * Services client's operations mixin (`getOperation`: one GetOperation) inside
 * `gcp.call`, so each poll spends capstan's read budget in the operation's location and
 * is retried on its clock, and translates it into the API-neutral
 * {@link OperationStatus}. It never asks gax to follow the operation: waiting is left to
 * {@link waitForOperation} and its Clock, so it follows scaled time instead of gax's
 * wall-clock timers. Create, update and delete operations all carry `done` and `error`
 * alike, so one reading serves them all. A failed operation surfaces `error.code` (a
 * google.rpc.Code number) and GCP's message, e.g. 9 "Revision 'api-00007-x2k' is not
 * ready and cannot serve traffic. ...".
 */
export function runOperationPoller(gcp: Gcp, operationName: string): OperationPoller {
  const location = names.runOperation.parse(operationName)?.location;
  return async (signal?: AbortSignal): Promise<OperationStatus> => {
    signal?.throwIfAborted();
    const [op] = await gcp.call(
      { api: RUN_API, method: "operations.get", write: false, location, resource: operationName },
      () =>
        gcp.clients.run.services.getOperation(
          // A plain request: gax encodes it as JSON, as it would the generated class.
          { name: operationName } as protos.google.longrunning.GetOperationRequest,
          gaxCallOptions(),
        ),
      signal,
    );
    signal?.throwIfAborted();
    if (!op.done) return { done: false };
    const error = op.error;
    if (error && (error.code ?? 0) !== 0) {
      return { done: true, error: { code: Number(error.code), message: String(error.message ?? "") } };
    }
    return { done: true };
  };
}
