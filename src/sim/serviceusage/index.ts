import { API_TITLES } from "../../gcp/permissions.ts";
import { callerLacksPermission, invalidRequest } from "../core/gcp-errors.ts";
import { loadRoot, rpcsOf } from "../core/protos.ts";
import type { JsonObject, SimContext, SimProject, SimService } from "../core/types.ts";

const SVC = "google.api.serviceusage.v1.ServiceUsage";
const API = "serviceusage.googleapis.com";

/** BATCH_GET_LIMIT is how many services one batchGet may name (BatchGetServicesRequest.names, serviceusage.proto). */
const BATCH_GET_LIMIT = 30;

/**
 * serviceUsage simulates the Service Usage v1 reads `capstan doctor` makes
 * (https://cloud.google.com/service-usage/docs/reference/rest/v1/services):
 * `services.get`, `services.batchGet` and `services.list` (with `filter=state:ENABLED`),
 * over the enabled APIs of the fixture's `access:` section. Services are named by
 * project number, as Service Usage answers.
 */
export function serviceUsage(ctx: SimContext): SimService {
  const root = loadRoot("service-usage");
  const projectOf = (parent: unknown): SimProject => {
    const id = /^projects\/([^/]+)/.exec(String(parent))?.[1];
    const p = id === undefined ? undefined : ctx.access.project(id);
    if (!p) throw callerLacksPermission(API);
    return p;
  };
  const service = (p: SimProject, api: string): JsonObject => ({
    name: `projects/${p.number}/services/${api}`,
    parent: `projects/${p.number}`,
    config: { name: api, title: API_TITLES[api] ?? api },
    state: ctx.access.enabled(p, api) ? "ENABLED" : "DISABLED",
  });
  const apiOf = (name: unknown) => String(name).split("/services/")[1] ?? "";
  return {
    api: API,
    key: "serviceusage",
    rpcs: rpcsOf(root, SVC).filter((r) => /\.(GetService|BatchGetServices|ListServices)$/.test(r.fullName)),
    checksProjects: true,
    handlers: {
      [`${SVC}.GetService`]: (req) => service(projectOf(req.body["name"]), apiOf(req.body["name"])),
      [`${SVC}.BatchGetServices`]: (req) => {
        const p = projectOf(req.body["parent"]);
        const names = (req.body["names"] as string[] | undefined) ?? [];
        if (names.length > BATCH_GET_LIMIT) {
          throw invalidRequest(API, `A maximum of ${BATCH_GET_LIMIT} services may be requested at a time.`);
        }
        return { services: names.map((n) => service(p, apiOf(n))) };
      },
      [`${SVC}.ListServices`]: (req) => {
        const p = projectOf(req.body["parent"]);
        const enabledOnly = /state:ENABLED/.test(String(req.body["filter"] ?? ""));
        const all = Object.keys(API_TITLES).map((api) => service(p, api));
        return { services: enabledOnly ? all.filter((s) => s["state"] === "ENABLED") : all };
      },
    },
    load() {},
    dump: () => ({}),
  };
}
