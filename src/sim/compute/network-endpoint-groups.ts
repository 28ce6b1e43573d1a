import { computeUrl, relativeComputeName } from "../../gcp/compute.ts";
import { names } from "../../gcp/names.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import { clone, listPage, numericId, requiredString, resourceNotFound } from "./common.ts";

/** FixtureItem is a resource in a fixture: the API's JSON plus the project it lives in. */
export type FixtureItem = JsonObject & { readonly project?: string };

/**
 * fixtureProject finds the project of a fixture resource: its `project` key, else its
 * `selfLink`, else the section's `project`.
 */
export function fixtureProject(item: FixtureItem, sectionProject: string | undefined, what: string): string {
  const fromLink =
    typeof item["selfLink"] === "string"
      ? /^projects\/([^/]+)\//.exec(relativeComputeName(item["selfLink"]) ?? "")?.[1]
      : undefined;
  const project = item.project ?? fromLink ?? sectionProject;
  if (!project) {
    throw new TypeError(
      `compute: ${what} \`${String(item["name"])}\` needs a \`project\` (or a section-level one)`,
    );
  }
  return project;
}

const SERVERLESS_TARGETS = ["cloudRun", "appEngine", "cloudFunction"] as const;

/**
 * NetworkEndpointGroups simulates regional network endpoint groups, read-only: enough for
 * a backend's `group` URL to resolve to a NEG whose `networkEndpointType` tells whether
 * the backend service is serverless
 * (https://cloud.google.com/compute/docs/reference/rest/v1/regionNetworkEndpointGroups).
 */
export class NetworkEndpointGroups {
  readonly #ctx: SimContext;
  #items = new Map<string, JsonObject>();

  constructor(ctx: SimContext) {
    this.#ctx = ctx;
  }

  /**
   * load replaces the NEGs. Each needs `name` and `region` (a name or URL); server fields
   * are filled as the API fills them, and a NEG that points at Cloud Run, App Engine or
   * Cloud Functions is SERVERLESS with size 0.
   */
  load(items: readonly FixtureItem[], sectionProject: string | undefined): void {
    this.#items = new Map();
    for (const item of items) {
      const { project: _, ...api } = item;
      const project = fixtureProject(item, sectionProject, "network endpoint group");
      const name = api["name"];
      const regionRaw = api["region"];
      if (typeof name !== "string" || typeof regionRaw !== "string") {
        throw new TypeError("compute: a network endpoint group needs `name` and `region`");
      }
      const region = regionRaw.includes("/") ? regionRaw.split("/").at(-1)! : regionRaw;
      const rel = names.computeRegionNeg.format({ project, region, networkEndpointGroup: name });
      const serverless = SERVERLESS_TARGETS.some((k) => api[k] !== undefined);
      const type = api["networkEndpointType"] ?? (serverless ? "SERVERLESS" : undefined);
      if (typeof type !== "string") {
        throw new TypeError(`compute: network endpoint group \`${name}\` needs \`networkEndpointType\``);
      }
      this.#items.set(rel, {
        kind: "compute#networkEndpointGroup",
        id: numericId(rel),
        creationTimestamp: this.#ctx.nowIso(),
        // No default description: a NEG created without one has none
        // (test/fixtures/recorded/compute/network-endpoint-group-cloudrun.json).
        ...api,
        name,
        networkEndpointType: type,
        region: computeUrl(names.computeRegion.format({ project, region })),
        selfLink: computeUrl(rel),
        ...(type === "SERVERLESS" ? { size: 0 } : {}),
      });
    }
  }

  /** dump returns the NEGs in fixture form. */
  dump(): FixtureItem[] {
    return [...this.#items.entries()].map(([rel, json]) => ({
      project: names.computeRegionNeg.parse(rel)!.project,
      ...clone(json),
    }));
  }

  /** byReference returns the NEG a backend's `group` names (full URL or relative), if known. */
  byReference(reference: string): JsonObject | undefined {
    const rel = relativeComputeName(reference);
    return rel ? this.#items.get(rel) : undefined;
  }

  /** isRegionalNegReference tells whether a reference names a regional NEG. */
  isRegionalNegReference(reference: string): boolean {
    const rel = relativeComputeName(reference);
    return rel !== undefined && names.computeRegionNeg.parse(rel) !== undefined;
  }

  /** get serves RegionNetworkEndpointGroups.Get. */
  get(req: SimRequest): JsonObject {
    const rel = names.computeRegionNeg.format({
      project: requiredString(req.body, "project", "project"),
      region: requiredString(req.body, "region", "region"),
      networkEndpointGroup: requiredString(req.body, "networkEndpointGroup", "network_endpoint_group"),
    });
    const neg = this.#items.get(rel);
    if (!neg) throw resourceNotFound(rel);
    return clone(neg);
  }

  /** list serves RegionNetworkEndpointGroups.List. */
  list(req: SimRequest): JsonObject {
    const project = requiredString(req.body, "project", "project");
    const region = requiredString(req.body, "region", "region");
    const prefix = `projects/${project}/regions/${region}/networkEndpointGroups/`;
    const items = [...this.#items.entries()]
      .filter(([rel]) => rel.startsWith(prefix))
      .map(([, j]) => clone(j));
    return listPage(items, req, {
      kind: "compute#networkEndpointGroupList",
      collection: `projects/${project}/regions/${region}/networkEndpointGroups`,
    });
  }
}
