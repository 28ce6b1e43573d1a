/**
 * The JSON Schemas (2020-12) of capstan's kinds, built here and written to schemas/ for
 * editors (`# yaml-language-server: $schema=../schemas/cloud-run-service.schema.json`).
 * A test keeps the files in step with this module (refresh with
 * `CAPSTAN_GOLDEN_REFRESH=1 npx vitest run src/spec/schemas.test.ts`).
 *
 * The schemas carry shape, types, enums, units and the ranges the APIs document; rules
 * that relate two fields or need GCP's catalog (cpu/memory pairs, flag ranges,
 * serverless NEG restrictions) live in rules.ts, where the messages can say why.
 */
import {
  BACKEND_SERVICE_LIMITS,
  BACKEND_SERVICE_PROTOCOLS,
  BACKEND_SERVICE_SCHEMES,
  HEALTH_CHECK_LIMITS,
} from "../gcp/catalog/compute.ts";
import { SQL_DATABASE_VERSIONS } from "../gcp/catalog/sql.ts";
import { CONNECTOR_LIMITS, CONNECTOR_MACHINE_TYPES } from "../gcp/catalog/vpcaccess.ts";
import { API_VERSION, KINDS, type Kind } from "./types.ts";
import { UNIT_PATTERNS } from "./units.ts";

/** JsonSchema is a JSON Schema document or subschema. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** SCHEMA_BASE_URL is the `$id` prefix of every capstan schema. */
export const SCHEMA_BASE_URL = "https://capstan.dev/schemas/v1alpha1/";

/** SCHEMA_FILES maps each kind to its file name under schemas/. */
export const SCHEMA_FILES: Readonly<Record<Kind, string>> = {
  VpcConnector: "vpc-connector.schema.json",
  SqlInstance: "sql-instance.schema.json",
  BackendService: "backend-service.schema.json",
  HealthCheck: "health-check.schema.json",
  CloudRunService: "cloud-run-service.schema.json",
  CapacityPolicy: "capacity-policy.schema.json",
};

/** ANY_KIND_SCHEMA_FILE is the schema that accepts a document of any kind, for files that mix kinds. */
export const ANY_KIND_SCHEMA_FILE = "capstan.schema.json";

/** DEFAULTS_SCHEMA_FILE is the schema of a directory's `capstan.yaml` defaults file. */
export const DEFAULTS_SCHEMA_FILE = "defaults.schema.json";

/**
 * NAME_PATTERNS are the resource-id rules of each kind, from the API references:
 * Cloud Run service names (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create,
 * `serviceId`), connector names (gcloud's `^[a-z][-a-z0-9]{0,23}[a-z0-9]$`), Cloud SQL
 * instance ids (https://cloud.google.com/sql/docs/postgres/create-instance, "Instance
 * ID") and Compute names (RFC 1035, https://cloud.google.com/compute/docs/naming-resources).
 */
const NAME_PATTERNS: Readonly<Record<Kind, { readonly pattern: string; readonly hint: string }>> = {
  VpcConnector: {
    pattern: "^[a-z][-a-z0-9]{0,23}[a-z0-9]$",
    hint: "2 to 25 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
  SqlInstance: {
    pattern: "^[a-z](?:[-a-z0-9]{0,82}[a-z0-9])?$",
    hint: "1 to 84 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
  BackendService: {
    pattern: "^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$",
    hint: "1 to 63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
  HealthCheck: {
    pattern: "^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$",
    hint: "1 to 63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
  CloudRunService: {
    pattern: "^[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?$",
    hint: "1 to 49 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
  CapacityPolicy: {
    pattern: "^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$",
    hint: "1 to 63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen",
  },
};

/** Project ids: https://cloud.google.com/resource-manager/docs/creating-managing-projects#before_you_begin */
const PROJECT_PATTERN = "^[a-z][-a-z0-9]{4,28}[a-z0-9]$";
const REGION_PATTERN = "^[a-z]+(?:-[a-z]+)+[0-9]+$";

/** Reference grammars: a short name of a spec in the set, or a full name of any resource. */
const REF_PATTERNS = {
  connector: "^(?:[a-z][-a-z0-9]{0,23}[a-z0-9]|projects/[^/]+/locations/[^/]+/connectors/[^/]+)$",
  sqlInstance: "^(?:[a-z](?:[-a-z0-9]{0,82}[a-z0-9])?|[^:/]+:[a-z0-9-]+:[a-z](?:[-a-z0-9]*[a-z0-9])?)$",
  cloudRunService: "^(?:[a-z](?:[-a-z0-9]{0,47}[a-z0-9])?|projects/[^/]+/locations/[^/]+/services/[^/]+)$",
  healthCheck:
    "^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|(?:https://(?:www|compute)\\.googleapis\\.com/compute/v1/)?projects/[^/]+/global/(?:healthChecks|httpHealthChecks|httpsHealthChecks)/[^/]+)$",
  secret: "^(?:[A-Za-z0-9_-]{1,255}|projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255})$",
} as const;

/**
 * GROUP_REFERENCE_PATTERN is a backend's `group` in the forms Compute accepts: a URL, a
 * `projects/P/...` name, or one relative to the backend service's project, of an instance
 * group (zonal or regional) or a zonal, regional or global (internet) NEG
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices, `backends[].group`).
 */
const GROUP_REFERENCE_PATTERN =
  "^(?:(?:https://(?:www|compute)\\.googleapis\\.com/compute/(?:v1|beta|alpha)/)?projects/[^/]+/)?(?:zones/[^/]+|regions/[^/]+|global)/(?:instanceGroups|networkEndpointGroups)/[^/]+$";

const METRIC_PATTERN = "^[a-z][-a-z0-9]*(?:\\.[a-z][-a-z0-9]*)*\\.googleapis\\.com/[A-Za-z0-9_/.]+$";

/**
 * PATTERN_HINTS says in words what each pattern accepts, so a validation message can
 * tell the user what would be valid instead of printing a regular expression.
 */
export const PATTERN_HINTS: ReadonlyMap<string, string> = new Map([
  [UNIT_PATTERNS.duration, "a duration such as `90s`, `5m`, `1h30m` or a number of seconds"],
  [UNIT_PATTERNS.memory, "a memory size such as `512Mi`, `4Gi`, `1G` or a number of bytes"],
  [UNIT_PATTERNS.cpu, "a cpu count such as `1`, `2`, `0.5` or `500m`"],
  [PROJECT_PATTERN, "a project id: 6 to 30 lowercase letters, digits or hyphens, starting with a letter"],
  [REGION_PATTERN, "a region such as `europe-west1` or `us-central1`"],
  [REF_PATTERNS.connector, "a VpcConnector name or `projects/P/locations/R/connectors/NAME`"],
  [REF_PATTERNS.sqlInstance, "a SqlInstance name or a connection name `PROJECT:REGION:INSTANCE`"],
  [REF_PATTERNS.cloudRunService, "a CloudRunService name or `projects/P/locations/R/services/NAME`"],
  [
    REF_PATTERNS.healthCheck,
    "a HealthCheck name or `projects/P/global/healthChecks/NAME` (or a legacy `httpHealthChecks`/`httpsHealthChecks` one)",
  ],
  [REF_PATTERNS.secret, "a secret id or `projects/P/secrets/NAME`"],
  [
    GROUP_REFERENCE_PATTERN,
    "an instance group or NEG: its URL or `projects/P/zones/Z/instanceGroups/NAME` (zones/, regions/ or global/, instanceGroups or networkEndpointGroups)",
  ],
  [METRIC_PATTERN, "a Cloud Monitoring metric type such as `run.googleapis.com/request_latencies`"],
  ...Object.values(NAME_PATTERNS).map((p) => [p.pattern, p.hint] as [string, string]),
]);

const str = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: "string",
  description,
  ...extra,
});
const bool = (description: string, extra: JsonSchema = {}): JsonSchema => ({
  type: "boolean",
  description,
  ...extra,
});
const int = (description: string, minimum?: number, maximum?: number): JsonSchema => ({
  type: "integer",
  description,
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
const num = (description: string, minimum?: number, maximum?: number): JsonSchema => ({
  type: "number",
  description,
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
const rangeInt = (
  what: string,
  r: { readonly min: number; readonly max: number; readonly default?: number },
) =>
  int(
    `${what}, ${r.min} to ${r.max}.${r.default === undefined ? "" : ` GCP default ${r.default}.`}`,
    r.min,
    r.max,
  );
const fraction = (description: string): JsonSchema => ({
  type: "number",
  exclusiveMinimum: 0,
  maximum: 1,
  description,
});
const duration = (description: string): JsonSchema => ({ $ref: "#/$defs/duration", description });
const obj = (
  description: string,
  properties: Readonly<Record<string, JsonSchema>>,
  extra: JsonSchema = {},
): JsonSchema => ({ type: "object", description, properties, additionalProperties: false, ...extra });
const enumOf = (description: string, values: readonly string[]): JsonSchema => ({
  type: "string",
  description,
  enum: values,
});
// Each branch names its property in `properties` too, as ajv's strictRequired asks.
const exactlyOne = (...keys: string[]): JsonSchema => ({
  oneOf: keys.map((k) => ({ required: [k], properties: { [k]: true } })),
});

/** Shared subschemas; each kind's file carries the ones it uses. */
const DEFS: Readonly<Record<string, JsonSchema>> = {
  duration: {
    type: ["integer", "string"],
    minimum: 0,
    pattern: UNIT_PATTERNS.duration,
    description: "A duration: `90s`, `5m`, `1h30m`, `1.5s`, `500ms`, or a whole number of seconds.",
  },
  memory: {
    type: ["integer", "string"],
    minimum: 0,
    pattern: UNIT_PATTERNS.memory,
    description:
      "A memory size: binary `512Mi`, `4Gi` (powers of 1024), decimal `1G`, `500M` (powers of 1000), or a number of bytes.",
  },
  cpu: {
    type: ["number", "string"],
    exclusiveMinimum: 0,
    pattern: UNIT_PATTERNS.cpu,
    description: "vCPUs: `1`, `2`, `4`, `6`, `8`, or a fraction below 1 such as `0.5` or `500m`.",
  },
  stringMap: {
    type: "object",
    additionalProperties: { type: "string" },
    description: "A map of string keys to string values.",
  },
  port: int("A TCP port, 1 to 65535.", 1, 65535),
  probe: {
    type: "object",
    description:
      "A container probe, managed as a whole: fields left out take Cloud Run's defaults. Give exactly one of `httpGet`, `tcpSocket` or `grpc`. Times are durations in whole seconds.",
    additionalProperties: false,
    properties: {
      httpGet: obj("Probe with an HTTP GET; a 2xx or 3xx answer is a success.", {
        path: str("Path to request. Default `/`.", { pattern: "^/" }),
        port: { $ref: "#/$defs/port", description: "Port to probe. Default: the container's serving port." },
      }),
      tcpSocket: obj(
        "Probe by opening a TCP connection. Startup probes only: Cloud Run refuses TCP liveness probes.",
        {
          port: {
            $ref: "#/$defs/port",
            description: "Port to probe. Default: the container's serving port.",
          },
        },
      ),
      grpc: obj("Probe with the gRPC health checking protocol.", {
        port: { $ref: "#/$defs/port", description: "Port to probe. Default: the container's serving port." },
        service: str("Service name to put in the HealthCheckRequest. Default: the server's overall health."),
      }),
      initialDelay: duration(
        "Wait after the container starts before the first probe (`initialDelaySeconds`). Startup: 0 to 240s; liveness: 0 to 3600s. Default 0.",
      ),
      period: duration(
        "Time between probes (`periodSeconds`). Startup: 1 to 240s; liveness: 1 to 3600s. Default 10s. Must be at least `timeout`.",
      ),
      timeout: duration(
        "Time after which one probe counts as failed (`timeoutSeconds`). 1 to 3600s, at most `period`. Default 1s.",
      ),
      failureThreshold: int(
        "Failed probes in a row before the container is considered failed (startup) or restarted (liveness). Default 3.",
        1,
      ),
    },
    ...exactlyOne("httpGet", "tcpSocket", "grpc"),
  },
  secretSelector: obj(
    "A Secret Manager secret version, read by Cloud Run when an instance starts. capstan never reads secret values.",
    {
      name: str("The secret: its id in the service's project, or `projects/P/secrets/NAME`.", {
        pattern: REF_PATTERNS.secret,
      }),
      version: {
        type: ["string", "integer"],
        description:
          "The version to read: a number, an alias, or `latest` to follow new versions on each deploy. Required.",
        pattern: "^(?:latest|[1-9][0-9]*|[A-Za-z][-_A-Za-z0-9]{0,62})$",
        minimum: 1,
      },
    },
    { required: ["name", "version"] },
  ),
  envEntry: {
    type: "object",
    description: "One environment variable: a literal `value` or a `secret`.",
    additionalProperties: false,
    required: ["name"],
    properties: {
      name: str(
        "Variable name. Must not contain `=`; `PORT`, `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION` are reserved.",
        {
          pattern: "^[^=]+$",
        },
      ),
      value: {
        type: ["string", "number", "boolean"],
        description: "Literal value (numbers and booleans become strings).",
      },
      secret: { $ref: "#/$defs/secretSelector" },
    },
    ...exactlyOne("value", "secret"),
  },
  envMapValue: {
    type: ["string", "number", "boolean", "object", "null"],
    description:
      "A literal value, `{secret: {name, version}}` for a Secret Manager version, or `null` to require the variable be absent.",
    additionalProperties: false,
    required: ["secret"],
    properties: { secret: { $ref: "#/$defs/secretSelector" } },
  },
  scaling: obj("Instance count bounds.", {
    minInstances: int("Instances kept warm even with no traffic. 0 lets the service scale to zero.", 0),
    maxInstances: int("Most instances Cloud Run may start. Cloud Run's default is 100.", 1),
  }),
};

function metadataSchema(kind: Kind): JsonSchema {
  const regional = kind === "VpcConnector" || kind === "SqlInstance" || kind === "CloudRunService";
  const global = kind === "BackendService" || kind === "HealthCheck";
  return obj(
    "Identity of the resource. `project` and `region` may come from a `capstan.yaml` in the file's directory or above.",
    {
      name: str(`The GCP resource id: ${NAME_PATTERNS[kind].hint}.`, {
        pattern: NAME_PATTERNS[kind].pattern,
      }),
      project: str("GCP project id. Default: `project` of the nearest `capstan.yaml`.", {
        pattern: PROJECT_PATTERN,
      }),
      ...(global
        ? {}
        : {
            region: str(
              regional
                ? "GCP region. Default: `region` of the nearest `capstan.yaml`."
                : "Region used to resolve short references to regional specs. Default: `region` of the nearest `capstan.yaml`.",
              { pattern: REGION_PATTERN },
            ),
          }),
      labels: {
        $ref: "#/$defs/stringMap",
        description: "capstan's own labels, for selecting specs. Not written to GCP.",
      },
      annotations: {
        $ref: "#/$defs/stringMap",
        type: "object",
        description:
          "Free-form notes, not written to GCP. `capstan run` reads two: `capstan.dev/on-drift` and `capstan.dev/suspend`.",
        properties: {
          "capstan.dev/on-drift": {
            enum: ["correct", "report"],
            description:
              "What `capstan run` does when the live resource drifts from this spec: `correct` it (the default) or only `report` it.",
          },
          "capstan.dev/suspend": {
            enum: ["true", "false"],
            description:
              '`"true"` stops `capstan run` from changing this resource; it is still observed and its status reported.',
          },
        },
      },
    },
    { required: ["name"] },
  );
}

const SPECS: Readonly<Record<Kind, { readonly description: string; readonly spec: JsonSchema }>> = {
  VpcConnector: {
    description:
      "A Serverless VPC Access connector (vpcaccess v1). Instances can be raised in place; lowering them means deleting and recreating the connector, which capstan refuses unless `allowReplacement` is true.",
    spec: obj("Desired settings. Only the fields given are managed.", {
      machineType: enumOf(
        "Machine type of the connector's instances. GCP default `e2-micro`.",
        Object.keys(CONNECTOR_MACHINE_TYPES),
      ),
      minInstances: int(
        `Fewest connector instances, ${CONNECTOR_LIMITS.minInstances.min} to ${CONNECTOR_LIMITS.minInstances.max}. Less than \`maxInstances\`.`,
        CONNECTOR_LIMITS.minInstances.min,
        CONNECTOR_LIMITS.minInstances.max,
      ),
      maxInstances: int(
        `Most connector instances, ${CONNECTOR_LIMITS.maxInstances.min} to ${CONNECTOR_LIMITS.maxInstances.max}. More than \`minInstances\`.`,
        CONNECTOR_LIMITS.maxInstances.min,
        CONNECTOR_LIMITS.maxInstances.max,
      ),
      network: str(
        "VPC network name. Only used when capstan creates the connector; it cannot change afterwards.",
      ),
      ipCidrRange: str(
        "An unused /28 range for the connector, e.g. `10.8.0.0/28`. Only used on creation. Give this or `subnet`.",
        { pattern: "^(?:\\d{1,3}\\.){3}\\d{1,3}/\\d{1,2}$" },
      ),
      subnet: obj(
        "An existing /28 subnet for the connector. Only used on creation. Give this or `ipCidrRange`.",
        {
          name: str("Subnet name (not a URL)."),
          projectId: str("Project of the subnet (Shared VPC host). Default: the connector's project.", {
            pattern: PROJECT_PATTERN,
          }),
        },
        { required: ["name"] },
      ),
      allowReplacement: bool(
        "Consent to delete and recreate the connector when a change cannot be made in place (lowering instances). Traffic through it stops meanwhile. Default false.",
        { default: false },
      ),
    }),
  },
  SqlInstance: {
    description:
      "A Cloud SQL for PostgreSQL instance (sqladmin v1). Changes that restart the instance (tier, restart flags) need `allowRestart: true`.",
    spec: obj("Desired settings. Only the fields given are managed.", {
      databaseVersion: enumOf(
        "Database version, any SqlDatabaseVersion of the Cloud SQL Admin API (e.g. `POSTGRES_16`). Never changed by capstan; used to check flags and to refuse a mismatch with the live instance.",
        SQL_DATABASE_VERSIONS,
      ),
      tier: str(
        "Machine tier: `db-custom-<vCPUs>-<MiB>` (1 or an even number of vCPUs, 0.9 to 6.5 GB per vCPU, a multiple of 256 MiB, at least 3840 MiB), `db-n1-standard-<N>`, `db-n1-highmem-<N>`, `db-f1-micro` or `db-g1-small`. Changing it restarts the instance.",
        { pattern: "^db-[a-z0-9-]+$" },
      ),
      availabilityType: enumOf("`ZONAL`, or `REGIONAL` for high availability with a standby.", [
        "ZONAL",
        "REGIONAL",
      ]),
      dataDiskSizeGb: int("Data disk size in GB, 10 to 65536. It can only grow.", 10, 65536),
      databaseFlags: {
        type: "object",
        description:
          "Database flags by name, e.g. `max_connections: 200`. Numbers are written as digits, booleans as `on`/`off`. `null` means the flag must not be set. Flags not listed are left alone.",
        propertyNames: { pattern: "^[a-z][a-z0-9_.]*$" },
        additionalProperties: { type: ["string", "number", "boolean", "null"] },
      },
      maintenanceWindow: obj("When Google may run maintenance on the instance (UTC).", {
        day: {
          type: ["integer", "string"],
          description: "Day of week: 1 (Monday) to 7, or `MONDAY` ... `SUNDAY`.",
          enum: [
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            "MONDAY",
            "TUESDAY",
            "WEDNESDAY",
            "THURSDAY",
            "FRIDAY",
            "SATURDAY",
            "SUNDAY",
          ],
        },
        hour: int("Hour of day, 0 to 23, UTC.", 0, 23),
        updateTrack: enumOf("Maintenance timing: `canary` (week 1), `stable` (week 2) or `week5`.", [
          "canary",
          "stable",
          "week5",
        ]),
      }),
      allowRestart: bool(
        "Consent to changes that restart the instance (tier, flags such as `max_connections`). Without it capstan refuses them. Default false.",
        { default: false },
      ),
    }),
  },
  HealthCheck: {
    description: "A global Compute Engine health check (compute v1) used by a load balancer backend service.",
    spec: obj("Desired settings. Only the fields given are managed.", {
      type: enumOf("Protocol of the check. Needed when `port` or `requestPath` is given.", [
        "HTTP",
        "HTTPS",
        "HTTP2",
        "TCP",
        "SSL",
        "GRPC",
      ]),
      port: { $ref: "#/$defs/port", description: "Port to check." },
      requestPath: str("Path to request (HTTP, HTTPS and HTTP2 checks). Default `/`.", { pattern: "^/" }),
      checkIntervalSec: rangeInt("Seconds between checks", HEALTH_CHECK_LIMITS.checkIntervalSec),
      timeoutSec: rangeInt(
        "Seconds to wait for an answer, at most `checkIntervalSec`",
        HEALTH_CHECK_LIMITS.timeoutSec,
      ),
      healthyThreshold: rangeInt(
        "Successes in a row that mark a backend healthy",
        HEALTH_CHECK_LIMITS.healthyThreshold,
      ),
      unhealthyThreshold: rangeInt(
        "Failures in a row that mark a backend unhealthy",
        HEALTH_CHECK_LIMITS.unhealthyThreshold,
      ),
      logConfig: obj("Health check logging.", { enable: bool("Log changes of health state.") }),
    }),
  },
  BackendService: {
    description:
      "A global load balancer backend service (compute v1). With serverless NEG backends (Cloud Run), GCP fixes the timeout and refuses health checks.",
    spec: obj("Desired settings. Only the fields given are managed.", {
      protocol: enumOf(
        "Protocol to the backends (BackendService.Protocol of compute v1; UDP and UNSPECIFIED are for regional passthrough load balancers).",
        BACKEND_SERVICE_PROTOCOLS,
      ),
      loadBalancingScheme: enumOf(
        "`EXTERNAL_MANAGED` (global external Application Load Balancer), `EXTERNAL` (classic), `INTERNAL_MANAGED` (cross-region internal Application Load Balancer) or `INTERNAL_SELF_MANAGED` (Traffic Director).",
        BACKEND_SERVICE_SCHEMES,
      ),
      timeoutSec: int(
        "Seconds the load balancer waits for a backend's answer. Not allowed with serverless NEG backends: there the platform fixes it and Cloud Run's request timeout applies.",
        BACKEND_SERVICE_LIMITS.timeoutSec.min,
        BACKEND_SERVICE_LIMITS.timeoutSec.max,
      ),
      connectionDraining: obj("Connection draining when a backend is removed.", {
        drainingTimeoutSec: rangeInt(
          "Seconds to let existing connections finish",
          BACKEND_SERVICE_LIMITS.drainingTimeoutSec,
        ),
      }),
      healthChecks: {
        type: "array",
        description:
          "Health checks: names of HealthCheck specs or `projects/P/global/healthChecks/NAME` (legacy `httpHealthChecks`/`httpsHealthChecks` too). Not allowed with serverless NEG backends.",
        maxItems: 1,
        uniqueItems: true,
        items: { type: "string", pattern: REF_PATTERNS.healthCheck },
      },
      logConfig: obj("Request logging of the load balancer.", {
        enable: bool("Log requests."),
        sampleRate: num("Fraction of requests logged, 0 to 1.", 0, 1),
      }),
      outlierDetection: obj("Ejection of failing backends (compute v1 OutlierDetection).", {
        consecutiveErrors: int("5xx answers in a row that eject a backend. GCP default 5.", 1),
        consecutiveGatewayFailure: int(
          "502/503/504 answers in a row that eject a backend. GCP default 3.",
          1,
        ),
        enforcingConsecutiveErrors: int(
          "Percent chance an ejection by `consecutiveErrors` is enforced, 0 to 100.",
          0,
          100,
        ),
        enforcingConsecutiveGatewayFailure: int(
          "Percent chance an ejection by `consecutiveGatewayFailure` is enforced, 0 to 100.",
          0,
          100,
        ),
        interval: duration("Time between ejection sweeps. GCP default 1s."),
        baseEjectionTime: duration(
          "Base ejection time, multiplied by the number of ejections. GCP default 30s.",
        ),
        maxEjectionPercent: int(
          "Most backends that may be ejected at once, in percent. GCP default 50.",
          0,
          100,
        ),
      }),
      backends: {
        type: "array",
        description:
          "The backends, as a set. A backend service takes serverless NEG backends or other backends, not both.",
        items: {
          type: "object",
          description:
            "A backend: `serverlessNeg` (a Cloud Run service) or `group` (an instance group or other NEG URL).",
          additionalProperties: false,
          properties: {
            serverlessNeg: obj(
              "A serverless network endpoint group that sends traffic to a Cloud Run service.",
              {
                service: str(
                  "The Cloud Run service: a CloudRunService name or `projects/P/locations/R/services/NAME`.",
                  {
                    pattern: REF_PATTERNS.cloudRunService,
                  },
                ),
                region: str("Region of the NEG and service. Default: the CloudRunService spec's region.", {
                  pattern: REGION_PATTERN,
                }),
                name: str(
                  "Name of the NEG resource. Default: the reconciler finds the NEG in `region` that points at `service`.",
                  { pattern: NAME_PATTERNS.BackendService.pattern },
                ),
              },
              { required: ["service"] },
            ),
            group: str(
              "An instance group or a zonal, internet or hybrid NEG: its URL, `projects/P/zones/Z/instanceGroups/NAME`, or the same without `projects/P/` in the backend service's project.",
              { pattern: GROUP_REFERENCE_PATTERN },
            ),
            balancingMode: enumOf("How load is measured (`group` backends only).", [
              "UTILIZATION",
              "RATE",
              "CONNECTION",
            ]),
            capacityScaler: num("Fraction of the backend's capacity to use, 0 to 1.", 0, 1),
            maxUtilization: num("Target utilisation for `UTILIZATION` mode, 0 to 1.", 0, 1),
            maxRatePerInstance: num("Target requests per second per instance for `RATE` mode.", 0),
          },
          ...exactlyOne("serverlessNeg", "group"),
        },
      },
    }),
  },
  CloudRunService: {
    description:
      "A Cloud Run service (run v2). capstan manages the settings below and leaves the rest (image, labels, traffic) to whoever deploys.",
    spec: obj("Desired settings. Only the fields given are managed.", {
      ingress: enumOf("Where requests may come from.", [
        "INGRESS_TRAFFIC_ALL",
        "INGRESS_TRAFFIC_INTERNAL_ONLY",
        "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        "INGRESS_TRAFFIC_NONE",
      ]),
      scaling: {
        $ref: "#/$defs/scaling",
        description:
          "Service-level instance bounds, shared by all revisions that get traffic (`Service.scaling`).",
      },
      template: obj("The revision template: each change deploys a new revision.", {
        scaling: {
          $ref: "#/$defs/scaling",
          description: "Per-revision instance bounds (`template.scaling`).",
        },
        maxConcurrency: int(
          "Most requests one instance serves at once (`maxInstanceRequestConcurrency`), 1 to 1000. Must be 1 when cpu is below 1. Cloud Run's default is 80.",
          1,
          1000,
        ),
        timeout: duration("Request timeout: 1s to 60m. Cloud Run's default is 5m."),
        executionEnvironment: enumOf("`gen1` or `gen2` execution environment. gen2 needs at least 512Mi.", [
          "gen1",
          "gen2",
        ]),
        containerName: str(
          "Which container the settings below apply to. Default: the container that serves requests (the only one with a port).",
        ),
        resources: obj("CPU and memory of the container.", {
          cpu: {
            $ref: "#/$defs/cpu",
            description: "vCPUs: 1, 2, 4, 6, 8, or a fraction below 1 (then concurrency must be 1).",
          },
          memory: {
            $ref: "#/$defs/memory",
            description:
              "Memory limit, e.g. `512Mi`, `4Gi`. From 128Mi (512Mi on gen2) to 32Gi; large sizes need more cpu.",
          },
          cpuIdle: bool(
            "True: CPU only while serving requests (request-based billing). False: CPU always allocated (instance-based billing).",
          ),
          startupCpuBoost: bool("Give the container extra CPU while it starts, to shorten cold starts."),
        }),
        startupProbe: {
          $ref: "#/$defs/probe",
          description: "Probe that decides when a new instance may take traffic. HTTP, TCP or gRPC.",
        },
        livenessProbe: {
          $ref: "#/$defs/probe",
          description: "Probe that restarts a stuck instance. HTTP or gRPC (not TCP).",
        },
        vpcAccess: obj("Egress to a VPC through a Serverless VPC Access connector.", {
          connector: str(
            "The connector: a VpcConnector name in the service's project and region, or `projects/P/locations/R/connectors/NAME`. Same region as the service.",
            { pattern: REF_PATTERNS.connector },
          ),
          egress: enumOf(
            "Which traffic goes through the connector. Cloud Run's default is `PRIVATE_RANGES_ONLY`.",
            ["ALL_TRAFFIC", "PRIVATE_RANGES_ONLY"],
          ),
        }),
        env: {
          type: ["object", "array"],
          description:
            "Environment variables capstan manages; others are left alone. A map (`NAME: value`, `NAME: {secret: {name, version}}`, `NAME: null` to require it absent) or a list of `{name, value}` / `{name, secret}`.",
          propertyNames: { pattern: "^[^=]+$" },
          additionalProperties: { $ref: "#/$defs/envMapValue" },
          items: { $ref: "#/$defs/envEntry" },
        },
        cloudSqlInstances: {
          type: "array",
          description:
            "Cloud SQL instances mounted at /cloudsql: SqlInstance names, or connection names `PROJECT:REGION:INSTANCE` for instances capstan does not manage.",
          uniqueItems: true,
          items: { type: "string", pattern: REF_PATTERNS.sqlInstance },
        },
      }),
    }),
  },
  CapacityPolicy: {
    description:
      "What must hold between Cloud Run services and the capacity they consume (SQL connections, connector throughput), and how fast capstan may move toward it. Not a GCP resource.",
    spec: obj(
      "The policy.",
      {
        members: {
          type: "array",
          description: "The services the policy accounts for.",
          minItems: 1,
          items: obj(
            "One service and what one of its instances consumes.",
            {
              service: str(
                "A CloudRunService spec in this set: its name, or `projects/P/locations/R/services/NAME`.",
                {
                  pattern: REF_PATTERNS.cloudRunService,
                },
              ),
              sqlInstance: str(
                "The SqlInstance its connections count against. Default: the service's only `cloudSqlInstances` entry.",
                { pattern: REF_PATTERNS.sqlInstance },
              ),
              connector: str(
                "The VpcConnector its egress goes through. Default: the service's `vpcAccess.connector`.",
                { pattern: REF_PATTERNS.connector },
              ),
              connectionsPerInstance: int(
                "Database connections one instance opens at most (its pool size).",
                0,
              ),
              egressMbpsPerInstance: num(
                "Egress one instance pushes through the connector at peak, in Mbps.",
                0,
              ),
              dbConnectTimeoutEnv: str(
                "Env var of the service holding its database connect timeout in seconds. Default: the policy's `dbConnectTimeoutEnv`.",
              ),
            },
            { required: ["service"] },
          ),
        },
        dbConnectTimeoutEnv: str(
          "Env var that holds each member's database connect timeout in seconds, checked against its request timeout.",
        ),
        sql: obj("SQL connection budget.", {
          reservedConnections: int("Connections kept for admins, maintenance and replication. Default 0.", 0),
          ceiling: fraction(
            "Highest fraction of max_connections the members may use together, above 0 and at most 1. Default 0.8.",
          ),
        }),
        connector: obj("Connector throughput budget.", {
          ceiling: fraction(
            "Highest fraction of the connector's throughput the members may use together, above 0 and at most 1. Default 0.8.",
          ),
        }),
        rollout: obj("How fast capstan may move.", {
          maxStepFactor: {
            type: "number",
            exclusiveMinimum: 1,
            description:
              "Largest factor one step may multiply or divide a capacity setting by, above 1. Default 2.",
          },
          settleTime: duration("Wait after each step before reading gates. Default 5m."),
          gates: {
            type: "array",
            description: "Metric gates each step must pass; a failing gate rolls the step back.",
            items: obj(
              "One gate.",
              {
                metric: str(
                  "Cloud Monitoring metric type, e.g. `vpcaccess.googleapis.com/connector/cpu/utilizations`.",
                  {
                    pattern: METRIC_PATTERN,
                  },
                ),
                threshold: num("The limit the metric is compared with."),
                failWhen: enumOf(
                  "`above` (default) fails when the metric exceeds `threshold`; `below` when under it.",
                  ["above", "below"],
                ),
                failureLimit: int("Failing samples in a row that fail the step. Default 3.", 1),
                window: duration("Alignment period of each sample. Default 1m."),
              },
              { required: ["metric", "threshold"] },
            ),
          },
        }),
      },
      { required: ["members"] },
    ),
  },
};

/** Collects the `$defs` a schema refers to, transitively. */
function usedDefs(node: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(node)) {
    for (const item of node) usedDefs(item, found);
  } else if (node && typeof node === "object") {
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string" && value.startsWith("#/$defs/")) {
        const name = value.slice("#/$defs/".length);
        if (!found.has(name)) {
          found.add(name);
          usedDefs(DEFS[name], found);
        }
      } else {
        usedDefs(value, found);
      }
    }
  }
  return found;
}

function pickDefs(node: unknown): Record<string, JsonSchema> {
  return Object.fromEntries(
    [...usedDefs(node)].sort().map((name) => {
      const def = DEFS[name];
      if (!def) throw new Error(`schema refers to unknown $defs/${name}`);
      return [name, def];
    }),
  );
}

function kindBody(kind: Kind): JsonSchema {
  const { description, spec } = SPECS[kind];
  return {
    type: "object",
    description,
    additionalProperties: false,
    required: ["apiVersion", "kind", "metadata", "spec"],
    properties: {
      apiVersion: { type: "string", const: API_VERSION, description: `Always \`${API_VERSION}\`.` },
      kind: { type: "string", const: kind, description: `Always \`${kind}\`.` },
      metadata: metadataSchema(kind),
      spec,
    },
  };
}

/** kindSchema returns the self-contained JSON Schema of one kind, as written to schemas/. */
export function kindSchema(kind: Kind): JsonSchema {
  const body = kindBody(kind);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: SCHEMA_BASE_URL + SCHEMA_FILES[kind],
    title: `capstan ${kind}`,
    ...body,
    $defs: pickDefs(body),
  };
}

/**
 * anyKindSchema returns the schema that dispatches on `kind`, for editors of files that
 * hold documents of several kinds.
 */
export function anyKindSchema(): JsonSchema {
  const kinds: Record<string, JsonSchema> = Object.fromEntries(KINDS.map((k) => [k, kindBody(k)]));
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: SCHEMA_BASE_URL + ANY_KIND_SCHEMA_FILE,
    title: "capstan spec (any kind)",
    description: `A capstan document of any kind; \`kind\` selects the schema.`,
    type: "object",
    required: ["apiVersion", "kind"],
    properties: {
      apiVersion: { type: "string", const: API_VERSION, description: `Always \`${API_VERSION}\`.` },
      kind: { type: "string", enum: [...KINDS], description: "The kind of resource." },
    },
    allOf: KINDS.map((k) => ({
      if: { properties: { kind: { const: k } }, required: ["kind"] },
      // biome-ignore lint/suspicious/noThenProperty: `then` is the JSON Schema keyword, not a promise.
      then: { $ref: `#/$defs/kind${k}` },
    })),
    $defs: {
      ...pickDefs(kinds),
      ...Object.fromEntries(KINDS.map((k) => [`kind${k}`, kinds[k]!])),
    },
  };
}

/**
 * defaultsSchema returns the schema of a `capstan.yaml` defaults file: the project and
 * region every spec in its directory and below gets unless the spec says otherwise.
 */
export function defaultsSchema(): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: SCHEMA_BASE_URL + DEFAULTS_SCHEMA_FILE,
    title: "capstan directory defaults (capstan.yaml)",
    description:
      "Defaults for every spec in this directory and below. A nearer capstan.yaml overrides a farther one, field by field; a spec's own metadata overrides both.",
    type: "object",
    additionalProperties: false,
    properties: {
      project: str("Default GCP project id.", { pattern: PROJECT_PATTERN }),
      region: str("Default GCP region.", { pattern: REGION_PATTERN }),
    },
  };
}

/** allSchemaFiles returns every schema file capstan ships, by file name. */
export function allSchemaFiles(): ReadonlyMap<string, JsonSchema> {
  return new Map<string, JsonSchema>([
    ...KINDS.map((k) => [SCHEMA_FILES[k], kindSchema(k)] as [string, JsonSchema]),
    [ANY_KIND_SCHEMA_FILE, anyKindSchema()],
    [DEFAULTS_SCHEMA_FILE, defaultsSchema()],
  ]);
}
