import { callerLacksPermission } from "../core/gcp-errors.ts";
import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimService } from "../core/types.ts";

const SVC = "google.cloud.resourcemanager.v3.Projects";
const API = "cloudresourcemanager.googleapis.com";

/**
 * resourceManager simulates the two Resource Manager v3 calls `capstan doctor` makes
 * (https://cloud.google.com/resource-manager/reference/rest/v3/projects): `projects.get`
 * and `projects.testIamPermissions`, over the projects, identities and grants of the
 * fixture's `access:` section (src/sim/core/access.ts). A project that does not exist
 * answers 403 "The caller does not have permission", as Resource Manager does for a
 * project that is missing or hidden from the caller. Reading a project needs no grant
 * here; testIamPermissions never does (it answers which of the permissions asked about
 * the caller holds).
 */
export function resourceManager(ctx: SimContext): SimService {
  const root = loadRoot("resource-manager");
  const find = (name: unknown) => {
    const id = /^projects\/([^/]+)$/.exec(String(name))?.[1];
    const p = id === undefined ? undefined : ctx.access.project(id);
    if (!p) throw callerLacksPermission(API);
    return p;
  };
  return {
    api: API,
    key: "resourcemanager",
    rpcs: rpcsOf(root, SVC).filter(
      (r) => r.fullName.endsWith(".GetProject") || r.fullName.endsWith(".TestIamPermissions"),
    ),
    checksProjects: true,
    handlers: {
      [`${SVC}.GetProject`]: (req): JsonObject => {
        const p = find(req.body["name"]);
        return {
          name: `projects/${p.number}`,
          projectId: p.id,
          state: "ACTIVE",
          displayName: p.id,
          etag: `W/"${p.number}"`,
        };
      },
      [`${SVC}.TestIamPermissions`]: (req): JsonObject => {
        const p = find(req.body["resource"]);
        const asked = (req.body["permissions"] as string[] | undefined) ?? [];
        return { permissions: asked.filter((perm) => ctx.access.granted(p, req.caller, perm)) };
      },
    },
    load() {},
    dump: () => ({}),
  };
}
