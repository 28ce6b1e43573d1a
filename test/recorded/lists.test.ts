import { describe, expect, it } from "vitest";
import { ScaledClock } from "../../src/clock/index.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { loadCorpus, RecordedServer } from "./corpus.ts";
import { managedOf, specDocument, specOf } from "./spec-of.ts";

const corpus = loadCorpus();
const file = (name: string) => corpus.find((r) => r.file === name)!;

/** topLevel is the envelope of a list answer: its top-level keys. */
function topLevel(body: unknown): string[] {
  return Object.keys(body as object).sort();
}

describe("list answers built from the recorded resources", () => {
  it("have the envelope of a recorded list of the same API", async () => {
    const server = new RecordedServer(corpus, { pageLimit: 10 });
    const endpoint = await server.listen();
    try {
      const get = async (path: string) =>
        (await (await fetch(`${endpoint}${path}`)).json()) as { kind?: string };
      // Compute: kind, id, items, selfLink (recorded/compute/list-addresses.json).
      const bs = await get("/compute/v1/projects/example-project/global/backendServices");
      expect(topLevel(bs)).toEqual(topLevel(file("compute/list-addresses.json").body));
      expect(bs.kind).toBe("compute#backendServiceList");
      // Cloud SQL: kind and items (recorded/sql/list-users.json).
      const sql = await get("/v1/projects/example-project/instances");
      expect(topLevel(sql)).toEqual(topLevel(file("sql/list-users.json").body));
      expect(sql.kind).toBe("sql#instancesList");
    } finally {
      await server.close();
    }
  });

  it("plan every recorded SQL instance at once, one list page per instance", async () => {
    const instances = corpus.filter((r) => r.status === 200 && managedOf(r.path)?.kind === "SqlInstance");
    expect(instances.length).toBeGreaterThan(2);
    const server = new RecordedServer(instances, { pageLimit: 1 });
    const clients = createClients({ endpoint: await server.listen() });
    try {
      const clock = new ScaledClock({ scale: 1 });
      const gcp = gcpAccess(clients, new GcpCaller({ clock, limiter: new RateLimiter({ clock }) }));
      // The specs are derived from the instances as read one by one...
      const docs: string[] = [];
      for (const r of instances) {
        const m = managedOf(r.path)!;
        const observed = await RECONCILERS.SqlInstance.get(gcp, {
          kind: "SqlInstance",
          project: m.project,
          location: String(r.body.region),
          id: m.name,
        });
        const state = RECONCILERS.SqlInstance.normalize(observed!.live);
        docs.push(specDocument({ ...m, region: String(r.body.region) }, specOf(state, observed!.live)));
      }
      server.requests.length = 0;
      // ...and planned together from the pages of one list.
      const specs = parseSpecSet([{ path: "specs/all.yaml", text: docs.join("---\n") }], [], { cwd: "/" });
      expect(specs.problems).toEqual([]);
      const { plan } = await buildPlan({ specs, gcp, reconcilers: RECONCILERS, clock });
      expect(plan.problems).toEqual([]);
      expect(plan.resources.map((r) => [r.address, r.action])).toEqual(
        instances.map((r) => [`SqlInstance/${managedOf(r.path)!.name}`, "no-op"]),
      );
      const pages = server.requests.filter((q) =>
        q.startsWith("GET /v1/projects/example-project/instances?"),
      );
      expect(pages).toHaveLength(instances.length);
      expect(pages.slice(1).every((q) => /[?&]pageToken=\d+/.test(q))).toBe(true);
    } finally {
      await clients.close();
      await server.close();
    }
  });
});
