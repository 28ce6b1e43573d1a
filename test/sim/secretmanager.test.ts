import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClients, type GcpClients } from "../../src/gcp/clients.ts";
import { projectNumberOf } from "../../src/sim/core/projects.ts";
import { createSimulator, type Simulator } from "../../src/sim/index.ts";

describe("simulated Secret Manager", () => {
  let sim: Simulator;
  let gcp: GcpClients;
  beforeAll(async () => {
    sim = createSimulator({
      fixture: {
        secretmanager: {
          secrets: [
            {
              name: "projects/p1/secrets/db-password",
              versions: [{ state: "ENABLED" }, { state: "DISABLED" }],
            },
            { name: "projects/p1/secrets/api-key", versions: [{ state: "ENABLED" }] },
          ],
        },
      },
    });
    gcp = createClients({ endpoint: await sim.listen() });
  });
  afterAll(async () => {
    await gcp.close();
    await sim.close();
  });

  it("lists secrets of a project through the real client, following pages", async () => {
    const [secrets] = await gcp.secretManager.listSecrets({ parent: "projects/p1", pageSize: 1 });
    // Named by project number, as GCP names them (recorded/secretmanager/version-enabled.json).
    const number = projectNumberOf("p1");
    expect(secrets.map((s) => s.name).sort()).toEqual([
      `projects/${number}/secrets/api-key`,
      `projects/${number}/secrets/db-password`,
    ]);
    const lists = sim.requests().filter((r) => r.rpc.endsWith("ListSecrets"));
    expect(lists).toHaveLength(2);
  });

  it("resolves latest to the most recently created version, whatever its state", async () => {
    const [v] = await gcp.secretManager.getSecretVersion({
      name: "projects/p1/secrets/db-password/versions/latest",
    });
    expect(v.name).toBe(`projects/${projectNumberOf("p1")}/secrets/db-password/versions/2`);
    // Asked by project number, the same version answers.
    const [again] = await gcp.secretManager.getSecretVersion({ name: v.name! });
    expect(again.state).toBe("DISABLED");
    expect(v.state).toBe("DISABLED");
  });

  it("answers a missing secret with NOT_FOUND", async () => {
    await expect(gcp.secretManager.getSecret({ name: "projects/p1/secrets/nope" })).rejects.toMatchObject({
      code: 5,
    });
  });

  it("refuses a call without a bearer token with 401 UNAUTHENTICATED", async () => {
    const answer = await sim.handle("GET", "/v1/projects/p1/secrets", undefined, "");
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: { status: "UNAUTHENTICATED" } });
  });
});

describe("simulated Secret Manager: golden HTTP log", () => {
  it("records the metadata reads a plan makes, and no payload access", async () => {
    const { startSim } = await import("../helpers/sim.ts");
    const { expectGolden } = await import("../helpers/golden.ts");
    const { normalizeLog } = await import("../../src/sim/core/normalize.ts");
    const h = await startSim(
      {
        secretmanager: {
          secrets: [
            {
              name: "projects/p1/secrets/db-password",
              versions: [{ state: "DESTROYED" }, { state: "ENABLED" }],
            },
          ],
        },
      },
      { captureResponses: true },
    );
    try {
      await h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/db-password" });
      await h.gcp.secretManager.getSecretVersion({ name: "projects/p1/secrets/db-password/versions/latest" });
      await h.gcp.secretManager.listSecretVersions({ parent: "projects/p1/secrets/db-password" });
      expect(h.sim.requests().some((r) => r.path.endsWith(":access"))).toBe(false);
      expectGolden("sim/secretmanager-read-metadata.json", normalizeLog(h.sim.requests()));
    } finally {
      await h.close();
    }
  });
});
