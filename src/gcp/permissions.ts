import type { AnyResource, Kind } from "../spec/types.ts";

/**
 * The IAM permissions capstan needs, per command: one declaration that `capstan doctor`
 * tests (Resource Manager projects.testIamPermissions), the CLI's permission-denied
 * messages name a role from, the simulator enforces, and deploy/iam.md is generated from
 * (test/deploy/iam.test.ts keeps the two equal). Permissions and predefined roles are
 * from https://cloud.google.com/iam/docs/permissions-reference and
 * https://cloud.google.com/iam/docs/roles-permissions (per product: run, cloudsql,
 * vpcaccess, compute, secretmanager, monitoring).
 */

/** Command is a capstan command that talks to GCP. */
export type Command = "plan" | "apply" | "run";

/** COMMANDS are the commands in the order they need more. */
export const COMMANDS: readonly Command[] = ["plan", "apply", "run"];

/**
 * Need says when capstan needs a permission: for a kind of spec (in its project), for the
 * secrets a Cloud Run service references (in the secrets' project), or for the metric
 * gates of a capacity policy (in the policy's project).
 */
export type Need = Exclude<Kind, "CapacityPolicy"> | "secrets" | "gates";

/** PermissionUse is one permission capstan uses. */
export interface PermissionUse {
  readonly permission: string;
  /** The API whose calls need it. */
  readonly api: string;
  /** capstan's calls that need it (CallMeta methods), for messages. */
  readonly methods: readonly string[];
  /** The RPCs (full names) of `api` it authorises, which the simulator checks it on. */
  readonly rpcs: readonly string[];
  /** When it is needed: any of these in a project. */
  readonly needs: readonly Need[];
  /** The commands that need it. */
  readonly commands: readonly Command[];
  /**
   * Commands that use it when granted and go on without it, saying so (plan's
   * server-side validateOnly check of Cloud Run changes).
   */
  readonly optionalFor?: readonly Command[];
  /** The predefined role deploy/iam.md grants it with. */
  readonly role: string;
  /**
   * Where the role is granted when not on the project (testIamPermissions on the project
   * cannot see such a grant, so `capstan doctor` notes it rather than failing).
   */
  readonly grantedOn?: string;
  /** What capstan does with it. */
  readonly why: string;
}

const ALL: readonly Command[] = COMMANDS;
const WRITE: readonly Command[] = ["apply", "run"];
const RUN = "run.googleapis.com";
const SQL = "sqladmin.googleapis.com";
const VPC = "vpcaccess.googleapis.com";
const COMPUTE = "compute.googleapis.com";
const SECRETS = "secretmanager.googleapis.com";
const MONITORING = "monitoring.googleapis.com";
const LRO = "google.longrunning.Operations";
const RUN_SVC = "google.cloud.run.v2.Services";
const SQL_INSTANCES = "google.cloud.sql.v1.SqlInstancesService";
const SQL_OPS = "google.cloud.sql.v1.SqlOperationsService";
const VPC_SVC = "google.cloud.vpcaccess.v1.VpcAccessService";
const C = "google.cloud.compute.v1";
const SECRETS_SVC = "google.cloud.secretmanager.v1.SecretManagerService";

/** PERMISSIONS lists every permission capstan uses, what for and the role that grants it. */
export const PERMISSIONS: readonly PermissionUse[] = [
  {
    permission: "run.services.list",
    api: RUN,
    methods: ["services.list"],
    rpcs: [`${RUN_SVC}.ListServices`],
    needs: ["CloudRunService"],
    commands: ALL,
    role: "roles/run.viewer",
    why: "read Cloud Run services, one list per project and region",
  },
  {
    permission: "run.services.get",
    api: RUN,
    methods: ["services.get"],
    rpcs: [`${RUN_SVC}.GetService`],
    needs: ["CloudRunService"],
    commands: ALL,
    role: "roles/run.viewer",
    why: "re-read a service before writing it and while it becomes ready",
  },
  {
    permission: "run.operations.get",
    api: RUN,
    methods: ["operations.get"],
    rpcs: [`${LRO}.GetOperation`],
    needs: ["CloudRunService"],
    commands: WRITE,
    role: "roles/run.viewer",
    why: "follow the operation of a service update",
  },
  {
    permission: "run.services.update",
    api: RUN,
    methods: ["services.update"],
    rpcs: [`${RUN_SVC}.UpdateService`],
    needs: ["CloudRunService"],
    commands: ALL,
    optionalFor: ["plan"],
    role: "roles/run.developer",
    why: "update services; plan asks Cloud Run to check its changes with validateOnly, which GCP authorises as an update (without it, plan skips that check and says so)",
  },
  {
    permission: "iam.serviceAccounts.actAs",
    api: RUN,
    methods: ["services.update"],
    rpcs: [],
    needs: ["CloudRunService"],
    commands: WRITE,
    role: "roles/iam.serviceAccountUser",
    grantedOn: "the Cloud Run services' runtime service accounts",
    why: "a new revision runs as the service's runtime service account (grant it on that account)",
  },
  {
    permission: "cloudsql.instances.list",
    api: SQL,
    methods: ["instances.list"],
    rpcs: [`${SQL_INSTANCES}.List`],
    needs: ["SqlInstance"],
    commands: ALL,
    role: "roles/cloudsql.viewer",
    why: "read Cloud SQL instances, one list per project",
  },
  {
    permission: "cloudsql.instances.get",
    api: SQL,
    methods: ["instances.get", "operations.get", "operations.list"],
    rpcs: [`${SQL_INSTANCES}.Get`, `${SQL_OPS}.Get`, `${SQL_OPS}.List`],
    needs: ["SqlInstance"],
    commands: ALL,
    role: "roles/cloudsql.viewer",
    why: "re-read an instance and follow its operations (Cloud SQL authorises operations.get and operations.list with it)",
  },
  {
    permission: "cloudsql.instances.update",
    api: SQL,
    methods: ["instances.patch"],
    rpcs: [`${SQL_INSTANCES}.Patch`, `${SQL_INSTANCES}.Update`],
    needs: ["SqlInstance"],
    commands: WRITE,
    role: "roles/cloudsql.editor",
    why: "patch tier, flags and maintenance window",
  },
  {
    permission: "vpcaccess.connectors.list",
    api: VPC,
    methods: ["connectors.list"],
    rpcs: [`${VPC_SVC}.ListConnectors`],
    needs: ["VpcConnector"],
    commands: ALL,
    role: "roles/vpcaccess.viewer",
    why: "read connectors, one list per project and region",
  },
  {
    permission: "vpcaccess.connectors.get",
    api: VPC,
    methods: ["connectors.get"],
    rpcs: [`${VPC_SVC}.GetConnector`],
    needs: ["VpcConnector"],
    commands: ALL,
    role: "roles/vpcaccess.viewer",
    why: "re-read a connector before writing it and while it becomes ready",
  },
  {
    permission: "vpcaccess.operations.get",
    api: VPC,
    methods: ["operations.get"],
    rpcs: [`${LRO}.GetOperation`],
    needs: ["VpcConnector"],
    commands: WRITE,
    role: "roles/vpcaccess.viewer",
    why: "follow the operation of a connector update",
  },
  {
    permission: "vpcaccess.connectors.update",
    api: VPC,
    methods: ["connectors.patch"],
    rpcs: [`${VPC_SVC}.UpdateConnector`],
    needs: ["VpcConnector"],
    commands: WRITE,
    role: "roles/vpcaccess.admin",
    why: "raise machine type and instance counts",
  },
  {
    permission: "compute.backendServices.list",
    api: COMPUTE,
    methods: ["backendServices.list"],
    rpcs: [`${C}.BackendServices.List`],
    needs: ["BackendService"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "read global backend services, one list per project",
  },
  {
    permission: "compute.backendServices.get",
    api: COMPUTE,
    methods: ["backendServices.get"],
    rpcs: [`${C}.BackendServices.Get`],
    needs: ["BackendService"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "re-read a backend service before writing it",
  },
  {
    permission: "compute.regionNetworkEndpointGroups.get",
    api: COMPUTE,
    methods: ["regionNetworkEndpointGroups.get"],
    rpcs: [`${C}.RegionNetworkEndpointGroups.Get`],
    needs: ["BackendService"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "tell serverless NEG backends apart (they refuse timeoutSec and health checks)",
  },
  {
    permission: "compute.regionNetworkEndpointGroups.list",
    api: COMPUTE,
    methods: ["regionNetworkEndpointGroups.list"],
    rpcs: [`${C}.RegionNetworkEndpointGroups.List`],
    needs: ["BackendService"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "resolve a `serverlessNeg: {service}` backend to its NEG",
  },
  {
    permission: "compute.healthChecks.list",
    api: COMPUTE,
    methods: ["healthChecks.list"],
    rpcs: [`${C}.HealthChecks.List`],
    needs: ["HealthCheck"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "read global health checks, one list per project",
  },
  {
    permission: "compute.healthChecks.get",
    api: COMPUTE,
    methods: ["healthChecks.get"],
    rpcs: [`${C}.HealthChecks.Get`],
    needs: ["HealthCheck"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "re-read a health check before writing it",
  },
  {
    permission: "compute.globalOperations.get",
    api: COMPUTE,
    methods: ["globalOperations.get", "globalOperations.wait"],
    rpcs: [`${C}.GlobalOperations.Get`, `${C}.GlobalOperations.Wait`],
    needs: ["BackendService", "HealthCheck"],
    commands: WRITE,
    role: "roles/compute.viewer",
    why: "follow the operation of a backend service or health check update",
  },
  {
    permission: "compute.globalOperations.list",
    api: COMPUTE,
    methods: ["globalOperations.list"],
    rpcs: [`${C}.GlobalOperations.List`],
    needs: ["BackendService", "HealthCheck"],
    commands: ALL,
    role: "roles/compute.viewer",
    why: "see operations still running on backend services and health checks (their readiness), one list per project",
  },
  {
    permission: "compute.backendServices.update",
    api: COMPUTE,
    methods: ["backendServices.patch"],
    rpcs: [`${C}.BackendServices.Patch`, `${C}.BackendServices.Update`],
    needs: ["BackendService"],
    commands: WRITE,
    role: "roles/compute.loadBalancerAdmin",
    why: "patch backend services (with their fingerprint)",
  },
  {
    permission: "compute.healthChecks.update",
    api: COMPUTE,
    methods: ["healthChecks.patch", "healthChecks.update"],
    rpcs: [`${C}.HealthChecks.Patch`, `${C}.HealthChecks.Update`],
    needs: ["HealthCheck"],
    commands: WRITE,
    role: "roles/compute.loadBalancerAdmin",
    why: "patch health checks",
  },
  {
    permission: "secretmanager.versions.list",
    api: SECRETS,
    methods: ["secrets.versions.list"],
    rpcs: [`${SECRETS_SVC}.ListSecretVersions`],
    needs: ["secrets"],
    commands: ALL,
    role: "roles/secretmanager.viewer",
    why: "check that a referenced secret has an enabled version (metadata only; capstan never reads a payload)",
  },
  {
    permission: "secretmanager.versions.get",
    api: SECRETS,
    methods: ["secrets.versions.get"],
    rpcs: [`${SECRETS_SVC}.GetSecretVersion`],
    needs: ["secrets"],
    commands: ALL,
    role: "roles/secretmanager.viewer",
    why: "check a referenced secret version's state (metadata only)",
  },
  {
    permission: "monitoring.timeSeries.list",
    api: MONITORING,
    methods: ["timeSeries.list"],
    rpcs: ["google.monitoring.v3.MetricService.ListTimeSeries"],
    needs: ["gates"],
    commands: WRITE,
    role: "roles/monitoring.viewer",
    why: "read the metrics the capacity policy's gates compare",
  },
];

/** permissionsOf lists the permissions a call (API and CallMeta method) needs. */
export function permissionsOf(api: string, method: string): PermissionUse[] {
  return PERMISSIONS.filter((p) => p.api === api && p.methods.includes(method));
}

/** permissionForRpc names the permission GCP checks on an RPC of an API (what the simulator enforces). */
export function permissionForRpc(api: string, rpc: string): string | undefined {
  return PERMISSIONS.find((p) => p.api === api && p.rpcs.includes(rpc))?.permission;
}

/** rolePermissions lists the permissions of this table a predefined role grants. */
export function rolePermissions(role: string): string[] {
  return PERMISSIONS.filter((p) => p.role === role).map((p) => p.permission);
}

/** Requirement is one permission needed in one project, for a command. */
export interface Requirement {
  readonly project: string;
  readonly use: PermissionUse;
  /** False when the command goes on without it (see PermissionUse.optionalFor). */
  readonly required: boolean;
}

/** neededIn lists, per project, the needs a set of specs has: kinds present, secrets referenced, gates. */
export function neededIn(resources: readonly AnyResource[]): Map<string, Set<Need>> {
  const out = new Map<string, Set<Need>>();
  const add = (project: string, need: Need) => {
    const set = out.get(project) ?? new Set<Need>();
    set.add(need);
    out.set(project, set);
  };
  for (const r of resources) {
    if (r.kind === "CapacityPolicy") {
      if (r.spec.rollout.gates.length > 0) add(r.metadata.project, "gates");
      continue;
    }
    add(r.metadata.project, r.kind);
    if (r.kind === "CloudRunService") {
      for (const e of r.spec.template?.env ?? []) {
        if ("secret" in e)
          add(/^projects\/([^/]+)\//.exec(e.secret.name)?.[1] ?? r.metadata.project, "secrets");
      }
    }
  }
  return out;
}

/**
 * requirements lists what `command` needs for a set of specs, per project: every
 * permission whose need the specs have (a kind present in that project, secrets read
 * from it, gates), in table order.
 */
export function requirements(resources: readonly AnyResource[], command: Command): Requirement[] {
  const out: Requirement[] = [];
  for (const [project, needs] of neededIn(resources)) {
    for (const use of PERMISSIONS) {
      if (!use.needs.some((n) => needs.has(n)) || !use.commands.includes(command)) continue;
      out.push({ project, use, required: !use.optionalFor?.includes(command) });
    }
  }
  return out;
}

/** apisIn lists, per project, the APIs a command needs enabled for a set of specs. */
export function apisIn(resources: readonly AnyResource[], command: Command): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of requirements(resources, command)) {
    const list = out.get(r.project) ?? [];
    if (!list.includes(r.use.api)) list.push(r.use.api);
    out.set(r.project, list);
  }
  return out;
}

/** API_TITLES are the APIs' names as the console shows them, for messages. */
export const API_TITLES: Readonly<Record<string, string>> = {
  [RUN]: "Cloud Run Admin API",
  [SQL]: "Cloud SQL Admin API",
  [VPC]: "Serverless VPC Access API",
  [COMPUTE]: "Compute Engine API",
  [SECRETS]: "Secret Manager API",
  [MONITORING]: "Cloud Monitoring API",
  "cloudresourcemanager.googleapis.com": "Cloud Resource Manager API",
  "serviceusage.googleapis.com": "Service Usage API",
};

function roleList(command: Command): string {
  const uses = PERMISSIONS.filter((p) => p.commands.includes(command));
  const required = new Set(uses.filter((p) => !p.optionalFor?.includes(command)).map((p) => p.role));
  const optional = new Set(uses.filter((p) => !required.has(p.role)).map((p) => p.role));
  return [
    ...[...required].map((r) => `\`${r}\``),
    ...[...optional].map((r) => `\`${r}\` (optional: ${uses.find((p) => p.role === r)!.permission})`),
  ].join(", ");
}

/**
 * renderIamMarkdown renders deploy/iam.md from {@link PERMISSIONS}: the roles per
 * command, then every permission with its role and purpose.
 */
export function renderIamMarkdown(): string {
  const lines = [
    "# IAM: the least privilege capstan needs, per command",
    "",
    "<!-- Generated from src/gcp/permissions.ts by `npm run golden:refresh`; edit that file, not this one. -->",
    "",
    "Grant these to the identity capstan runs as (a user for `plan` on a laptop, the CI",
    "service account for `plan` on pull requests, the `capstan` service account for `apply`",
    "and `run`). All are predefined roles; a custom role with the listed permissions is",
    "tighter still. Only the kinds your specs use matter: `capstan doctor` lists exactly what",
    "your specs need and what the identity lacks, with the command that grants each.",
    "",
    "| command | roles |",
    "|---|---|",
    "| `capstan validate` | none: offline, no credentials, no API call |",
    ...COMMANDS.map((c) => `| \`capstan ${c}\` | ${roleList(c)} |`),
    "",
    "| permission | role | commands | needed for | why |",
    "|---|---|---|---|---|",
    ...PERMISSIONS.map((p) => {
      const commands = p.commands.map((c) => (p.optionalFor?.includes(c) ? `${c} (optional)` : c)).join(", ");
      const need = p.needs
        .map((n) =>
          n === "secrets"
            ? "secrets referenced by CloudRunService env"
            : n === "gates"
              ? "CapacityPolicy gates"
              : n,
        )
        .join(", ");
      return `| \`${p.permission}\` | \`${p.role}\` | ${commands} | ${need} | ${p.why} |`;
    }),
    "",
    "`roles/iam.serviceAccountUser` is granted on the Cloud Run services' runtime service",
    "accounts, not on the project. capstan never needs `*.create`, `*.delete` or",
    "`secretmanager.versions.access` on the resources it reconciles.",
    "",
    // The lease is not a resource capstan reconciles, and its grant is on a bucket or a
    // Kubernetes namespace, which projects.testIamPermissions cannot see; the role is
    // src/lease/gcs.ts's GCS_LEASE_ROLE (test/deploy/manifests.test.ts checks it is named here).
    "The lease of `capstan run` needs its own grant, on the lease alone:",
    "- `--lease gs://BUCKET/OBJECT` (deploy/cloud-run): `roles/storage.objectUser` on that",
    "  bucket (`storage.objects.get`, `storage.objects.create` to create the lease object,",
    "  `storage.objects.update` to renew it). Put the lease in a bucket of its own.",
    "- `--lease k8s://NAMESPACE/NAME` (deploy/kubernetes): a Kubernetes Role with `get` and",
    "  `update` on that Lease and `create` on leases in the namespace; no GCP role.",
    "",
  ];
  return lines.join("\n");
}
