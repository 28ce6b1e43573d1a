import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import { BackendServices } from "./backend-services.ts";
import { HealthChecks } from "./health-checks.ts";
import { type FixtureItem, NetworkEndpointGroups } from "./network-endpoint-groups.ts";
import { ComputeOperations } from "./operations.ts";

export { ComputeError } from "./common.ts";
export { WAIT_DEADLINE_SECONDS } from "./operations.ts";

const PKG = "google.cloud.compute.v1";
const BS = `${PKG}.BackendServices`;
const HC = `${PKG}.HealthChecks`;
const OPS = `${PKG}.GlobalOperations`;
const NEG = `${PKG}.RegionNetworkEndpointGroups`;

/**
 * Fixture section `compute`. Resources are in the API's JSON shape, partial, plus the
 * `project` they live in (or a section-level `project`, or one read from `selfLink`):
 *
 *     compute:
 *       project: acme-staging
 *       networkEndpointGroups:
 *         - {name: api-neg, region: europe-west1, cloudRun: {service: api}}
 *       healthChecks:
 *         - {name: api-hc, checkIntervalSec: 10, timeoutSec: 5}
 *       backendServices:
 *         - name: api-backend
 *           loadBalancingScheme: EXTERNAL_MANAGED
 *           backends: [{group: regions/europe-west1/networkEndpointGroups/api-neg}]
 *
 * Server fields (kind, id, selfLink, creationTimestamp, fingerprint) and defaults are
 * filled as Compute fills them; a resource Compute would refuse fails the load.
 */
export interface ComputeSection {
  readonly project?: string;
  readonly networkEndpointGroups?: readonly FixtureItem[];
  readonly healthChecks?: readonly FixtureItem[];
  readonly backendServices?: readonly FixtureItem[];
}

/** Out-of-band edit kinds: `backendService` and `healthCheck`, named by relative name or URL. */
export type ComputeEditKind = "backendService" | "healthCheck";

/**
 * compute simulates the parts of Compute Engine v1 that front a Cloud Run service:
 * global backend services and health checks, global operations, and regional (serverless)
 * network endpoint groups (https://cloud.google.com/compute/docs/reference/rest/v1).
 */
export function compute(ctx: SimContext): SimService {
  const root = loadRoot("compute");
  const ops = new ComputeOperations(ctx);
  const negs = new NetworkEndpointGroups(ctx);
  const healthChecks = new HealthChecks(ctx, ops, root.lookupType(`${PKG}.HealthCheck`));
  const backendServices = new BackendServices(
    ctx,
    ops,
    negs,
    healthChecks,
    root.lookupType(`${PKG}.BackendService`),
  );
  // Every method of these services is routed; those without a handler answer 501.
  const rpcs = [BS, HC, OPS, NEG].flatMap((svc) => rpcsOf(root, svc));

  return {
    api: "compute.googleapis.com",
    key: "compute",
    rpcs,
    handlers: {
      [`${BS}.List`]: (req) => backendServices.list(req),
      [`${BS}.Get`]: (req) => backendServices.get(req),
      [`${BS}.Patch`]: (req) => backendServices.write(req, "patch"),
      [`${BS}.Update`]: (req) => backendServices.write(req, "update"),
      [`${HC}.List`]: (req) => healthChecks.list(req),
      [`${HC}.Get`]: (req) => healthChecks.get(req),
      [`${HC}.Patch`]: (req) => healthChecks.write(req, "patch"),
      [`${HC}.Update`]: (req) => healthChecks.write(req, "update"),
      [`${OPS}.Get`]: (req) => ops.get(req),
      [`${OPS}.Wait`]: (req) => ops.wait(req),
      [`${OPS}.List`]: (req) => ops.list(req),
      [`${NEG}.Get`]: (req) => negs.get(req),
      [`${NEG}.List`]: (req) => negs.list(req),
    },
    load(section) {
      const sec = (section ?? {}) as ComputeSection;
      ops.reset();
      // NEGs and health checks first: backend services reference them.
      negs.load(sec.networkEndpointGroups ?? [], sec.project);
      healthChecks.load(sec.healthChecks ?? [], sec.project);
      backendServices.load(sec.backendServices ?? [], sec.project);
    },
    dump(): JsonObject {
      ops.settle();
      return {
        networkEndpointGroups: negs.dump(),
        healthChecks: healthChecks.dump(),
        backendServices: backendServices.dump(),
      };
    },
    edit(req) {
      ops.settle();
      switch (req.kind as ComputeEditKind) {
        case "backendService":
          return backendServices.edit(req.name, req.patch);
        case "healthCheck":
          return healthChecks.edit(req.name, req.patch);
        default:
          throw new TypeError(
            `compute: unknown kind \`${req.kind}\`; expected backendService or healthCheck`,
          );
      }
    },
  };
}
