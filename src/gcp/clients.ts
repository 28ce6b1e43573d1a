// Each client comes from its own module, not its package's index: an index also loads
// every other client of the package and the package's generated message classes
// (build/protos/protos.js: 31 MB for Compute, 8 MB for the others together), which
// capstan never uses; ~240 MB of RSS (bench/run-steady.ts). Same classes, same code.
import { BackendServicesClient } from "@google-cloud/compute/build/src/v1/backend_services_client.js";
import { GlobalOperationsClient } from "@google-cloud/compute/build/src/v1/global_operations_client.js";
import { HealthChecksClient } from "@google-cloud/compute/build/src/v1/health_checks_client.js";
import { RegionNetworkEndpointGroupsClient } from "@google-cloud/compute/build/src/v1/region_network_endpoint_groups_client.js";
import { MetricServiceClient } from "@google-cloud/monitoring/build/src/v3/metric_service_client.js";
import { ProjectsClient } from "@google-cloud/resource-manager/build/src/v3/projects_client.js";
import { RevisionsClient } from "@google-cloud/run/build/src/v2/revisions_client.js";
import { ServicesClient } from "@google-cloud/run/build/src/v2/services_client.js";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager/build/src/v1/secret_manager_service_client.js";
import { ServiceUsageClient } from "@google-cloud/service-usage/build/src/v1/service_usage_client.js";
import { SqlFlagsServiceClient } from "@google-cloud/sql/build/src/v1/sql_flags_service_client.js";
import { SqlInstancesServiceClient } from "@google-cloud/sql/build/src/v1/sql_instances_service_client.js";
import { SqlOperationsServiceClient } from "@google-cloud/sql/build/src/v1/sql_operations_service_client.js";
import { VpcAccessServiceClient } from "@google-cloud/vpc-access/build/src/v1/vpc_access_service_client.js";
import { GoogleAuth, OAuth2Client } from "google-auth-library";
import { prunedGax } from "./protos.ts";

/** Options of {@link createClients}. */
export interface GcpClientOptions {
  /**
   * Where to send every API call instead of Google, e.g. the simulator's
   * `http://127.0.0.1:8089`. Read from `CAPSTAN_GCP_ENDPOINT` when omitted.
   * @default process.env.CAPSTAN_GCP_ENDPOINT, else real GCP
   */
  readonly endpoint?: string | undefined;
  /**
   * Bearer token sent to a custom endpoint. Real GCP uses Application Default
   * Credentials instead and ignores this.
   * @default "capstan-sim-token"
   */
  readonly placeholderToken?: string;
  /**
   * The project google-auth-library reports as the default (see RuntimeOptions.projectId).
   * @default undefined: the library looks it up when asked
   */
  readonly projectId?: string | undefined;
}

/**
 * GcpClients holds one instance of every Google client capstan uses, all in REST
 * transport so that tests against the simulator exercise the production code path.
 */
export interface GcpClients {
  readonly run: { readonly services: ServicesClient; readonly revisions: RevisionsClient };
  readonly sql: {
    readonly instances: SqlInstancesServiceClient;
    readonly operations: SqlOperationsServiceClient;
    readonly flags: SqlFlagsServiceClient;
  };
  readonly vpcAccess: VpcAccessServiceClient;
  readonly compute: {
    readonly backendServices: BackendServicesClient;
    readonly healthChecks: HealthChecksClient;
    readonly globalOperations: GlobalOperationsClient;
    /** Resolves a backend's `group` to its NEG, to tell serverless backends apart. */
    readonly regionNetworkEndpointGroups: RegionNetworkEndpointGroupsClient;
  };
  readonly secretManager: SecretManagerServiceClient;
  readonly monitoring: MetricServiceClient;
  /** Service Usage (which APIs a project has enabled), for `capstan doctor`; made on first use. */
  readonly serviceUsage: ServiceUsageClient;
  /** Resource Manager projects (exists? which permissions?), for `capstan doctor`; made on first use. */
  readonly resourceManager: ProjectsClient;
  /** The authenticated HTTP client, for the few REST calls a library does not expose. */
  readonly auth: GoogleAuth | OAuth2Client;
  /** Base URL of the endpoint when not real GCP, e.g. `http://127.0.0.1:8089`. */
  readonly endpoint: string | undefined;
  /** close releases every client's connections. */
  close(): Promise<void>;
}

/**
 * ClientConstructorOptions is the subset of gax client options capstan sets. The
 * library `.d.ts` types them as `ClientOptions`; spelling them out keeps us honest about
 * what is passed.
 */
type ClientConstructorOptions = {
  fallback: true;
  apiEndpoint?: string;
  port?: number;
  protocol?: "http" | "https";
  authClient?: OAuth2Client;
  auth?: GoogleAuth;
};

/** The Compute services capstan calls, one per Compute client it makes. */
const COMPUTE_SERVICES = [
  "google.cloud.compute.v1.BackendServices",
  "google.cloud.compute.v1.HealthChecks",
  "google.cloud.compute.v1.GlobalOperations",
  "google.cloud.compute.v1.RegionNetworkEndpointGroups",
] as const;

/**
 * createClients makes every GCP client capstan uses. This is the one place clients are
 * created: against real GCP they use Application Default Credentials; against a custom
 * endpoint (the simulator) they speak plain HTTP with a placeholder bearer token.
 */
export function createClients(options: GcpClientOptions = {}): GcpClients {
  const endpoint = options.endpoint ?? process.env["CAPSTAN_GCP_ENDPOINT"] ?? undefined;
  let base: ClientConstructorOptions;
  let auth: GoogleAuth | OAuth2Client;
  if (endpoint) {
    const url = new URL(endpoint);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`Expected \`endpoint\` to be an http(s) URL, got \`${endpoint}\``);
    }
    // tokeninfo goes to the endpoint too: the simulator answers who a token belongs to.
    const oauth = new OAuth2Client({
      endpoints: { tokenInfoUrl: `${endpoint.replace(/\/$/, "")}/tokeninfo` },
    });
    oauth.setCredentials({ access_token: options.placeholderToken ?? "capstan-sim-token" });
    auth = oauth;
    base = {
      fallback: true,
      apiEndpoint: url.hostname,
      port: Number(url.port || (url.protocol === "http:" ? 80 : 443)),
      protocol: url.protocol === "http:" ? "http" : "https",
      authClient: oauth,
    };
  } else {
    const google = new GoogleAuth({
      scopes: ["https://www.googleapis.com/auth/cloud-platform"],
      ...(options.projectId ? { projectId: options.projectId } : {}),
    });
    auth = google;
    base = { fallback: true, auth: google };
  }
  // Compute's clients share one google-gax instance that loads only the part of Compute's
  // descriptor these four services reach (src/gcp/protos.ts): ~35 MB less heap.
  const computeGax = prunedGax(COMPUTE_SERVICES);
  const clients = {
    run: { services: new ServicesClient(base), revisions: new RevisionsClient(base) },
    sql: {
      instances: new SqlInstancesServiceClient(base),
      operations: new SqlOperationsServiceClient(base),
      flags: new SqlFlagsServiceClient(base),
    },
    vpcAccess: new VpcAccessServiceClient(base),
    compute: {
      backendServices: new BackendServicesClient(base, computeGax),
      healthChecks: new HealthChecksClient(base, computeGax),
      globalOperations: new GlobalOperationsClient(base, computeGax),
      regionNetworkEndpointGroups: new RegionNetworkEndpointGroupsClient(base, computeGax),
    },
    secretManager: new SecretManagerServiceClient(base),
    monitoring: new MetricServiceClient(base),
  };
  // Only `capstan doctor` uses these two: made when first asked for, so other commands
  // do not load their descriptors.
  let serviceUsage: ServiceUsageClient | undefined;
  let resourceManager: ProjectsClient | undefined;
  return {
    ...clients,
    get serviceUsage() {
      serviceUsage ??= new ServiceUsageClient(base);
      return serviceUsage;
    },
    get resourceManager() {
      resourceManager ??= new ProjectsClient(base);
      return resourceManager;
    },
    auth,
    endpoint: endpoint ? endpoint.replace(/\/$/, "") : undefined,
    async close() {
      await Promise.all([
        serviceUsage?.close(),
        resourceManager?.close(),
        clients.run.services.close(),
        clients.run.revisions.close(),
        clients.sql.instances.close(),
        clients.sql.operations.close(),
        clients.sql.flags.close(),
        clients.vpcAccess.close(),
        clients.compute.backendServices.close(),
        clients.compute.healthChecks.close(),
        clients.compute.globalOperations.close(),
        clients.compute.regionNetworkEndpointGroups.close(),
        clients.secretManager.close(),
        clients.monitoring.close(),
      ]);
    },
  };
}
