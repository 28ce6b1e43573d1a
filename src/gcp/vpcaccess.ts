import { GoogleError } from "google-gax";
import type { Gcp } from "./access.ts";
import type { GcpClients } from "./clients.ts";
import { names } from "./names.ts";
import type { OperationPoller, OperationStatus } from "./operations.ts";

/** VPC_ACCESS_API is the service name capstan's rate limits and metrics know Serverless VPC Access by. */
export const VPC_ACCESS_API = "vpcaccess.googleapis.com";

/** ConnectorChanges are the connector settings Serverless VPC Access can change in place. */
export interface ConnectorChanges {
  readonly machineType?: string | undefined;
  readonly minInstances?: number | undefined;
  readonly maxInstances?: number | undefined;
}

const DEFAULT_BASE = "https://vpcaccess.googleapis.com";

/**
 * RequestOptions are the auth client's transport (gaxios) options, named through the
 * client: importing them from gaxios picks its ESM typings, which differ from the CJS ones
 * google-auth-library uses.
 */
type RequestOptions = Parameters<GcpClients["auth"]["request"]>[0];

/** HttpFailure is the part of a gaxios error this module reads. */
interface HttpFailure {
  readonly message?: string;
  readonly response?: { readonly status?: number; readonly data?: unknown };
}

/**
 * patchConnector changes a connector's machine type and/or instance counts with the REST
 * `PATCH v1/{connector.name}?updateMask=...`
 * (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest/v1/projects.locations.connectors/patch),
 * which the Node client library does not expose, over the client's own authenticated
 * transport, inside `gcp.call` (a write in the connector's location). Only the fields
 * given are in the update mask. It resolves to the name of the long-running operation;
 * follow it with {@link connectorOperationPoller}.
 *
 * Send minInstances and maxInstances together when either changes: GCP checks
 * min < max on the request, and the Terraform provider always sends both for that reason
 * (terraform-provider-google, resourceVPCAccessConnectorUpdate).
 *
 * An API error rejects with a google-gax GoogleError, exactly as the client libraries
 * raise it: `code` (gRPC code), `httpStatusCode`, `reason`/`domain`/`errorInfoMetadata`
 * from ErrorInfo, `statusDetails`. Bad arguments reject with a TypeError before any call.
 */
export async function patchConnector(
  gcp: Gcp,
  name: string,
  changes: ConnectorChanges,
  signal?: AbortSignal,
): Promise<string> {
  const parts = names.connector.parse(name);
  if (!parts) {
    throw new TypeError(`Expected \`name\` to match ${names.connector.pattern}, got \`${name}\``);
  }
  const body: Record<string, string | number> = {};
  for (const key of ["machineType", "minInstances", "maxInstances"] as const) {
    const v = changes[key];
    if (v !== undefined) body[key] = v;
  }
  const mask = Object.keys(body);
  if (mask.length === 0) {
    throw new TypeError("Expected `changes` to set at least one of machineType, minInstances, maxInstances");
  }
  const op = await gcp.call(
    {
      api: VPC_ACCESS_API,
      method: "connectors.patch",
      write: true,
      location: parts.location,
      resource: name,
    },
    () =>
      restCall<{ name?: string }>(gcp.clients, {
        method: "PATCH",
        url: `${baseUrl(gcp.clients)}/v1/${name}`,
        params: { updateMask: mask.join(",") },
        data: body,
        signal,
      }),
    signal,
  );
  if (!op.name) throw new Error(`PATCH ${name} answered without an operation name`);
  return op.name;
}

/**
 * connectorOperationPoller reads a Serverless VPC Access operation
 * (`projects/p/locations/l/operations/id`) once per call, over the same REST transport
 * inside `gcp.call`, so polls spend capstan's read budget and waiting is paced by
 * capstan's clock rather than gax's real-time backoff timers. An API error while reading
 * rejects with a GoogleError, as in {@link patchConnector}.
 */
export function connectorOperationPoller(gcp: Gcp, operationName: string): OperationPoller {
  const parts = names.vpcAccessOperation.parse(operationName);
  if (!parts) {
    throw new TypeError(
      `Expected \`operationName\` to match ${names.vpcAccessOperation.pattern}, got \`${operationName}\``,
    );
  }
  return async (signal) => {
    const op = await gcp.call(
      {
        api: VPC_ACCESS_API,
        method: "operations.get",
        write: false,
        location: parts.location,
        resource: operationName,
      },
      () =>
        restCall<{ done?: boolean; error?: { code?: number; message?: string } }>(gcp.clients, {
          method: "GET",
          url: `${baseUrl(gcp.clients)}/v1/${operationName}`,
          signal,
        }),
      signal,
    );
    const status: OperationStatus = {
      done: op.done === true,
      error: op.error ? { code: op.error.code ?? 2, message: op.error.message ?? "" } : undefined,
    };
    return status;
  };
}

function baseUrl(gcp: GcpClients): string {
  return gcp.endpoint ?? DEFAULT_BASE;
}

async function restCall<T>(gcp: GcpClients, options: RequestOptions): Promise<T> {
  try {
    const res = await gcp.auth.request<T>({ ...options, responseType: "json", retry: false });
    return res.data;
  } catch (err) {
    throw asGoogleError(err);
  }
}

/**
 * asGoogleError turns an HTTP error answer into the GoogleError the client libraries'
 * REST transport raises for it (google-gax GoogleError.parseHttpError), so callers handle
 * library calls and REST calls alike; anything else (a GoogleError already, a transport
 * failure) is returned unchanged. Only the REST calls here need it: the
 * VpcAccessServiceClient runs on the same google-gax 6 as the other clients (package.json
 * overrides the google-gax 5 it pins, whose REST stub surfaced API errors as GaxiosErrors
 * carrying the HTTP status instead of the gRPC code).
 */
export function asGoogleError(err: unknown): unknown {
  if (err instanceof GoogleError) return err;
  const e = err as HttpFailure | undefined;
  const status = e?.response?.status;
  if (status === undefined) return err;
  const json = errorBody(e?.response?.data) ??
    errorBody(e?.message) ?? { error: { code: status, message: e?.message ?? "" } };
  const g = GoogleError.parseHttpError(json);
  g.httpStatusCode = status;
  (g as Error).cause = err;
  return g;
}

/** errorBody finds Google's `{"error": {...}}` answer in a response body, parsed or not. */
function errorBody(data: unknown): { error: Record<string, unknown> } | undefined {
  let v = data;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (v && typeof v === "object" && "error" in v && v.error && typeof v.error === "object") {
    return structuredClone(v as { error: Record<string, unknown> });
  }
  return undefined;
}
