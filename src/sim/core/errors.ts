/**
 * Canonical status names and their HTTP codes, from google/rpc/code.proto and
 * https://cloud.google.com/apis/design/errors#handling_errors.
 */
export const STATUS_HTTP = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

/** Status is a canonical google.rpc.Code name. */
export type Status = keyof typeof STATUS_HTTP;

/** Numeric google.rpc.Code values, as carried by google.longrunning.Operation.error.code. */
export const STATUS_CODE: Record<Status, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAUTHENTICATED: 16,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
};

/** Options of {@link SimError}. */
export interface SimErrorOptions {
  /** Canonical status. */
  readonly status: Status;
  /** HTTP code; defaults to the status's canonical mapping (SQL and Compute differ at times). */
  readonly httpCode?: number;
  /** ErrorInfo.reason, e.g. `RATE_LIMIT_EXCEEDED`, and the legacy `errors[].reason`. */
  readonly reason?: string;
  /** ErrorInfo.domain, e.g. `googleapis.com`. */
  readonly domain?: string;
  /** ErrorInfo.metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** RetryInfo.retryDelay in seconds. */
  readonly retryDelaySeconds?: number;
  /**
   * The legacy `errors[]` array that Cloud SQL Admin and Compute still return beside the
   * canonical fields: `[{domain: "global", reason, message}]`.
   */
  readonly legacy?: boolean;
  /**
   * Send only `code`, `message` and the legacy `errors[]`: no `status`, no `details`, as
   * Cloud SQL Admin and Compute Engine answer (recorded 404s in
   * test/fixtures/recorded/sql/error-404-instance.json and
   * compute/error-404-backend-service.json). The client then derives the code from the
   * HTTP status. Implies `legacy`.
   */
  readonly legacyOnly?: boolean;
  /** Extra entries for `details` (already in JSON form with `@type`). */
  readonly details?: readonly Record<string, unknown>[];
  /** BadRequest field violations. */
  readonly fieldViolations?: readonly { field: string; description: string }[];
}

/**
 * SimError is an API error as GCP would return it. Handlers throw it; the server renders
 * it in Google's JSON error format so the client libraries surface `code`, `status` and
 * `reason` as they would against GCP.
 */
export class SimError extends Error {
  readonly options: SimErrorOptions;

  constructor(message: string, options: SimErrorOptions) {
    super(message);
    this.name = "SimError";
    this.options = options;
  }

  /** httpCode is the HTTP status the error is sent with. */
  get httpCode(): number {
    return this.options.httpCode ?? STATUS_HTTP[this.options.status];
  }

  /** toJSON renders the `{"error": ...}` body. */
  toJSON(): Record<string, unknown> {
    const o = this.options;
    if (o.legacyOnly) {
      return {
        error: {
          code: this.httpCode,
          message: this.message,
          errors: [{ message: this.message, domain: "global", reason: o.reason ?? "invalid" }],
        },
      };
    }
    const details: Record<string, unknown>[] = [];
    if (o.reason) {
      details.push({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: o.reason,
        domain: o.domain ?? "googleapis.com",
        ...(o.metadata ? { metadata: o.metadata } : {}),
      });
    }
    if (o.retryDelaySeconds !== undefined) {
      details.push({
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        retryDelay: `${formatSeconds(o.retryDelaySeconds)}s`,
      });
    }
    if (o.fieldViolations?.length) {
      details.push({
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: o.fieldViolations,
      });
    }
    if (o.details) details.push(...o.details);
    return {
      error: {
        code: this.httpCode,
        message: this.message,
        status: o.status,
        ...(o.legacy
          ? { errors: [{ message: this.message, domain: "global", reason: o.reason ?? "invalid" }] }
          : {}),
        ...(details.length ? { details } : {}),
      },
    };
  }
}

function formatSeconds(s: number): string {
  return Number.isInteger(s) ? String(s) : s.toFixed(3).replace(/0+$/, "");
}

/** notFound is the canonical 404 for a resource name. */
export function notFound(what: string, options: Partial<SimErrorOptions> = {}): SimError {
  return new SimError(`${what} not found`, { status: "NOT_FOUND", ...options });
}

/** invalidArgument is a 400 INVALID_ARGUMENT with optional field violations. */
export function invalidArgument(message: string, options: Partial<SimErrorOptions> = {}): SimError {
  return new SimError(message, { status: "INVALID_ARGUMENT", ...options });
}
