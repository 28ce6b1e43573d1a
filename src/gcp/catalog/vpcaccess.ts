/**
 * Serverless VPC Access connector rules as data and pure functions. The offline spec
 * validator, the capacity model and the simulator all read these, so a rule lives in one
 * place.
 *
 * Sources:
 * - Machine types and their throughput: "Throughput and scaling" in
 *   https://cloud.google.com/vpc/docs/serverless-vpc-access#scaling, which tabulates the
 *   estimated throughput of a connector of 2 to 10 instances: f1-micro 100-500 Mbps,
 *   e2-micro 200-1000 Mbps, e2-standard-4 3200-16000 Mbps, i.e. 50, 100 and 1600 Mbps per
 *   instance.
 * - Instance limits: "The minimum must be at least 2 and the maximum can be at most 10"
 *   (same page); the Terraform provider documents min_instances 2-9 and max_instances
 *   3-10, min lower than max (hashicorp/terraform-provider-google,
 *   google/services/vpcaccess/resource_vpc_access_connector.go).
 * - Only machineType, minInstances and maxInstances are updatable in place
 *   (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest/v1/projects.locations.connectors/patch
 *   and GoogleCloudPlatform/magic-modules#12830), and "max and min instances can only
 *   increase in-place, so we must create a new resource if it is decreased"
 *   (terraform-provider-google, `isInstanceShrinkage`). The machine type may change either
 *   way: the provider's acceptance test moves e2-standard-4 to f1-micro in place
 *   (resource_vpc_access_connector_test.go, UpdateAllMutableFieldsCauseUpdateInPlace).
 */

/** ConnectorMachineType is a machine type a connector can run on. */
export type ConnectorMachineType = "f1-micro" | "e2-micro" | "e2-standard-4";

/** ConnectorMachineTypeInfo is what capstan knows about one connector machine type. */
export interface ConnectorMachineTypeInfo {
  /** Documented estimated throughput of one connector instance, in Mbps. */
  readonly mbpsPerInstance: number;
  /** The documented estimated throughput range of a 2-to-10-instance connector, in Mbps. */
  readonly documentedRangeMbps: readonly [number, number];
}

/**
 * CONNECTOR_MACHINE_TYPES are the machine types a connector can use, with their documented
 * throughput per instance.
 */
export const CONNECTOR_MACHINE_TYPES: Readonly<Record<ConnectorMachineType, ConnectorMachineTypeInfo>> = {
  "f1-micro": { mbpsPerInstance: 50, documentedRangeMbps: [100, 500] },
  "e2-micro": { mbpsPerInstance: 100, documentedRangeMbps: [200, 1000] },
  "e2-standard-4": { mbpsPerInstance: 1600, documentedRangeMbps: [3200, 16000] },
};

/** CONNECTOR_DEFAULT_MACHINE_TYPE is the machine type GCP uses when none is given ("Default is e2-micro"). */
export const CONNECTOR_DEFAULT_MACHINE_TYPE: ConnectorMachineType = "e2-micro";

/** CONNECTOR_LIMITS are the allowed instance counts of a connector, inclusive. */
export const CONNECTOR_LIMITS = {
  minInstances: { min: 2, max: 9 },
  maxInstances: { min: 3, max: 10 },
} as const;

/** CONNECTOR_UPDATABLE_FIELDS are the connector fields a PATCH may name in its update mask. */
export const CONNECTOR_UPDATABLE_FIELDS = ["machineType", "minInstances", "maxInstances"] as const;

/**
 * CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE is how the API derives the legacy
 * `minThroughput`/`maxThroughput` fields from instance counts: 100 Mbps per instance
 * whatever the machine type, because those fields "refer to the expected throughput when
 * using an e2-micro machine type". Observed: 3/4 instances report 300/400, and an
 * e2-standard-4 connector of 5/7 instances reports 500/700
 * (terraform-provider-google resource_vpc_access_connector_test.go;
 * k8s-config-connector testdata vpcaccessconnector/cidrconnector/_http.log).
 */
export const CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE = 100;

/** ConnectorScaling is the part of a connector that sets its capacity. */
export interface ConnectorScaling {
  readonly machineType: string;
  readonly minInstances: number;
  readonly maxInstances: number;
}

/** ConnectorScalingIssue is one rule a connector's scaling breaks, tied to the field at fault. */
export interface ConnectorScalingIssue {
  readonly field: "machineType" | "minInstances" | "maxInstances";
  readonly message: string;
}

/** isConnectorMachineType says whether `s` is a connector machine type. */
export function isConnectorMachineType(s: string): s is ConnectorMachineType {
  return Object.hasOwn(CONNECTOR_MACHINE_TYPES, s);
}

/**
 * connectorScalingIssues returns every rule `desired` breaks, each with its field; with
 * `current` (the live connector) it also flags what cannot change in place.
 */
export function connectorScalingIssues(
  current: ConnectorScaling | undefined,
  desired: ConnectorScaling,
): ConnectorScalingIssue[] {
  const issues: ConnectorScalingIssue[] = [];
  if (!isConnectorMachineType(desired.machineType)) {
    issues.push({
      field: "machineType",
      message: `machineType \`${desired.machineType}\` is not a connector machine type; expected one of ${Object.keys(CONNECTOR_MACHINE_TYPES).join(", ")}`,
    });
  }
  for (const field of ["minInstances", "maxInstances"] as const) {
    const v = desired[field];
    const { min, max } = CONNECTOR_LIMITS[field];
    if (!Number.isInteger(v) || v < min || v > max) {
      issues.push({ field, message: `${field} must be an integer from ${min} to ${max}, got ${v}` });
    }
  }
  if (desired.minInstances >= desired.maxInstances) {
    issues.push({
      field: "maxInstances",
      message: `maxInstances (${desired.maxInstances}) must be greater than minInstances (${desired.minInstances})`,
    });
  }
  if (current) {
    for (const field of ["minInstances", "maxInstances"] as const) {
      if (desired[field] < current[field]) {
        issues.push({
          field,
          message: `${field} can only increase in place (live ${current[field]}, desired ${desired[field]}): a decrease requires replacing the connector`,
        });
      }
    }
  }
  return issues;
}

/**
 * checkConnectorScaling returns a message for every rule `desired` breaks (valid machine
 * type, instance ranges, min below max) and, given the live `current` settings, for every
 * change that cannot be made in place. An empty list means the change is valid.
 */
export function checkConnectorScaling(
  current: ConnectorScaling | undefined,
  desired: ConnectorScaling,
): string[] {
  return connectorScalingIssues(current, desired).map((i) => i.message);
}

/**
 * connectorCapacityMbps is the documented estimated throughput of `instances` connector
 * instances of `machineType`, in Mbps. It throws a TypeError for an unknown machine type.
 */
export function connectorCapacityMbps(machineType: string, instances: number): number {
  if (!isConnectorMachineType(machineType)) {
    throw new TypeError(
      `Expected \`machineType\` to be one of ${Object.keys(CONNECTOR_MACHINE_TYPES).join(", ")}, got \`${machineType}\``,
    );
  }
  return CONNECTOR_MACHINE_TYPES[machineType].mbpsPerInstance * instances;
}

/**
 * connectorThroughputFields returns the `minThroughput`/`maxThroughput` values the API
 * reports for the given instance counts (see CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE).
 */
export function connectorThroughputFields(
  minInstances: number,
  maxInstances: number,
): { minThroughput: number; maxThroughput: number } {
  return {
    minThroughput: minInstances * CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE,
    maxThroughput: maxInstances * CONNECTOR_THROUGHPUT_FIELD_MBPS_PER_INSTANCE,
  };
}
