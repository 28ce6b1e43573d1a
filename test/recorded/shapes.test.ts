import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createSimulator, type Fixture } from "../../src/sim/index.ts";
import { fieldPaths, loadCorpus, PLACEHOLDERS, RECORDED_DIR, type Recorded } from "./corpus.ts";

const corpus = loadCorpus();
const ALLOWLIST_FILE = join(RECORDED_DIR, "allowlist.json");

/** Allowlist is the one file of known differences between the simulator and real GCP. */
type Allowlist = Record<string, Record<string, string>>;
const allowlist = JSON.parse(readFileSync(ALLOWLIST_FILE, "utf8")) as Allowlist;

/**
 * settingsOf is what a recorded resource was created with: the request body that created
 * it, when the corpus holds it (so the simulator fills its own defaults and they are
 * compared with GCP's), else the recorded resource itself; with its name either way.
 */
function settingsOf(r: Recorded): Record<string, unknown> {
  return r.sent ? { ...r.sent, name: r.body.name } : r.body;
}

/** HEALTH_CHECKS are the recorded health checks, by relative name, which a seeded backend service may name. */
const HEALTH_CHECKS = corpus.filter((r) => r.status === 200 && r.file.startsWith("compute/health-check-"));

/** seed turns a recorded resource into the simulator fixture holding the same resource. */
function seed(r: Recorded): Fixture | undefined {
  const b = settingsOf(r);
  const project = PLACEHOLDERS["projectId"]!;
  if (r.file.startsWith("sql/instance-")) return { sql: { instances: [b] } };
  if (r.file.startsWith("vpcaccess/connector-")) return { vpcaccess: { connectors: [b] } };
  if (r.file.startsWith("run/service-")) return { run: { services: [b] } };
  if (r.file.startsWith("compute/health-check-")) return { compute: { project, healthChecks: [b] } };
  if (r.file.startsWith("compute/backend-service-")) {
    const named = new Set((b["healthChecks"] as string[] | undefined)?.map((h) => h.split("/").at(-1)));
    const healthChecks = HEALTH_CHECKS.map(settingsOf).filter((h) => named.has(String(h["name"])));
    return { compute: { project, healthChecks, backendServices: [b] } };
  }
  if (r.file.startsWith("compute/network-endpoint-group-")) {
    return {
      compute: { project, networkEndpointGroups: [{ ...b, region: String(b["region"]).split("/").at(-1) }] },
    };
  }
  if (r.file.startsWith("secretmanager/version-")) {
    const secret = String(b["name"])
      .replace(/\/versions\/\d+$/, "")
      .replace(/^projects\/\d+/, `projects/${project}`);
    const state =
      typeof b["state"] === "number" ? ["", "ENABLED", "DISABLED", "DESTROYED"][b["state"]] : b["state"];
    return { secretmanager: { secrets: [{ name: secret, versions: [{ state }] }] } };
  }
  return undefined;
}

/** requestPathOf is where the simulator is asked for the resource: the recorded path, by project id. */
function requestPathOf(r: Recorded): string {
  return r.path.replace(
    `/projects/${PLACEHOLDERS["projectNumber"]}/`,
    `/projects/${PLACEHOLDERS["projectId"]}/`,
  );
}

const resources = corpus.filter((r) => r.status === 200 && seed(r) !== undefined);

describe("the simulator answers with the shapes real GCP answered", () => {
  const found: Allowlist = {};

  it.each(resources.map((r) => [r.file, r] as const))(
    "%s: same field paths, or allowlisted",
    async (file, r) => {
      const allowed = allowlist[file] ?? {};
      for (const [k, why] of Object.entries(allowed)) expect(why, `${file} ${k} needs a reason`).not.toBe("");
      if (r.origin === "mock") {
        // The mock's output says nothing of GCP's shapes: the allowlist says so, whole.
        expect(Object.keys(allowed), `${file} was written by a mock: allowlist it as "*"`).toEqual(["*"]);
        return;
      }
      const sim = createSimulator({ fixture: seed(r)! });
      const answer = await sim.handle("GET", `${requestPathOf(r)}`, "Bearer x", "");
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      const real = fieldPaths(r.body);
      const simulated = fieldPaths(answer.body);
      const diff: Record<string, string> = {};
      for (const p of real) if (!simulated.has(p)) diff[`missing ${p}`] = "";
      for (const p of simulated) if (!real.has(p)) diff[`extra ${p}`] = "";
      found[file] = diff;
      expect(
        Object.keys(diff).sort(),
        "differences not in allowlist.json (or allowlisted ones that no longer differ)",
      ).toEqual(Object.keys(allowed).sort());
    },
  );

  it.skipIf(process.env["CAPSTAN_ALLOWLIST_DRAFT"] !== "1")("drafts the allowlist", () => {
    const out: Allowlist = {};
    for (const [file, why] of Object.entries(allowlist)) if (why["*"]) out[file] = why;
    for (const [file, diff] of Object.entries(found)) {
      if (Object.keys(diff).length === 0) continue;
      out[file] = Object.fromEntries(
        Object.keys(diff)
          .sort()
          .map((k) => [k, allowlist[file]?.[k] ?? ""]),
      );
    }
    writeFileSync(ALLOWLIST_FILE, `${JSON.stringify(out, null, 2)}\n`);
  });
});

/** errorStyle is what a Google error body's shape says: its field paths, canonical status and legacy reason. */
function errorStyle(body: { error?: { status?: string; errors?: { reason?: string }[] } }) {
  return {
    paths: [...fieldPaths(body)].sort(),
    status: body.error?.status,
    reason: body.error?.errors?.[0]?.reason,
  };
}

describe("the simulator's error bodies match the style of each API", () => {
  const missing = corpus.filter((r) => r.status === 404);
  const RECORDED_404: Record<string, Recorded> = Object.fromEntries(
    missing.map((r) => [r.file.split("/")[0], r]),
  );

  it.each(missing.map((r) => [r.file, r] as const))(
    "%s: the simulator's 404 has the same shape",
    async (_file, r) => {
      const sim = createSimulator();
      const answer = await sim.handle("GET", requestPathOf(r), "Bearer x", "");
      expect(answer.status).toBe(404);
      expect(errorStyle(answer.body as never)).toEqual(errorStyle(r.body));
    },
  );

  it("Cloud SQL answers 409 operationInProgress and 412 staleData in the style of its recorded 404", async () => {
    const sim = createSimulator({
      fixture: { sql: { instances: [{ project: "p", name: "db", region: "europe-west1" }] } },
    });
    const patch = (settings: object) =>
      sim.handle("PATCH", "/v1/projects/p/instances/db", "Bearer x", JSON.stringify({ settings }));
    const stale = await patch({ settingsVersion: "99", userLabels: { a: "b" } });
    expect(stale.status).toBe(412);
    const style = errorStyle(RECORDED_404["sql"]!.body);
    expect(errorStyle(stale.body as never)).toEqual({ ...style, reason: "staleData" });
    expect((await patch({ tier: "db-custom-4-15360" })).status).toBe(200);
    const busy = await patch({ userLabels: { c: "d" } });
    expect(busy.status).toBe(409);
    expect(errorStyle(busy.body as never)).toEqual({ ...style, reason: "operationInProgress" });
  });

  it("Compute answers a stale fingerprint with 412 conditionNotMet in the shape of a recorded real 412", async () => {
    const sim = createSimulator({
      fixture: {
        compute: {
          project: "p",
          healthChecks: [{ name: "hc", tcpHealthCheck: { port: 80 } }],
          backendServices: [{ name: "bs", healthChecks: ["global/healthChecks/hc"] }],
        },
      },
    });
    const answer = await sim.handle(
      "PATCH",
      "/compute/v1/projects/p/global/backendServices/bs",
      "Bearer x",
      JSON.stringify({ fingerprint: "c3RhbGU=", timeoutSec: 40 }),
    );
    expect(answer.status).toBe(412);
    const recorded = corpus.find((r) => r.file === "compute/error-412-backend-service-in-use-vcr.json")!;
    expect(recorded.status).toBe(412);
    expect(errorStyle(answer.body as never)).toEqual(errorStyle(recorded.body));
    expect(errorStyle(answer.body as never)).toEqual({
      ...errorStyle(RECORDED_404["compute"]!.body),
      paths: [
        ...errorStyle(RECORDED_404["compute"]!.body).paths,
        "error.errors[].location",
        "error.errors[].locationType",
      ].sort(),
      reason: "conditionNotMet",
    });
  });

  it("Cloud Run answers a stale etag with 409 ABORTED in the canonical style of its recorded 404", async () => {
    const name = "projects/p/locations/europe-west1/services/api";
    const sim = createSimulator({
      fixture: {
        run: { services: [{ name, template: { containers: [{ image: "gcr.io/cloudrun/hello" }] } }] },
      },
    });
    const answer = await sim.handle(
      "PATCH",
      `/v2/${name}`,
      "Bearer x",
      JSON.stringify({ etag: '"stale"', template: { containers: [{ image: "gcr.io/cloudrun/hello:2" }] } }),
    );
    expect(answer.status).toBe(409);
    const style = errorStyle(answer.body as never);
    expect(style.status).toBe("ABORTED");
    // Canonical fields (code, message, status), as the recorded 404; no legacy errors[].
    expect(style.paths.filter((p) => !p.startsWith("error.details"))).toEqual(
      errorStyle(RECORDED_404["run"]!.body).paths,
    );
  });
});
