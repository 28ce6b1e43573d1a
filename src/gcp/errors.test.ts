import { GoogleError } from "google-gax";
import { describe, expect, it } from "vitest";
import { classify, errorFacts, type Failure } from "./errors.ts";

/**
 * answered builds the error google-gax's REST transport raises for an HTTP error body:
 * GoogleError.parseHttpError (the library's own decoding, which keeps google.rpc.Status
 * fields only), the received status, and the whole body kept under gax's symbol, as
 * fallbackRest.js decodeResponse does.
 */
function answered(httpStatus: number, body: Record<string, unknown>): GoogleError {
  const text = JSON.stringify(body);
  const err = GoogleError.parseHttpError(JSON.parse(text));
  err.httpStatusCode = httpStatus;
  Object.defineProperty(err, Symbol.for("google-gax.rawHttpResponsePayload"), { value: text });
  return err;
}

// Bodies as GCP sends them. Sources: the legacy reasons of
// https://cloud.google.com/compute/docs/reference/rest/v1#error-messages and
// https://cloud.google.com/sql/docs/postgres/admin-api-error-messages; ErrorInfo reasons of
// https://cloud.google.com/apis/design/errors#error_info; recorded answers quoted in
// public issue threads (SERVICE_DISABLED for end-user credentials without a quota
// project; IAM_PERMISSION_DENIED with its permission; Compute's 403 rateLimitExceeded
// message as terraform-provider-google's retry predicates record it).
const CASES: readonly [string, number, Record<string, unknown>, Failure][] = [
  [
    "SERVICE_DISABLED for a user without a quota project (with the legacy accessNotConfigured)",
    403,
    {
      error: {
        code: 403,
        message: "Your application has authenticated using end user credentials ...",
        errors: [
          {
            message: "...",
            domain: "usageLimits",
            reason: "accessNotConfigured",
            extendedHelp: "https://console.developers.google.com",
          },
        ],
        status: "PERMISSION_DENIED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "SERVICE_DISABLED",
            domain: "googleapis.com",
            metadata: { service: "identitytoolkit.googleapis.com", consumer: "projects/123456" },
          },
        ],
      },
    },
    "service-disabled",
  ],
  [
    "IAM_PERMISSION_DENIED naming the permission",
    403,
    {
      error: {
        code: 403,
        message:
          "Permission 'run.services.list' denied on resource '//run.googleapis.com/projects/p/locations/l' (or it may not exist).",
        status: "PERMISSION_DENIED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "IAM_PERMISSION_DENIED",
            domain: "iam.googleapis.com",
            metadata: { permission: "run.services.list", resource: "projects/p/locations/l" },
          },
        ],
      },
    },
    "permission-denied",
  ],
  [
    "Compute's rate quota: 403 with the legacy rateLimitExceeded and no status",
    403,
    {
      error: {
        code: 403,
        message:
          "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'compute.googleapis.com' for consumer 'project_number:11111111'.",
        errors: [{ message: "Quota exceeded ...", domain: "usageLimits", reason: "rateLimitExceeded" }],
      },
    },
    "throttled",
  ],
  [
    "a per-user rate quota (legacy userRateLimitExceeded)",
    403,
    {
      error: {
        code: 403,
        message: "User Rate Limit Exceeded",
        errors: [{ domain: "usageLimits", reason: "userRateLimitExceeded" }],
      },
    },
    "throttled",
  ],
  [
    "a 429 RESOURCE_EXHAUSTED with ErrorInfo RATE_LIMIT_EXCEEDED",
    429,
    {
      error: {
        code: 429,
        message:
          "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per region'",
        status: "RESOURCE_EXHAUSTED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "RATE_LIMIT_EXCEEDED",
            domain: "googleapis.com",
            metadata: { service: "run.googleapis.com" },
          },
        ],
      },
    },
    "throttled",
  ],
  [
    "Compute's allocation quota (legacy quotaExceeded), which waiting does not fix",
    403,
    {
      error: {
        code: 403,
        message: "Quota 'BACKEND_SERVICES' exceeded.  Limit: 5.0 globally.",
        errors: [{ domain: "usageLimits", reason: "quotaExceeded" }],
      },
    },
    "quota-exceeded",
  ],
  [
    "Cloud SQL's 404, only the legacy instanceDoesNotExist",
    404,
    {
      error: {
        code: 404,
        message: "The Cloud SQL instance does not exist.",
        errors: [
          {
            domain: "global",
            reason: "instanceDoesNotExist",
            message: "The Cloud SQL instance does not exist.",
          },
        ],
      },
    },
    "not-found",
  ],
  [
    "Cloud SQL's 409 operationInProgress",
    409,
    {
      error: {
        code: 409,
        message: "Operation failed because another operation was already in progress.",
        errors: [{ domain: "global", reason: "operationInProgress" }],
      },
    },
    "operation-in-progress",
  ],
  [
    "Cloud SQL's 412 staleData",
    412,
    { error: { code: 412, message: "Stale data.", errors: [{ domain: "global", reason: "staleData" }] } },
    "conflict",
  ],
  [
    "Cloud SQL's 403 notAuthorized (also its answer for an instance that does not exist)",
    403,
    {
      error: {
        code: 403,
        message: "The client is not authorized to make this request.",
        errors: [{ domain: "global", reason: "notAuthorized" }],
      },
    },
    "permission-denied",
  ],
  [
    "a 401 with the legacy authError",
    401,
    {
      error: {
        code: 401,
        message: "Request had invalid authentication credentials.",
        errors: [
          {
            message: "Invalid Credentials",
            domain: "global",
            reason: "authError",
            location: "Authorization",
            locationType: "header",
          },
        ],
        status: "UNAUTHENTICATED",
      },
    },
    "unauthenticated",
  ],
  [
    "a project that does not exist (CONSUMER_INVALID)",
    403,
    {
      error: {
        code: 403,
        message: "Permission denied on resource project nope.",
        status: "PERMISSION_DENIED",
        details: [
          {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            reason: "CONSUMER_INVALID",
            domain: "googleapis.com",
            metadata: { consumer: "projects/nope" },
          },
        ],
      },
    },
    "project-invalid",
  ],
  [
    "a 503 without a body the API defines",
    503,
    { error: { code: 503, message: "The service is currently unavailable.", status: "UNAVAILABLE" } },
    "unavailable",
  ],
  [
    "a 400 FAILED_PRECONDITION",
    400,
    { error: { code: 400, message: "Precondition check failed.", status: "FAILED_PRECONDITION" } },
    "invalid",
  ],
];

describe("classify", () => {
  it.each(CASES)("reads %s", (_what, http, body, failure) => {
    expect(classify(answered(http, body))).toBe(failure);
  });

  it("reads the legacy errors[] that google-gax's decoding drops from the body it keeps", () => {
    const err = answered(404, CASES[6]![2]);
    expect((err as unknown as Record<string, unknown>)["errors"]).toBeUndefined();
    expect(errorFacts(err)).toMatchObject({
      httpStatus: 404,
      status: undefined,
      legacyReasons: ["instanceDoesNotExist"],
    });
  });

  it("takes a failure with no answer by Node's system code, and names the host", () => {
    const cause = Object.assign(
      new Error(
        "request to https://run.googleapis.com/v2/... failed, reason: getaddrinfo ENOTFOUND run.googleapis.com",
      ),
      {
        code: "ENOTFOUND",
        config: { url: "https://run.googleapis.com/v2/projects/p/locations/l/services" },
      },
    );
    const err = Object.assign(new GoogleError("request failed"), { code: 14, cause });
    expect(classify(err)).toBe("network");
    expect(errorFacts(err)).toMatchObject({ systemCode: "ENOTFOUND", host: "run.googleapis.com" });
  });

  it("takes a token endpoint's OAuth 2.0 error answer as credentials refused, not a bad request", () => {
    const cause = Object.assign(new Error("invalid_grant"), {
      status: 400,
      response: {
        status: 400,
        data: { error: "invalid_grant", error_description: "Token has been expired or revoked." },
      },
    });
    const err = Object.assign(new GoogleError("invalid_grant"), { code: 3, httpStatusCode: 400, cause });
    expect(classify(err)).toBe("unauthenticated");
    expect(errorFacts(err).oauthError).toBe("invalid_grant");
  });

  it("never reads message text: the same words with another reason are another failure", () => {
    const words = "Quota exceeded for quota metric 'Queries'";
    expect(
      classify(answered(403, { error: { code: 403, message: words, errors: [{ reason: "forbidden" }] } })),
    ).toBe("permission-denied");
  });
});
