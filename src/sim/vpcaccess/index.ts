import { loadRoot, rpc, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";
import { type ConnectorInput, Connectors, UPDATE_CONNECTOR_RPC, updateConnectorRpc } from "./connectors.ts";
import { OperationStore } from "./operations.ts";

const SVC = "google.cloud.vpcaccess.v1.VpcAccessService";
const OPS = "google.longrunning.Operations";

/**
 * VpcAccessSection is the fixture section `vpcaccess`:
 * `{connectors: [{name: projects/p/locations/l/connectors/c, machineType?, minInstances?,
 * maxInstances?, network? | subnet?, ipCidrRange?, connectedProjects?, state?}]}`.
 * Omitted fields get GCP's defaults (e2-micro, 2-10 instances, network `default`); the
 * throughput fields are always derived from the instance counts, as GCP derives them.
 */
export interface VpcAccessSection {
  readonly connectors?: readonly ConnectorInput[];
}

/**
 * vpcAccess simulates Serverless VPC Access v1
 * (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest): connectors with their
 * create/delete/patch operations, and the Operations mixin the client polls. Durations
 * (seconds) can be set in the fixture as `vpcaccess.create`, `vpcaccess.update`,
 * `vpcaccess.delete`. Out-of-band edits take kind `connector`.
 */
export function vpcAccess(ctx: SimContext): SimService {
  const root = loadRoot("vpc-access");
  const ops = new OperationStore(ctx);
  const connectors = new Connectors(ctx, ops);
  // The Operations mixin's HTTP rules live in the client, not the protos:
  // node_modules/@google-cloud/vpc-access/build/src/v1/vpc_access_service_client.js, lroOptions.httpRules.
  const mixins = [
    rpc(
      root,
      `${OPS}.GetOperation`,
      "google.longrunning.GetOperationRequest",
      "google.longrunning.Operation",
      [{ method: "GET", template: "/v1/{name=projects/*/locations/*/operations/*}" }],
    ),
    rpc(
      root,
      `${OPS}.ListOperations`,
      "google.longrunning.ListOperationsRequest",
      "google.longrunning.ListOperationsResponse",
      [{ method: "GET", template: "/v1/{name=projects/*/locations/*}/operations" }],
    ),
  ];

  return {
    api: "vpcaccess.googleapis.com",
    key: "vpcaccess",
    rpcs: [...rpcsOf(root, SVC), updateConnectorRpc(root), ...mixins],
    handlers: {
      [`${SVC}.GetConnector`]: (req) => connectors.get(String(req.body["name"])),
      [`${SVC}.ListConnectors`]: (req) => connectors.list(req.body),
      [`${SVC}.CreateConnector`]: (req) => connectors.create(req),
      [`${SVC}.DeleteConnector`]: (req) => connectors.delete(req),
      [UPDATE_CONNECTOR_RPC]: (req) => connectors.update(req),
      [`${OPS}.GetOperation`]: (req) => ops.get(String(req.body["name"])),
      [`${OPS}.ListOperations`]: (req) => ops.list(req.body),
    },
    load(section) {
      const sec = (section ?? {}) as VpcAccessSection;
      ops.clear();
      connectors.load(sec.connectors ?? []);
    },
    dump(): JsonObject {
      return { connectors: connectors.dump() };
    },
    edit(req) {
      // `{kind: "connector", name, patch: {minInstances: 4, ...}}`
      if (req.kind !== "connector") {
        throw new TypeError(`vpcaccess: unknown kind \`${req.kind}\`; expected connector`);
      }
      return connectors.edit(req.name, req.patch);
    },
  };
}
