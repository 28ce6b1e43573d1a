import type { protos } from "@google-cloud/compute";
import type { GcpClients } from "./clients.ts";
import { names } from "./names.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

type IOperation = protos.google.cloud.compute.v1.IOperation;
type IBackendService = protos.google.cloud.compute.v1.IBackendService;

/**
 * COMPUTE_URL_BASE is the prefix of every Compute Engine `selfLink`, `targetLink` and
 * resource reference the API returns (https://cloud.google.com/compute/docs/reference/rest/v1).
 */
export const COMPUTE_URL_BASE = "https://www.googleapis.com/compute/v1/";

/** computeUrl turns a relative name (`projects/p/global/healthChecks/hc`) into the URL the API stores. */
export function computeUrl(relativeName: string): string {
  return COMPUTE_URL_BASE + relativeName.replace(/^\/+/, "");
}

/**
 * relativeComputeName turns any form Compute accepts for a reference (a full URL on
 * either host, `/compute/v1/projects/...`, or `projects/...`) into the relative name
 * `projects/...`, or undefined when it is none of these.
 */
export function relativeComputeName(reference: string): string | undefined {
  const m = /^(?:https?:\/\/[^/]+)?\/?(?:compute\/(?:v1|beta|alpha)\/)?(projects\/.+)$/.exec(reference);
  return m?.[1];
}

// Compute operations carry an HTTP status; OperationStatus wants a google.rpc.Code, mapped as
// https://cloud.google.com/apis/design/errors#handling_errors does.
const RPC_CODE_OF_HTTP: Readonly<Record<number, number>> = {
  400: 3,
  401: 16,
  403: 7,
  404: 5,
  409: 10,
  412: 9,
  416: 11,
  429: 8,
  499: 1,
  500: 13,
  501: 12,
  503: 14,
  504: 4,
};

/**
 * operationStatusOf maps a `compute#operation` to the API-neutral status. An operation is
 * done when its status is DONE; it failed when `error.errors[]` is not empty
 * (https://cloud.google.com/compute/docs/api/how-tos/api-requests-responses#handling_api_responses).
 * The status may arrive as its name or as its enum number, depending on the client's
 * enum encoding.
 */
export function operationStatusOf(op: IOperation): OperationStatus {
  const status = op.status as unknown;
  const done = status === "DONE" || status === 2104194;
  const errors = op.error?.errors ?? [];
  if (!done || errors.length === 0) return { done };
  const http = Number(op.httpErrorStatusCode ?? 0);
  const message = errors
    .map((e) => (e.code ? `${e.code}: ${e.message ?? ""}` : (e.message ?? "")))
    .join("; ");
  return {
    done,
    error: {
      code: RPC_CODE_OF_HTTP[http] ?? 2,
      message: message || (op.httpErrorMessage ?? "operation failed"),
    },
  };
}

/** Options of {@link computeOperationPoller}. */
export interface ComputeOperationPollerOptions {
  /**
   * `get` reads the operation once per poll; `wait` asks the API to hold the call until the
   * operation is DONE or about two minutes passed
   * (https://cloud.google.com/compute/docs/reference/rest/v1/globalOperations/wait), so a
   * poll may take that long.
   * @default "get"
   */
  readonly method?: "get" | "wait";
}

/**
 * computeOperationPoller reads a global Compute operation, for {@link waitForOperation}.
 * capstan polls on its own clock instead of the client's `operation.promise()`, which uses
 * real timers and is not supported for Compute's extended operations anyway.
 */
export function computeOperationPoller(
  gcp: GcpClients,
  project: string,
  operation: string,
  options: ComputeOperationPollerOptions = {},
): OperationPoller {
  const method = options.method ?? "get";
  if (method !== "get" && method !== "wait") {
    throw new TypeError(`Expected \`method\` to be "get" or "wait", got \`${String(method)}\``);
  }
  return async (signal) => {
    // gax calls take no AbortSignal: honour it between calls.
    signal?.throwIfAborted();
    const call = { project, operation };
    const [op] =
      method === "wait"
        ? await gcp.compute.globalOperations.wait(call)
        : await gcp.compute.globalOperations.get(call);
    return operationStatusOf(op);
  };
}

/**
 * isServerlessBackendService tells whether a backend service's backends are serverless
 * NEGs, which changes what may be set on it (no timeoutSec, health checks or portName:
 * see src/gcp/catalog/compute.ts). Only regional NEG backends are looked up; a service
 * without backends is not serverless.
 */
export async function isServerlessBackendService(gcp: GcpClients, bs: IBackendService): Promise<boolean> {
  for (const b of bs.backends ?? []) {
    const rel = b.group ? relativeComputeName(b.group) : undefined;
    const neg = rel ? names.computeRegionNeg.parse(rel) : undefined;
    if (!neg) continue;
    const [got] = await gcp.compute.regionNetworkEndpointGroups.get({
      project: neg.project,
      region: neg.region,
      networkEndpointGroup: neg.networkEndpointGroup,
    });
    if (got.networkEndpointType === "SERVERLESS") return true;
  }
  return false;
}
