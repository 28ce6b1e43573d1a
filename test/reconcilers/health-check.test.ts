import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { waitForOperation } from "../../src/gcp/operations.ts";
import { HealthCheckWriteError, healthCheckReconciler as rec } from "../../src/reconcilers/health-check.ts";
import type { ResourceRef } from "../../src/reconcilers/types.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { reconcilerTest, specLoader } from "../helpers/reconciler.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const P = "acme-staging";

const FIXTURE: Fixture = {
  durations: { "compute.update": 15 },
  compute: {
    project: P,
    healthChecks: [
      {
        name: "web-hc",
        description: "legacy web tier",
        checkIntervalSec: 10,
        timeoutSec: 5,
        unhealthyThreshold: 3,
        httpHealthCheck: { port: 8080, requestPath: "/healthz", host: "web.internal", response: "ok" },
        logConfig: { enable: true },
      },
      { name: "tcp-hc", type: "TCP", tcpHealthCheck: { port: 5432 } },
      { name: "plain-hc" },
      { name: "serving-port-hc", httpHealthCheck: { portSpecification: "USE_SERVING_PORT" } },
    ],
  },
};

/** hcSpec loads one HealthCheck document through the real spec loader. */
const hcSpec = specLoader("HealthCheck", {
  path: "specs/load-balancer.yaml",
  project: P,
  region: "europe-west1",
});

function refOf(id: string): ResourceRef {
  return { kind: "HealthCheck", project: P, location: "global", id };
}

describe("HealthCheck reconciler", () => {
  let h: SimHarness;
  let gcp: Gcp;

  const { observe, diff, wait, apply, simItem, listInPages } = reconcilerTest({
    reconciler: rec,
    harness: () => h,
    gcp: () => gcp,
    refOf,
    what: "health check update",
    timeoutMs: 600_000,
  });
  /** The health check as the simulator holds it, read outside the API. */
  const simState = (id: string) => simItem("compute", "healthChecks", (c) => c["name"] === id);
  const writes = () => h.sim.requests().filter((e) => e.write && e.rpc.includes("HealthChecks."));

  beforeEach(async () => {
    h = await startSim(FIXTURE);
    gcp = connect(h);
  });
  afterEach(async () => {
    await h.close();
  });

  describe("list and get", () => {
    it("lists every health check of a project across pages, one call per page", async () => {
      const { lists, requests } = await listInPages(
        {
          compute: { project: P, healthChecks: Array.from({ length: 501 }, (_, i) => ({ name: `hc-${i}` })) },
        },
        { project: P, location: "global" },
        501,
        "HealthChecks.List",
      );
      expect(lists[0]!.query).toBe("maxResults=500");
      // Readiness for all of them from one operations list, not one per health check.
      expect(requests.filter((e) => e.rpc.endsWith("GlobalOperations.List"))).toHaveLength(1);
    });

    it("reports each health check with its full name, no version (Compute gives it no fingerprint) and readiness", async () => {
      const listed = await rec.list(gcp, rec.scopeOf(refOf("web-hc")));
      expect(listed.map((o) => o.ref.id).sort()).toEqual(["plain-hc", "serving-port-hc", "tcp-hc", "web-hc"]);
      const web = listed.find((o) => o.ref.id === "web-hc")!;
      expect(web.name).toBe(`projects/${P}/global/healthChecks/web-hc`);
      expect(web.ref).toEqual(refOf("web-hc"));
      expect(web.version).toBeUndefined();
      expect(web.readiness).toEqual({ ready: true });
      expect(rec.fullName(refOf("web-hc"))).toBe(web.name);
    });

    it("answers undefined for a health check that does not exist", async () => {
      expect(await rec.get(gcp, refOf("nope"))).toBeUndefined();
    });

    it("reports a health check not ready while its operation runs, and pending returns a poller for it", async () => {
      // A ten-minute operation (0.6 s real) so the reads below surely land while it runs.
      await h.close();
      h = await startSim({ ...FIXTURE, durations: { "compute.update": 600 } });
      gcp = connect(h);
      const o = await observe("web-hc");
      await rec.write(gcp, o, hcSpec("web-hc", "healthyThreshold: 4"), [
        { path: ["healthyThreshold"], field: "healthyThreshold", before: 2, after: 4 },
      ]);
      const busy = await observe("web-hc");
      expect(busy.readiness).toMatchObject({ ready: false });
      expect(busy.readiness.reason).toMatch(/^patch operation operation-\d+-[0-9a-f]+ is RUNNING$/);
      const listed = await rec.list(gcp, { project: P, location: "global" });
      expect(listed.find((x) => x.ref.id === "web-hc")!.readiness.ready).toBe(false);
      expect(listed.find((x) => x.ref.id === "tcp-hc")!.readiness.ready).toBe(true);
      // A second write now is refused by Compute: the executor waits on `pending` instead.
      await expect(
        rec.write(gcp, busy, hcSpec("web-hc", "healthyThreshold: 5"), [
          { path: ["healthyThreshold"], field: "healthyThreshold", before: 2, after: 5 },
        ]),
      ).rejects.toMatchObject({ code: 3, httpStatusCode: 400 });
      const pending = await rec.pending(gcp, refOf("web-hc"));
      expect(pending).toBeDefined();
      expect(await rec.pending(gcp, refOf("tcp-hc"))).toBeUndefined();
      await waitForOperation(pending!, { clock: h.sim.clock, timeoutMs: 600_000, what: "running op" });
      expect((await observe("web-hc")).readiness).toEqual({ ready: true });
      expect(simState("web-hc")["healthyThreshold"]).toBe(4);
    });
  });

  describe("normalize and desired", () => {
    it("maps the type's sub-message to port and requestPath, with defaults filled", async () => {
      expect(rec.normalize((await observe("web-hc")).live)).toEqual({
        type: "HTTP",
        port: 8080,
        requestPath: "/healthz",
        checkIntervalSec: 10,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
        logConfig: { enable: true },
      });
      expect(rec.normalize((await observe("tcp-hc")).live)).toEqual({
        type: "TCP",
        port: 5432,
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        logConfig: { enable: false },
      });
    });

    it("fills GCP's defaults into a health check that omits them, even as the API object leaves them out", () => {
      expect(rec.normalize({ name: "bare", type: "HTTPS", httpsHealthCheck: {} })).toEqual({
        type: "HTTPS",
        port: 443,
        requestPath: "/",
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        logConfig: { enable: false },
      });
    });

    it("has no port for a check that uses the backend service's serving port", async () => {
      expect(rec.normalize((await observe("serving-port-hc")).live)["port"]).toBeUndefined();
    });

    it("puts only what the spec states into desired", () => {
      expect(rec.desired(hcSpec("web-hc", "checkIntervalSec: 15"))).toEqual({ checkIntervalSec: 15 });
      const d = rec.desired(hcSpec("web-hc", "type: HTTPS\nport: 443\nlogConfig: {enable: false}"));
      expect(d).toEqual({ type: "HTTPS", port: 443, logConfig: { enable: false } });
      expect(JSON.stringify(d)).not.toContain("undefined");
    });

    it("shows no change for a spec that states the live values and GCP's defaults", async () => {
      const spec = hcSpec(
        "plain-hc",
        "type: HTTP\nport: 80\nrequestPath: /\ncheckIntervalSec: 5\ntimeoutSec: 5\nhealthyThreshold: 2\nunhealthyThreshold: 2\nlogConfig: {enable: false}",
      );
      const o = await observe("plain-hc");
      expect(diff(o, spec)).toEqual([]);
    });

    it("diffs a spec against live into exactly the expected field changes", async () => {
      const o = await observe("web-hc");
      const spec = hcSpec(
        "web-hc",
        "type: HTTP\nport: 8081\nrequestPath: /ready\ncheckIntervalSec: 10\ntimeoutSec: 8\nhealthyThreshold: 3\nlogConfig: {enable: false}",
      );
      expect(diff(o, spec)).toEqual<FieldChange[]>([
        { path: ["port"], field: "port", before: 8080, after: 8081 },
        { path: ["requestPath"], field: "requestPath", before: "/healthz", after: "/ready" },
        { path: ["timeoutSec"], field: "timeoutSec", before: 5, after: 8 },
        { path: ["healthyThreshold"], field: "healthyThreshold", before: 2, after: 3 },
        { path: ["logConfig", "enable"], field: "logConfig.enable", before: true, after: false },
      ]);
    });
  });

  describe("write", () => {
    it("writes the changes in one patch, and a re-read then shows no changes", async () => {
      const spec = hcSpec(
        "web-hc",
        "port: 9090\ntype: HTTP\nrequestPath: /ready\ncheckIntervalSec: 20\ntimeoutSec: 10\nhealthyThreshold: 4\nunhealthyThreshold: 6\nlogConfig: {enable: false}",
      );
      const { changes, after } = await apply(spec);
      expect(changes).toHaveLength(7);
      expect(writes().map((e) => e.method)).toEqual(["PATCH"]);
      expect(diff(after, spec)).toEqual([]);
    });

    it("sends only the changed fields, and the type's sub-message whole from live", async () => {
      await apply(hcSpec("web-hc", "type: HTTP\nport: 8081\ncheckIntervalSec: 12"));
      expect(writes()[0]!.body).toEqual({
        checkIntervalSec: 12,
        httpHealthCheck: {
          port: 8081,
          requestPath: "/healthz",
          host: "web.internal",
          response: "ok",
          proxyHeader: "NONE",
        },
      });
    });

    it("leaves every field the spec does not name as it was", async () => {
      const was = simState("web-hc");
      await apply(hcSpec("web-hc", "timeoutSec: 9"));
      const now = simState("web-hc");
      expect(now).toEqual({ ...was, timeoutSec: 9 });
      expect(writes()[0]!.body).toEqual({ timeoutSec: 9 });
    });

    it("changes the type with one update of the whole check, keeping the port and the unmanaged fields", async () => {
      const spec = hcSpec("web-hc", "type: HTTPS");
      const { after } = await apply(spec);
      expect(writes().map((e) => e.method)).toEqual(["PUT"]);
      const now = simState("web-hc");
      expect(now["type"]).toBe("HTTPS");
      // Exactly one sub-message, matching the type, as Compute demands.
      expect(now["httpHealthCheck"]).toBeUndefined();
      expect(now["httpsHealthCheck"]).toMatchObject({
        port: 8080,
        requestPath: "/healthz",
        host: "web.internal",
      });
      expect(now).toMatchObject({
        description: "legacy web tier",
        checkIntervalSec: 10,
        unhealthyThreshold: 3,
      });
      expect(now["logConfig"]).toEqual({ enable: true });
      expect(diff(after, spec)).toEqual([]);
      expect(rec.normalize(after.live)["port"]).toBe(8080);
    });

    it("changes HTTP to TCP with the stated port, dropping the request path TCP has no place for", async () => {
      const spec = hcSpec("plain-hc", "type: TCP\nport: 5432");
      const { after } = await apply(spec);
      expect(simState("plain-hc")["tcpHealthCheck"]).toEqual({ port: 5432, proxyHeader: "NONE" });
      expect(rec.normalize(after.live)).toMatchObject({ type: "TCP", port: 5432 });
      expect(rec.normalize(after.live)["requestPath"]).toBeUndefined();
      expect(diff(after, spec)).toEqual([]);
    });

    it("fixes the port when the spec states one for a check that used the serving port", async () => {
      const spec = hcSpec("serving-port-hc", "type: HTTP\nport: 8080");
      const { after } = await apply(spec);
      expect(simState("serving-port-hc")["httpHealthCheck"]).toMatchObject({
        port: 8080,
        portSpecification: "USE_FIXED_PORT",
      });
      expect(diff(after, spec)).toEqual([]);
    });

    it("has no precondition to send: the last write wins, as Compute offers no fingerprint on health checks", async () => {
      const stale = await observe("web-hc");
      h.sim.edit("compute", {
        kind: "healthCheck",
        name: stale.name,
        patch: { description: "console edit" },
      });
      const w = await rec.write(gcp, stale, hcSpec("web-hc", "timeoutSec: 6"), [
        { path: ["timeoutSec"], field: "timeoutSec", before: 5, after: 6 },
      ]);
      await wait(w.poller!);
      expect(writes()[0]!.body).toEqual({ timeoutSec: 6 });
      // The merge patch carried only the change, so the console's edit survives it.
      expect(simState("web-hc")).toMatchObject({ timeoutSec: 6, description: "console edit" });
    });

    it("surfaces Compute's refusal of a timeout above the interval", async () => {
      const o = await observe("web-hc");
      await expect(
        rec.write(gcp, o, hcSpec("web-hc", "timeoutSec: 11"), [
          { path: ["timeoutSec"], field: "timeoutSec", before: 5, after: 11 },
        ]),
      ).rejects.toMatchObject({
        code: 3,
        httpStatusCode: 400,
        message:
          "Invalid value for field 'resource.timeoutSec': '11'. TimeoutSec should be less than checkIntervalSec.",
      });
    });

    it("writes an intermediate value when a rollout step carries one, not the spec's", async () => {
      const o = await observe("web-hc");
      const w = await rec.write(gcp, o, hcSpec("web-hc", "unhealthyThreshold: 9"), [
        { path: ["unhealthyThreshold"], field: "unhealthyThreshold", before: 3, after: 5 },
      ]);
      await wait(w.poller!);
      expect(simState("web-hc")["unhealthyThreshold"]).toBe(5);
    });

    it("does not write in validate-only mode: the API has none", async () => {
      const o = await observe("web-hc");
      const w = await rec.write(gcp, o, hcSpec("web-hc", "timeoutSec: 6"), [], { validateOnly: true });
      expect(w).toEqual({ poller: undefined, validated: false });
      expect(writes()).toEqual([]);
    });

    it("refuses a request path on a type that has none, and fields it does not write", async () => {
      const o = await observe("tcp-hc");
      const spec = hcSpec("tcp-hc", "timeoutSec: 5");
      const err = await rec
        .write(gcp, o, spec, [
          { path: ["requestPath"], field: "requestPath", before: undefined, after: "/x" },
        ])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HealthCheckWriteError);
      expect((err as Error).message).toContain("a TCP health check has no request path");
      await expect(
        rec.write(gcp, o, spec, [{ path: ["description"], field: "description", before: "", after: "x" }]),
      ).rejects.toMatchObject({ code: "UNWRITABLE_FIELD" });
      expect(writes()).toEqual([]);
    });
  });

  describe("disruptions and checks", () => {
    it("reports no disruption: health checks change in place", async () => {
      const o = await observe("web-hc");
      const spec = hcSpec("web-hc", "type: TCP\nport: 80\ncheckIntervalSec: 30");
      const changes = diff(o, spec);
      expect(changes.map((c) => c.field)).toEqual(["type", "port", "checkIntervalSec"]);
      expect(rec.disruptions(changes, o, spec)).toEqual([]);
    });

    it("reports a timeout above the live interval, which the offline validator cannot see", async () => {
      const web = await observe("web-hc");
      const timeout = await rec.check!(gcp, hcSpec("web-hc", "timeoutSec: 12"), web, []);
      expect(timeout.problems).toHaveLength(1);
      expect(timeout.problems[0]).toContain(
        "timeoutSec 12 is longer than checkIntervalSec 10 (live checkIntervalSec)",
      );
      expect(timeout.problems[0]).toContain("TimeoutSec should be less than checkIntervalSec.");
      expect((await rec.check!(gcp, hcSpec("web-hc", "timeoutSec: 10"), web, [])).problems).toEqual([]);
      // Against the default interval of 5 s on a check that leaves it unset.
      const plain = await observe("plain-hc");
      expect((await rec.check!(gcp, hcSpec("plain-hc", "timeoutSec: 6"), plain, [])).problems).toHaveLength(
        1,
      );
    });
  });
});
