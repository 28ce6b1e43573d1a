/**
 * Limits and validation rules of Compute Engine load-balancing resources (global backend
 * services and health checks), as data plus pure check functions. The simulator applies
 * them to every write and the offline spec validator applies them before anything is
 * touched, so both report the very messages Compute Engine returns.
 */

/** Range is an inclusive integer range with the value GCP fills when the field is omitted. */
export interface Range {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/**
 * HEALTH_CHECK_LIMITS are the accepted ranges and defaults of a health check's timing
 * fields. Defaults (5 s, 5 s, 2, 2) are those of
 * https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks; thresholds above 10
 * are refused with "Must be less than or equal to 10" (seen from the API:
 * https://github.com/firezone/firezone/pull/9218). The 1–300 s bounds of interval and
 * timeout are the Cloud console's; no API message for them was found, so they are worded
 * like the threshold one.
 */
export const HEALTH_CHECK_LIMITS = {
  checkIntervalSec: { min: 1, max: 300, default: 5 },
  timeoutSec: { min: 1, max: 300, default: 5 },
  healthyThreshold: { min: 1, max: 10, default: 2 },
  unhealthyThreshold: { min: 1, max: 10, default: 2 },
} as const satisfies Readonly<Record<string, Range>>;

/**
 * BACKEND_SERVICE_LIMITS are the accepted ranges and defaults of a backend service's
 * timing fields: `timeoutSec` "1 through 2,147,483,647 seconds", default 30
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices), and the
 * connection draining timeout 0 to 3600 s, default 0
 * (https://cloud.google.com/load-balancing/docs/enabling-connection-draining).
 */
export const BACKEND_SERVICE_LIMITS = {
  timeoutSec: { min: 1, max: 2_147_483_647, default: 30 },
  drainingTimeoutSec: { min: 0, max: 3600, default: 0 },
} as const satisfies Readonly<Record<string, Range>>;

/**
 * BACKEND_SERVICE_SCHEMES are the load-balancing schemes a global backend service can
 * have: BackendService.LoadBalancingScheme in google/cloud/compute/v1/compute.proto less
 * `INTERNAL`, which is for internal passthrough Network Load Balancers, whose backend
 * services are regional. A recorded global backend service is INTERNAL_MANAGED
 * (test/fixtures/recorded/compute/backend-service-negs.json), another
 * INTERNAL_SELF_MANAGED (backend-service-self-managed-vcr.json).
 */
export const BACKEND_SERVICE_SCHEMES = [
  "EXTERNAL",
  "EXTERNAL_MANAGED",
  "INTERNAL_MANAGED",
  "INTERNAL_SELF_MANAGED",
] as const;

/**
 * BACKEND_SERVICE_PROTOCOLS are the protocols of a global backend service:
 * BackendService.Protocol in compute.proto less `UDP` and `UNSPECIFIED`, which only
 * passthrough Network Load Balancers (regional backend services) take.
 */
export const BACKEND_SERVICE_PROTOCOLS = ["HTTP", "HTTPS", "HTTP2", "H2C", "GRPC", "SSL", "TCP"] as const;

/**
 * ComputeViolation is one rule a resource breaks. `field` is the path inside the
 * resource (`timeoutSec`, `backends[0].maxUtilization`); `message` is the full text
 * Compute Engine answers with (400, legacy reason `invalid`).
 */
export interface ComputeViolation {
  readonly field: string;
  readonly value: unknown;
  readonly message: string;
}

/**
 * invalidFieldMessage renders Compute Engine's message for a rejected field value:
 * `Invalid value for field 'resource.timeoutSec': '120'. <detail>`. Lists render as ''
 * as the API does for `healthChecks`.
 */
export function invalidFieldMessage(field: string, value: unknown, detail: string): string {
  const shown = Array.isArray(value) || value === undefined || value === null ? "" : String(value);
  return `Invalid value for field 'resource.${field}': '${shown}'. ${detail}`;
}

/** HealthCheckTiming is the part of a health check the timing rules look at. */
export interface HealthCheckTiming {
  readonly checkIntervalSec?: number | null | undefined;
  readonly timeoutSec?: number | null | undefined;
  readonly healthyThreshold?: number | null | undefined;
  readonly unhealthyThreshold?: number | null | undefined;
}

function rangeViolation(field: string, value: number, range: Range): ComputeViolation | undefined {
  if (!Number.isInteger(value)) {
    return { field, value, message: invalidFieldMessage(field, value, "Must be an integer.") };
  }
  if (value < range.min) {
    return {
      field,
      value,
      message: invalidFieldMessage(field, value, `Must be greater than or equal to ${range.min}`),
    };
  }
  if (value > range.max) {
    return {
      field,
      value,
      message: invalidFieldMessage(field, value, `Must be less than or equal to ${range.max}`),
    };
  }
  return undefined;
}

/**
 * checkHealthCheckTiming returns every timing rule a health check breaks, in the order
 * Compute checks them: each field within {@link HEALTH_CHECK_LIMITS}, then `timeoutSec`
 * not above `checkIntervalSec` ("It is invalid for timeoutSec to have greater value than
 * checkIntervalSec", https://cloud.google.com/compute/docs/reference/rest/v1/healthChecks;
 * the API words it "TimeoutSec should be less than checkIntervalSec.",
 * https://github.com/GoogleCloudPlatform/click-to-deploy/pull/934). Omitted fields take
 * their defaults, as the API fills them.
 */
export function checkHealthCheckTiming(hc: HealthCheckTiming): readonly ComputeViolation[] {
  const out: ComputeViolation[] = [];
  const value = (k: keyof typeof HEALTH_CHECK_LIMITS): number => hc[k] ?? HEALTH_CHECK_LIMITS[k].default;
  for (const k of Object.keys(HEALTH_CHECK_LIMITS) as (keyof typeof HEALTH_CHECK_LIMITS)[]) {
    const v = rangeViolation(k, value(k), HEALTH_CHECK_LIMITS[k]);
    if (v) out.push(v);
  }
  const interval = value("checkIntervalSec");
  const timeout = value("timeoutSec");
  if (out.length === 0 && timeout > interval) {
    out.push({
      field: "timeoutSec",
      value: timeout,
      message: invalidFieldMessage("timeoutSec", timeout, "TimeoutSec should be less than checkIntervalSec."),
    });
  }
  return out;
}

/** ServerlessRejectedField is a backend service field that serverless NEG backends refuse. */
export type ServerlessRejectedField = "timeoutSec" | "healthChecks" | "portName" | "maxUtilization";

const SERVERLESS_REJECTS: Readonly<Record<ServerlessRejectedField, string>> = {
  // https://cloud.google.com/load-balancing/docs/negs/serverless-neg-concepts ("Limitations
  // with backend services") quotes this text; the API answers 400 `invalid`.
  timeoutSec: "Timeout sec is not supported for a backend service with Serverless network endpoint groups.",
  // As returned by the API: https://github.com/hashicorp/terraform-provider-google/issues/7311
  healthChecks:
    "A backend service cannot have a healthcheck with Serverless network endpoint group backends.",
  // As returned by the API: https://github.com/GoogleCloudPlatform/cloud-foundation-fabric/pull/2881
  portName: "Port name is not supported for a backend service with Serverless network endpoint groups.",
  // As returned by the API: https://github.com/hashicorp/terraform-provider-google/issues/7167
  maxUtilization: "Max utilization is not supported for Serverless network endpoint groups.",
};

/**
 * serverlessNegRejects returns the sentence Compute Engine gives when a backend service
 * whose backends are serverless NEGs sets `field`. Wrap it with
 * {@link invalidFieldMessage} for the full API message.
 */
export function serverlessNegRejects(field: ServerlessRejectedField): string {
  return SERVERLESS_REJECTS[field];
}

/** BackendServiceSettings is the part of a backend service the rules look at. */
export interface BackendServiceSettings {
  readonly timeoutSec?: number | null | undefined;
  readonly portName?: string | null | undefined;
  readonly healthChecks?: readonly string[] | null | undefined;
  readonly connectionDraining?:
    | { readonly drainingTimeoutSec?: number | null | undefined }
    | null
    | undefined;
  readonly backends?: readonly { readonly maxUtilization?: number | null | undefined }[] | null | undefined;
}

/**
 * checkBackendServiceSettings returns every rule a backend service breaks. With
 * `serverless` (its backends are serverless NEGs) the fields those backends refuse are
 * reported with the API's messages; the ranges of {@link BACKEND_SERVICE_LIMITS} apply
 * otherwise. Connection draining stays allowed for serverless backends: the documented
 * limitations do not list it.
 */
export function checkBackendServiceSettings(
  bs: BackendServiceSettings,
  options: { readonly serverless: boolean },
): readonly ComputeViolation[] {
  const out: ComputeViolation[] = [];
  if (options.serverless) {
    if (bs.healthChecks && bs.healthChecks.length > 0) {
      out.push({
        field: "healthChecks",
        value: bs.healthChecks,
        message: invalidFieldMessage("healthChecks", bs.healthChecks, serverlessNegRejects("healthChecks")),
      });
    }
    if (bs.timeoutSec !== undefined && bs.timeoutSec !== null) {
      out.push({
        field: "timeoutSec",
        value: bs.timeoutSec,
        message: invalidFieldMessage("timeoutSec", bs.timeoutSec, serverlessNegRejects("timeoutSec")),
      });
    }
    if (bs.portName) {
      out.push({
        field: "portName",
        value: bs.portName,
        message: invalidFieldMessage("portName", bs.portName, serverlessNegRejects("portName")),
      });
    }
    (bs.backends ?? []).forEach((b, i) => {
      if (b.maxUtilization !== undefined && b.maxUtilization !== null) {
        const field = `backends[${i}].maxUtilization`;
        out.push({
          field,
          value: b.maxUtilization,
          message: invalidFieldMessage(field, b.maxUtilization, serverlessNegRejects("maxUtilization")),
        });
      }
    });
  } else if (bs.timeoutSec !== undefined && bs.timeoutSec !== null) {
    const v = rangeViolation("timeoutSec", bs.timeoutSec, BACKEND_SERVICE_LIMITS.timeoutSec);
    if (v) out.push(v);
  }
  const draining = bs.connectionDraining?.drainingTimeoutSec;
  if (draining !== undefined && draining !== null) {
    const v = rangeViolation(
      "connectionDraining.drainingTimeoutSec",
      draining,
      BACKEND_SERVICE_LIMITS.drainingTimeoutSec,
    );
    if (v) out.push(v);
  }
  return out;
}
