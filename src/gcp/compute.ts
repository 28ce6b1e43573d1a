import type { protos } from "@google-cloud/compute";
import type { Gcp } from "./access.ts";
import { gaxCallOptions } from "./call.ts";
import { names } from "./names.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

type IOperation = protos.google.cloud.compute.v1.IOperation;
type IBackendService = protos.google.cloud.compute.v1.IBackendService;
type IHealthCheck = protos.google.cloud.compute.v1.IHealthCheck;

/** COMPUTE_API is the service name capstan's rate limits and metrics know Compute Engine by. */
export const COMPUTE_API = "compute.googleapis.com";

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

/**
 * HEALTH_CHECK_SUB_MESSAGE names the message that carries a health check's port and
 * path for each type: "Exactly one of the protocol-specific health check fields must be
 * specified, which must match type field" (HealthCheck.type in
 * google/cloud/compute/v1/compute.proto; the REST reference,
 * https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks, names them alike).
 */
export const HEALTH_CHECK_SUB_MESSAGE = {
  HTTP: "httpHealthCheck",
  HTTPS: "httpsHealthCheck",
  HTTP2: "http2HealthCheck",
  TCP: "tcpHealthCheck",
  SSL: "sslHealthCheck",
  GRPC: "grpcHealthCheck",
  GRPC_WITH_TLS: "grpcTlsHealthCheck",
} as const satisfies Readonly<Record<string, keyof IHealthCheck>>;

/**
 * HEALTH_CHECK_DEFAULT_PORT is the port Compute uses when a check's sub-message has none:
 * "The default value is 80" (HTTPHealthCheck, TCPHealthCheck) and 443 (HTTPSHealthCheck,
 * HTTP2HealthCheck, SSLHealthCheck), compute.proto. gRPC checks document no default.
 */
export const HEALTH_CHECK_DEFAULT_PORT: Readonly<Partial<Record<string, number>>> = {
  HTTP: 80,
  HTTPS: 443,
  HTTP2: 443,
  TCP: 80,
  SSL: 443,
};

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
 * real timers and is not supported for Compute's extended operations anyway. Each read
 * goes through `gcp.call`, so polls spend capstan's read budget and are retried on its
 * clock, never by gax.
 */
export function computeOperationPoller(
  gcp: Gcp,
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
    const request = { project, operation };
    const ops = gcp.clients.compute.globalOperations;
    const [op] = await gcp.call(
      {
        api: COMPUTE_API,
        method: `globalOperations.${method}`,
        write: false,
        location: "global",
        // `wait` answers when the operation is done or after about 2 minutes.
        ...(method === "wait" ? { deadlineMs: 150_000 } : {}),
      },
      () => (method === "wait" ? ops.wait(request, gaxCallOptions()) : ops.get(request, gaxCallOptions())),
      signal,
    );
    return operationStatusOf(op);
  };
}

/**
 * isServerlessBackendService tells whether a backend service's backends are serverless
 * NEGs, which changes what may be set on it (no timeoutSec, health checks or portName:
 * see src/gcp/catalog/compute.ts). Only regional NEG backends are looked up, each through
 * `gcp.call`; a service without backends is not serverless.
 */
export async function isServerlessBackendService(gcp: Gcp, bs: IBackendService): Promise<boolean> {
  for (const b of bs.backends ?? []) {
    const rel = b.group ? relativeComputeName(b.group) : undefined;
    const neg = rel ? names.computeRegionNeg.parse(rel) : undefined;
    if (!neg) continue;
    const [got] = await gcp.call(
      { api: COMPUTE_API, method: "regionNetworkEndpointGroups.get", write: false, location: neg.region },
      () => gcp.clients.compute.regionNetworkEndpointGroups.get(neg, gaxCallOptions()),
    );
    if (got.networkEndpointType === "SERVERLESS") return true;
  }
  return false;
}
