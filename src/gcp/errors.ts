/**
 * The one classifier of Google API failures. Retries (src/gcp/call.ts), throttling
 * (src/gcp/ratelimit.ts), the CLI's messages (src/gcp/explain.ts) and `capstan doctor`
 * all ask it what went wrong, so a failure is understood the same way everywhere.
 *
 * It reads only structured fields, never message text:
 * - the gRPC code and HTTP status google-gax puts on a GoogleError (`code`,
 *   `httpStatusCode`);
 * - google.rpc.ErrorInfo (`reason`, `domain`, `metadata`), which gax promotes onto the
 *   error (`reason`, `domain`, `errorInfoMetadata`), and the other details it decodes
 *   into `statusDetails` (RetryInfo, BadRequest) (googleapis google/rpc/error_details.proto);
 * - the legacy `error.errors[].reason` that Cloud SQL Admin and Compute Engine still send
 *   (`rateLimitExceeded`, `notFound`, `instanceDoesNotExist`, `operationInProgress`, ...).
 *   gax drops it when it decodes the body into google.rpc.Status (googleError.js
 *   decodeHTTPError keeps only Status's fields), but its REST transport keeps the whole
 *   body on the error under `Symbol.for("google-gax.rawHttpResponsePayload")`
 *   (google-gax 6 fallbackRest.js decodeResponse and fallbackServiceStub.js
 *   _toGoogleError), which is where it is read from;
 * - Node's system error `code` (ENOTFOUND, ECONNREFUSED, ...) on the error's `cause`
 *   chain, for failures that never reached a server;
 * - an OAuth 2.0 error answer's `error` field (RFC 6749 §5.2: `invalid_grant`, ...) when
 *   refreshing credentials failed.
 */

import { GoogleError } from "google-gax";

/** RAW_PAYLOAD is where google-gax's REST transport keeps an error answer's whole body. */
const RAW_PAYLOAD = Symbol.for("google-gax.rawHttpResponsePayload");

/**
 * NETWORK_CODES are Node's system error codes for a request that never got an answer
 * (https://nodejs.org/api/errors.html#common-system-errors, and getaddrinfo's EAI_*).
 */
const NETWORK_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "CERT_HAS_EXPIRED",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
]);

/** LEGACY_THROTTLE are the legacy reasons of a rate quota answer (Compute sends them with HTTP 403). */
const LEGACY_THROTTLE = new Set(["rateLimitExceeded", "userRateLimitExceeded"]);

/**
 * Failure is what went wrong, as capstan acts on it:
 * - `network`: no answer at all (DNS, connection refused or reset, TLS); retried;
 * - `deadline`: the call did not answer in time; retried;
 * - `unavailable`: a 5xx or UNAVAILABLE / INTERNAL; retried;
 * - `throttled`: a rate quota answer (429 RESOURCE_EXHAUSTED, ErrorInfo
 *   RATE_LIMIT_EXCEEDED, legacy rateLimitExceeded / userRateLimitExceeded, which Compute
 *   sends as 403); retried after the quota refills, and the budget slows down;
 * - `quota-exceeded`: an allocation quota (legacy `quotaExceeded`), which waiting does not fix;
 * - `unauthenticated`: 401, or credentials the token endpoint refused (expired, revoked);
 * - `service-disabled`: ErrorInfo SERVICE_DISABLED (legacy accessNotConfigured): the API
 *   is not enabled in the consumer project (also what a user without a quota project meets);
 * - `billing-disabled`: ErrorInfo BILLING_DISABLED;
 * - `project-invalid`: ErrorInfo CONSUMER_INVALID: the project does not exist or cannot be used;
 * - `quota-project-denied`: ErrorInfo USER_PROJECT_DENIED: the caller may not bill the quota project;
 * - `permission-denied`: ErrorInfo IAM_PERMISSION_DENIED, legacy forbidden /
 *   insufficientPermissions / notAuthorized, or PERMISSION_DENIED;
 * - `not-found`: 404, legacy notFound / instanceDoesNotExist;
 * - `operation-in-progress`: another operation is running on the resource (Cloud SQL's
 *   legacy operationInProgress, Compute's resourceNotReady); wait for it, then re-read;
 * - `conflict`: an optimistic-concurrency conflict (ABORTED, 412, legacy
 *   conditionNotMet / staleData); re-read and retry;
 * - `invalid`: the request was refused as invalid (400 INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE);
 * - `cancelled`: the call was cancelled;
 * - `unknown`: anything else.
 */
export type Failure =
  | "network"
  | "deadline"
  | "unavailable"
  | "throttled"
  | "quota-exceeded"
  | "unauthenticated"
  | "service-disabled"
  | "billing-disabled"
  | "project-invalid"
  | "quota-project-denied"
  | "permission-denied"
  | "not-found"
  | "operation-in-progress"
  | "conflict"
  | "invalid"
  | "cancelled"
  | "unknown";

/** TRANSIENT_FAILURES are retried with backoff: they may go away by themselves. */
export const TRANSIENT_FAILURES: ReadonlySet<Failure> = new Set(["network", "deadline", "unavailable"]);

/** ErrorFacts are the structured fields of one failure, read once. */
export interface ErrorFacts {
  /** gRPC code (google/rpc/code.proto), when the error carries one. */
  readonly grpcCode: number | undefined;
  /** HTTP status of the answer; undefined when there was no answer. */
  readonly httpStatus: number | undefined;
  /** The canonical status name the body states (`PERMISSION_DENIED`), if any. */
  readonly status: string | undefined;
  /** ErrorInfo.reason, e.g. `SERVICE_DISABLED`. */
  readonly reason: string | undefined;
  /** ErrorInfo.domain, e.g. `googleapis.com`. */
  readonly domain: string | undefined;
  /** ErrorInfo.metadata, e.g. `{service, consumer}` or `{permission, resource}`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The legacy `error.errors[].reason` values, in order. */
  readonly legacyReasons: readonly string[];
  /** RetryInfo.retryDelay in ms. */
  readonly retryDelayMs: number | undefined;
  /** BadRequest field violations. */
  readonly fieldViolations: readonly { readonly field: string; readonly description: string }[];
  /** Node's system error code of a request that got no answer, e.g. `ENOTFOUND`. */
  readonly systemCode: string | undefined;
  /** The host the failed request went to, when the error says (network failures). */
  readonly host: string | undefined;
  /** An OAuth 2.0 error code from a token endpoint, e.g. `invalid_grant` (RFC 6749 §5.2). */
  readonly oauthError: string | undefined;
  /** The server's message, for display after capstan's own explanation. */
  readonly message: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** causes lists an error and its `cause` chain (bounded: causes can be cyclic). */
function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  let e: unknown = err;
  while (e !== undefined && e !== null && out.length < 8 && !out.includes(e)) {
    out.push(e);
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** parseBody reads a JSON body that may already be parsed. */
function parseBody(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

/**
 * rawErrorBody finds the `error` object of the answer's body: where gax keeps it, or on a
 * gaxios error's `response.data` (a REST call made with the auth client directly).
 */
function rawErrorBody(err: unknown): Obj | undefined {
  for (const e of causes(err)) {
    if (!isObj(e) && !(e instanceof Error)) continue;
    const candidates = [
      (e as Record<symbol, unknown>)[RAW_PAYLOAD],
      (e as { response?: { data?: unknown } }).response?.data,
    ];
    for (const c of candidates) {
      let body = parseBody(c);
      if (Array.isArray(body)) body = body.find((x) => isObj(x) && "error" in x);
      if (isObj(body) && isObj(body["error"])) return body["error"];
    }
  }
  return undefined;
}

function durationMs(d: unknown): number | undefined {
  if (typeof d === "string") {
    const m = /^(\d+(?:\.\d+)?)s$/.exec(d);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (isObj(d)) return Number(d["seconds"] ?? 0) * 1000 + Math.round(Number(d["nanos"] ?? 0) / 1e6);
  return undefined;
}

/** errorFacts reads the structured fields of a failure (see the file comment for where each comes from). */
export function errorFacts(err: unknown): ErrorFacts {
  const e = (isObj(err) || err instanceof Error ? err : {}) as Obj;
  const raw = rawErrorBody(err);
  const grpcCode = typeof e["code"] === "number" ? (e["code"] as number) : undefined;
  let httpStatus = typeof e["httpStatusCode"] === "number" ? (e["httpStatusCode"] as number) : undefined;
  if (httpStatus === undefined && typeof raw?.["code"] === "number") httpStatus = raw["code"] as number;

  // ErrorInfo as gax promoted it, else from the raw body's details.
  let reason = typeof e["reason"] === "string" ? (e["reason"] as string) : undefined;
  let domain = typeof e["domain"] === "string" ? (e["domain"] as string) : undefined;
  let metadata: Record<string, string> = isObj(e["errorInfoMetadata"])
    ? (e["errorInfoMetadata"] as Record<string, string>)
    : {};
  const rawDetails = Array.isArray(raw?.["details"]) ? (raw["details"] as unknown[]) : [];
  if (reason === undefined) {
    const info = rawDetails.find(
      (d) => isObj(d) && d["@type"] === "type.googleapis.com/google.rpc.ErrorInfo",
    ) as Obj | undefined;
    if (info) {
      reason = typeof info["reason"] === "string" ? info["reason"] : undefined;
      domain = typeof info["domain"] === "string" ? info["domain"] : undefined;
      metadata = isObj(info["metadata"]) ? (info["metadata"] as Record<string, string>) : {};
    }
  }

  // RetryInfo and BadRequest: gax decodes details into statusDetails; the raw body has them too.
  const details = [
    ...(Array.isArray(e["statusDetails"]) ? (e["statusDetails"] as unknown[]) : []),
    ...rawDetails,
  ];
  let retryDelay: number | undefined;
  const fieldViolations: { field: string; description: string }[] = [];
  for (const d of details) {
    if (!isObj(d)) continue;
    if (retryDelay === undefined && d["retryDelay"] !== undefined) retryDelay = durationMs(d["retryDelay"]);
    if (Array.isArray(d["fieldViolations"]) && fieldViolations.length === 0) {
      for (const v of d["fieldViolations"] as unknown[]) {
        if (isObj(v))
          fieldViolations.push({
            field: String(v["field"] ?? ""),
            description: String(v["description"] ?? ""),
          });
      }
    }
  }

  const legacyReasons = (Array.isArray(raw?.["errors"]) ? (raw["errors"] as unknown[]) : [])
    .map((x) => (isObj(x) && typeof x["reason"] === "string" ? x["reason"] : undefined))
    .filter((x): x is string => x !== undefined);

  let systemCode: string | undefined;
  let host: string | undefined;
  let oauthError: string | undefined;
  for (const c of causes(err)) {
    const o = c as {
      code?: unknown;
      errno?: unknown;
      config?: { url?: unknown };
      response?: { data?: unknown };
    };
    if (systemCode === undefined && typeof o.code === "string" && NETWORK_CODES.has(o.code))
      systemCode = o.code;
    if (systemCode === undefined && typeof o.errno === "string" && NETWORK_CODES.has(o.errno))
      systemCode = o.errno;
    if (host === undefined && o.config?.url !== undefined) {
      try {
        host = new URL(String(o.config.url)).host;
      } catch {
        // not a URL: no host to name
      }
    }
    const data = parseBody(o.response?.data);
    // RFC 6749 §5.2: a token endpoint's error answer is `{"error": "invalid_grant", ...}`,
    // a string, where Google API errors carry an object.
    if (oauthError === undefined && isObj(data) && typeof data["error"] === "string")
      oauthError = data["error"];
  }

  const status = typeof raw?.["status"] === "string" ? (raw["status"] as string) : undefined;
  const message =
    (typeof raw?.["message"] === "string" ? (raw["message"] as string) : undefined) ??
    (err instanceof Error ? err.message : String(err));
  return {
    grpcCode,
    httpStatus,
    status,
    reason,
    domain,
    metadata,
    legacyReasons,
    retryDelayMs: retryDelay,
    fieldViolations,
    systemCode,
    host,
    oauthError,
    message,
  };
}

/** gRPC codes (google/rpc/code.proto) the classifier reads. */
const G = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** classifyFacts decides the {@link Failure} of a failure from its facts, most specific field first. */
export function classifyFacts(f: ErrorFacts): Failure {
  const legacy = new Set(f.legacyReasons);
  const has = (...r: string[]) => r.some((x) => legacy.has(x));
  // No answer at all.
  if (f.httpStatus === undefined && f.systemCode !== undefined) return "network";
  if (f.oauthError !== undefined) return "unauthenticated";
  // ErrorInfo reasons (https://cloud.google.com/apis/design/errors#error_info; the
  // reasons of domain googleapis.com are listed in googleapis google/api/error_reason.proto).
  switch (f.reason) {
    case "RATE_LIMIT_EXCEEDED":
      return "throttled";
    case "SERVICE_DISABLED":
    case "API_DISABLED":
      return "service-disabled";
    case "BILLING_DISABLED":
      return "billing-disabled";
    case "CONSUMER_INVALID":
      return "project-invalid";
    case "USER_PROJECT_DENIED":
      return "quota-project-denied";
    case "IAM_PERMISSION_DENIED":
      return "permission-denied";
    case "ACCESS_TOKEN_EXPIRED":
    case "ACCESS_TOKEN_TYPE_UNSUPPORTED":
    case "CREDENTIALS_MISSING":
    case "ACCOUNT_STATE_INVALID":
      return "unauthenticated";
    case "RESOURCE_QUOTA_EXCEEDED":
      return "quota-exceeded";
  }
  // The legacy reasons, which SQL and Compute send without ErrorInfo.
  if (has(...LEGACY_THROTTLE)) return "throttled";
  if (has("quotaExceeded", "limitExceeded")) return "quota-exceeded";
  if (has("accessNotConfigured")) return "service-disabled";
  if (has("authError", "required") && f.httpStatus === 401) return "unauthenticated";
  if (has("operationInProgress", "resourceNotReady")) return "operation-in-progress";
  if (has("conditionNotMet", "staleData")) return "conflict";
  if (has("notFound", "instanceDoesNotExist")) return "not-found";
  if (has("forbidden", "insufficientPermissions", "notAuthorized")) return "permission-denied";
  if (has("backendError", "internalError")) return "unavailable";
  // Status codes.
  if (f.httpStatus === 429 || f.grpcCode === G.RESOURCE_EXHAUSTED) return "throttled";
  if (f.httpStatus === 401 || f.grpcCode === G.UNAUTHENTICATED) return "unauthenticated";
  if (f.httpStatus === 412 || f.grpcCode === G.ABORTED) return "conflict";
  if (f.httpStatus === 404 || f.grpcCode === G.NOT_FOUND) return "not-found";
  if (f.httpStatus === 403 || f.grpcCode === G.PERMISSION_DENIED) return "permission-denied";
  if (f.grpcCode === G.DEADLINE_EXCEEDED || f.httpStatus === 504) return "deadline";
  if (f.grpcCode === G.CANCELLED) return "cancelled";
  if (
    f.grpcCode === G.INVALID_ARGUMENT ||
    f.grpcCode === G.FAILED_PRECONDITION ||
    f.grpcCode === G.OUT_OF_RANGE ||
    f.httpStatus === 400
  )
    return "invalid";
  if (
    (f.httpStatus !== undefined && f.httpStatus >= 500) ||
    f.grpcCode === G.UNAVAILABLE ||
    f.grpcCode === G.INTERNAL
  )
    return "unavailable";
  // gax maps a transport failure without a system code (a reset mid-body) to UNAVAILABLE above.
  return "unknown";
}

/** classify decides the {@link Failure} of any error a client library (or capstan's caller) raised. */
export function classify(err: unknown): Failure {
  if (err instanceof GcpCallError) return err.failure;
  return classifyFacts(errorFacts(err));
}

/** CallContext says which call failed, for messages: API, method and resource. */
export interface CallContext {
  /** e.g. `run.googleapis.com`. */
  readonly api: string;
  /** e.g. `services.list`. */
  readonly method: string;
  /** The resource or parent the call was about, e.g. `projects/p/locations/l`. */
  readonly resource?: string | undefined;
  readonly location?: string | undefined;
}

/**
 * GcpCallError is a Google API failure that capstan gave up on, with the call it came
 * from. It is a google-gax GoogleError with the original's fields (`code` the gRPC code,
 * `httpStatusCode`, `reason`, `domain`, `errorInfoMetadata`, `statusDetails`), so code
 * that handles client library errors handles it alike; `cause` is the original error.
 */
export class GcpCallError extends GoogleError {
  readonly failure: Failure;
  readonly facts: ErrorFacts;
  readonly call: CallContext;
  /** Attempts made, the first included. */
  readonly attempts: number;
  /** Clock ms from the first attempt to giving up. */
  readonly elapsedMs: number;

  constructor(err: unknown, call: CallContext, attempts: number, elapsedMs: number) {
    const facts = errorFacts(err);
    super(err instanceof Error ? err.message : String(err));
    this.name = "GcpCallError";
    this.cause = err;
    this.code = facts.grpcCode ?? 2;
    this.httpStatusCode = facts.httpStatus;
    this.reason = facts.reason;
    this.domain = facts.domain;
    this.errorInfoMetadata = { ...facts.metadata };
    const details = (err as { statusDetails?: unknown } | null)?.statusDetails;
    if (Array.isArray(details)) this.statusDetails = details;
    this.facts = facts;
    this.failure = classifyFacts(facts);
    this.call = call;
    this.attempts = attempts;
    this.elapsedMs = elapsedMs;
  }
}
