import { API_TITLES } from "../../gcp/permissions.ts";
import type { QuotaCategory } from "../../gcp/quotas.ts";
import { SimError, type Status } from "./errors.ts";

/**
 * GCP's error answers, in each API's own format, for the failures capstan must explain
 * (src/gcp/errors.ts reads them back). The format is Google's JSON error model
 * (https://cloud.google.com/apis/design/errors#http_mapping): `{"error": {code, message,
 * status, details}}` with google.rpc error details (googleapis google/rpc/error_details.proto:
 * ErrorInfo, RetryInfo, BadRequest, Help, LocalizedMessage), plus, for the APIs that
 * still send it, the legacy `errors[]` of `{message, domain, reason}`
 * (https://cloud.google.com/compute/docs/reference/rest/v1#error-messages; Cloud SQL
 * Admin, https://cloud.google.com/sql/docs/postgres/admin-api-error-messages).
 *
 * Errors the front end (ESF) raises for every API (401, SERVICE_DISABLED,
 * CONSUMER_INVALID, rate quotas) carry `status` and ErrorInfo of domain `googleapis.com`;
 * errors Compute raises itself carry only `code`, `message` and `errors[]`.
 */

/** LEGACY_APIS still send the legacy `errors[]` beside (or instead of) the canonical fields. */
export const LEGACY_APIS: ReadonlySet<string> = new Set([
  "sqladmin.googleapis.com",
  "compute.googleapis.com",
]);

type Body = Record<string, unknown>;

/** GcpError is a SimError whose body is given whole, in its API's exact format. */
export class GcpError extends SimError {
  readonly #body: Body;

  constructor(httpCode: number, status: Status, body: Body) {
    super(String(body["message"] ?? ""), { status, httpCode });
    this.name = "GcpError";
    this.#body = body;
  }

  override toJSON(): Record<string, unknown> {
    return { error: structuredClone(this.#body) };
  }
}

interface Parts {
  readonly code: number;
  readonly message: string;
  /** Canonical status; left out of the body when `withStatus` is false. */
  readonly status: Status;
  readonly withStatus?: boolean;
  readonly legacy?: Body | undefined;
  readonly details?: readonly Body[];
}

function gcpError(api: string, p: Parts): GcpError {
  const legacy = LEGACY_APIS.has(api) && p.legacy ? { errors: [{ message: p.message, ...p.legacy }] } : {};
  const body: Body = {
    code: p.code,
    message: p.message,
    ...legacy,
    ...(p.withStatus === false ? {} : { status: p.status }),
    ...(p.details?.length ? { details: p.details } : {}),
  };
  return new GcpError(p.code, p.status, body);
}

function errorInfo(reason: string, domain: string, metadata: Record<string, string>): Body {
  return { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason, domain, metadata };
}

/**
 * unauthenticated is the front end's 401: a request without a token (`CREDENTIALS_MISSING`)
 * or with one it does not accept (`ACCESS_TOKEN_EXPIRED`). Legacy APIs add the classic
 * `{reason: "required" | "authError", location: "Authorization", locationType: "header"}`.
 */
export function unauthenticated(
  api: string,
  rpc: string,
  reason: "CREDENTIALS_MISSING" | "ACCESS_TOKEN_EXPIRED",
): GcpError {
  const missing = reason === "CREDENTIALS_MISSING";
  return gcpError(api, {
    code: 401,
    status: "UNAUTHENTICATED",
    message: missing
      ? "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
      : "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
    legacy: {
      domain: "global",
      reason: missing ? "required" : "authError",
      location: "Authorization",
      locationType: "header",
    },
    details: [errorInfo(reason, "googleapis.com", { service: api, method: rpc })],
  });
}

/**
 * serviceDisabled is the front end's 403 for an API not enabled in the consumer project:
 * ErrorInfo SERVICE_DISABLED with `service`, `consumer`, `activationUrl`, a
 * LocalizedMessage and a Help link; legacy APIs add `accessNotConfigured`
 * (domain `usageLimits`). A user without a quota project meets the same answer for
 * Google's own project.
 */
export function serviceDisabled(api: string, projectNumber: string): GcpError {
  const title = API_TITLES[api] ?? api;
  const url = `https://console.developers.google.com/apis/api/${api}/overview?project=${projectNumber}`;
  const message = `${title} has not been used in project ${projectNumber} before or it is disabled. Enable it by visiting ${url} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`;
  return gcpError(api, {
    code: 403,
    status: "PERMISSION_DENIED",
    message,
    legacy: {
      domain: "usageLimits",
      reason: "accessNotConfigured",
      extendedHelp: "https://console.developers.google.com",
    },
    details: [
      errorInfo("SERVICE_DISABLED", "googleapis.com", {
        activationUrl: url,
        consumer: `projects/${projectNumber}`,
        containerInfo: projectNumber,
        service: api,
        serviceTitle: title,
      }),
      { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message },
      {
        "@type": "type.googleapis.com/google.rpc.Help",
        links: [{ description: "Google developers console API activation", url }],
      },
    ],
  });
}

/** consumerInvalid is the front end's 403 for a project that does not exist (ErrorInfo CONSUMER_INVALID). */
export function consumerInvalid(api: string, project: string): GcpError {
  return gcpError(api, {
    code: 403,
    status: "PERMISSION_DENIED",
    message: `Permission denied on resource project ${project}.`,
    legacy: { domain: "global", reason: "forbidden" },
    details: [
      errorInfo("CONSUMER_INVALID", "googleapis.com", { consumer: `projects/${project}`, service: api }),
      {
        "@type": "type.googleapis.com/google.rpc.Help",
        links: [{ description: "Google developers console", url: "https://console.developers.google.com" }],
      },
    ],
  });
}

/**
 * permissionDenied is the API's own 403 for a permission the caller lacks:
 * - Cloud SQL Admin: only the legacy `notAuthorized` ("The client is not authorized to
 *   make this request."), which it also answers for an instance that does not exist;
 * - Compute Engine: only the legacy `forbidden`, "Required '<permission>' permission
 *   for '<resource>'";
 * - the others: PERMISSION_DENIED with ErrorInfo IAM_PERMISSION_DENIED naming the
 *   permission and the resource.
 */
export function permissionDenied(api: string, permission: string, resource: string): GcpError {
  if (api === "sqladmin.googleapis.com") {
    return gcpError(api, {
      code: 403,
      status: "PERMISSION_DENIED",
      message: "The client is not authorized to make this request.",
      withStatus: false,
      legacy: { domain: "global", reason: "notAuthorized" },
    });
  }
  if (api === "compute.googleapis.com") {
    return gcpError(api, {
      code: 403,
      status: "PERMISSION_DENIED",
      message: `Required '${permission}' permission for '${resource}'`,
      withStatus: false,
      legacy: { domain: "global", reason: "forbidden" },
    });
  }
  return gcpError(api, {
    code: 403,
    status: "PERMISSION_DENIED",
    message: `Permission '${permission}' denied on resource '//${api}/${resource}' (or it may not exist).`,
    details: [errorInfo("IAM_PERMISSION_DENIED", "iam.googleapis.com", { permission, resource })],
  });
}

/**
 * callerLacksPermission is Resource Manager's and Service Usage's 403 for a project that
 * does not exist or that the caller may not see: they do not tell the two apart.
 */
export function callerLacksPermission(api: string): GcpError {
  return gcpError(api, {
    code: 403,
    status: "PERMISSION_DENIED",
    message: "The caller does not have permission",
  });
}

/** Throttle describes the quota a throttled call ran into. */
export interface Throttle {
  readonly category: QuotaCategory;
  readonly limit: number;
  readonly location: string | undefined;
  readonly projectNumber: string;
}

/**
 * throttled is a rate quota answer, as each API sends it. The message is the front end's
 * ("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service
 * 'compute.googleapis.com' for consumer 'project_number:…'.", as Compute answers, recorded
 * in terraform-provider-google's error_retry_predicates tests):
 * - Compute Engine: HTTP 403 with the legacy reason `rateLimitExceeded`, no status
 *   (https://cloud.google.com/compute/api-quota: "you receive a 403 error with the reason
 *   rateLimitExceeded");
 * - Cloud SQL Admin: 429 RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMIT_EXCEEDED and the
 *   legacy `rateLimitExceeded`;
 * - the others: 429 RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMIT_EXCEEDED, whose metadata
 *   names the quota (https://cloud.google.com/apis/design/errors#error_info).
 * None carries RetryInfo: the quota refills at the start of the next minute.
 */
export function throttled(api: string, t: Throttle): GcpError {
  const message = `Quota exceeded for quota metric '${t.category.quota}' and limit '${t.category.limit}' of service '${api}' for consumer 'project_number:${t.projectNumber}'.`;
  const metadata: Record<string, string> = {
    service: api,
    consumer: `projects/${t.projectNumber}`,
    quota_limit: t.category.limit,
    quota_limit_value: String(t.limit),
    ...(t.category.metric ? { quota_metric: t.category.metric } : {}),
    ...(t.location ? { quota_location: t.location } : {}),
  };
  if (api === "compute.googleapis.com") {
    return gcpError(api, {
      code: 403,
      status: "PERMISSION_DENIED",
      message,
      withStatus: false,
      legacy: { domain: "usageLimits", reason: "rateLimitExceeded" },
    });
  }
  return gcpError(api, {
    code: 429,
    status: "RESOURCE_EXHAUSTED",
    message,
    legacy: { domain: "global", reason: "rateLimitExceeded" },
    details: [
      errorInfo("RATE_LIMIT_EXCEEDED", "googleapis.com", metadata),
      {
        "@type": "type.googleapis.com/google.rpc.Help",
        links: [
          {
            description: "Request a higher quota limit.",
            url: "https://cloud.google.com/docs/quotas/help/request_increase",
          },
        ],
      },
    ],
  });
}

/**
 * serverError is a 5xx: 503 UNAVAILABLE ("The service is currently unavailable.") or 500
 * INTERNAL ("Internal error encountered."); legacy APIs add `backendError`, and Compute
 * leaves out the status.
 */
export function serverError(api: string, status: "UNAVAILABLE" | "INTERNAL", message?: string): GcpError {
  const unavailable = status === "UNAVAILABLE";
  return gcpError(api, {
    code: unavailable ? 503 : 500,
    status,
    message:
      message ?? (unavailable ? "The service is currently unavailable." : "Internal error encountered."),
    withStatus: api !== "compute.googleapis.com",
    legacy: { domain: "global", reason: "backendError" },
  });
}

/** invalidRequest is a 400 INVALID_ARGUMENT with BadRequest field violations; legacy APIs add `invalid`. */
export function invalidRequest(
  api: string,
  message: string,
  violations: readonly { field: string; description: string }[] = [],
): GcpError {
  return gcpError(api, {
    code: 400,
    status: "INVALID_ARGUMENT",
    message,
    withStatus: api !== "compute.googleapis.com",
    legacy: { domain: "global", reason: "invalid" },
    details: violations.length
      ? [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: violations }]
      : [],
  });
}

/**
 * resourceNotFound is a 404 as each API sends it: Cloud SQL's legacy
 * `instanceDoesNotExist` and Compute's legacy `notFound`, without a status; the others'
 * NOT_FOUND.
 */
export function resourceNotFound(api: string, resource: string): GcpError {
  if (api === "sqladmin.googleapis.com") {
    return gcpError(api, {
      code: 404,
      status: "NOT_FOUND",
      message: "The Cloud SQL instance does not exist.",
      withStatus: false,
      legacy: { domain: "global", reason: "instanceDoesNotExist" },
    });
  }
  if (api === "compute.googleapis.com") {
    return gcpError(api, {
      code: 404,
      status: "NOT_FOUND",
      message: `The resource '${resource}' was not found`,
      withStatus: false,
      legacy: { domain: "global", reason: "notFound" },
    });
  }
  return gcpError(api, { code: 404, status: "NOT_FOUND", message: `Resource '${resource}' was not found` });
}

/** FaultType is an error `POST /__sim/faults` can inject in its API's exact format. */
export type FaultType =
  | "CREDENTIALS_MISSING"
  | "ACCESS_TOKEN_EXPIRED"
  | "SERVICE_DISABLED"
  | "CONSUMER_INVALID"
  | "IAM_PERMISSION_DENIED"
  | "RATE_LIMIT_EXCEEDED"
  | "NOT_FOUND"
  | "INVALID_ARGUMENT"
  | "UNAVAILABLE"
  | "INTERNAL";

/** FAULT_TYPES lists every {@link FaultType}. */
export const FAULT_TYPES: readonly FaultType[] = [
  "CREDENTIALS_MISSING",
  "ACCESS_TOKEN_EXPIRED",
  "SERVICE_DISABLED",
  "CONSUMER_INVALID",
  "IAM_PERMISSION_DENIED",
  "RATE_LIMIT_EXCEEDED",
  "NOT_FOUND",
  "INVALID_ARGUMENT",
  "UNAVAILABLE",
  "INTERNAL",
];

/** FaultCall is what an injected typed fault knows of the call it answers. */
export interface FaultCall {
  readonly api: string;
  readonly rpc: string;
  /** The resource path, e.g. `projects/p/locations/l/services`. */
  readonly resource: string;
  readonly project: string;
  readonly projectNumber: string;
  /** The permission the RPC needs, when capstan's table names one. */
  readonly permission: string | undefined;
  readonly location: string | undefined;
  readonly quota: { readonly category: QuotaCategory; readonly limit: number } | undefined;
}

/** faultError renders an injected typed fault for the call it answers. */
export function faultError(
  type: FaultType,
  call: FaultCall,
  options: { readonly permission?: string; readonly message?: string } = {},
): GcpError {
  switch (type) {
    case "CREDENTIALS_MISSING":
    case "ACCESS_TOKEN_EXPIRED":
      return unauthenticated(call.api, call.rpc, type);
    case "SERVICE_DISABLED":
      return serviceDisabled(call.api, call.projectNumber);
    case "CONSUMER_INVALID":
      return consumerInvalid(call.api, call.project);
    case "IAM_PERMISSION_DENIED":
      return permissionDenied(
        call.api,
        options.permission ?? call.permission ?? "unknown.permission",
        call.resource,
      );
    case "RATE_LIMIT_EXCEEDED":
      return throttled(call.api, {
        category: call.quota?.category ?? {
          write: false,
          perMinute: 1,
          scope: "project",
          quota: "Requests",
          limit: "Requests per minute",
          source: "injected",
        },
        limit: call.quota?.limit ?? 1,
        location: call.location,
        projectNumber: call.projectNumber,
      });
    case "NOT_FOUND":
      return resourceNotFound(call.api, call.resource);
    case "INVALID_ARGUMENT":
      return invalidRequest(call.api, options.message ?? "Invalid request.");
    case "UNAVAILABLE":
    case "INTERNAL":
      return serverError(call.api, type, options.message);
  }
}
