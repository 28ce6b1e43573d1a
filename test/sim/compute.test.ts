import type { protos } from "@google-cloud/compute";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkBackendServiceSettings,
  checkHealthCheckTiming,
  HEALTH_CHECK_LIMITS,
  invalidFieldMessage,
  type ServerlessRejectedField,
  serverlessNegRejects,
} from "../../src/gcp/catalog/compute.ts";
import {
  computeOperationPoller,
  isServerlessBackendService,
  operationStatusOf,
  relativeComputeName,
} from "../../src/gcp/compute.ts";
import { names } from "../../src/gcp/names.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import { createSimulator, type Fixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const P = "acme";
const NEG_URL = `https://www.googleapis.com/compute/v1/projects/${P}/regions/europe-west1/networkEndpointGroups/api-neg`;

function fixture(extra: Partial<Fixture> = {}): Fixture {
  return {
    compute: {
      project: P,
      networkEndpointGroups: [
        { name: "api-neg", region: "europe-west1", cloudRun: { service: "api" } },
        { name: "web-neg", region: "europe-west1", cloudRun: { service: "web" } },
      ],
      healthChecks: [
        { name: "api-hc", checkIntervalSec: 10, timeoutSec: 5, httpHealthCheck: { requestPath: "/healthz" } },
        { name: "vm-hc" },
      ],
      backendServices: [
        {
          name: "api-backend",
          loadBalancingScheme: "EXTERNAL_MANAGED",
          backends: [{ group: "regions/europe-west1/networkEndpointGroups/api-neg" }],
        },
        {
          name: "web-backend",
          loadBalancingScheme: "EXTERNAL_MANAGED",
          protocol: "HTTPS",
          backends: [{ group: "regions/europe-west1/networkEndpointGroups/web-neg" }],
        },
        {
          name: "vm-backend",
          healthChecks: ["global/healthChecks/vm-hc"],
          connectionDraining: { drainingTimeoutSec: 30 },
        },
      ],
    },
    ...extra,
  };
}

/**
 * latest reads the compute#operation from the LRO wrapper the compute client returns
 * (typed there as a google.longrunning.Operation, which it is not).
 */
function latest(lro: { latestResponse?: unknown }): protos.google.cloud.compute.v1.IOperation {
  return lro.latestResponse as protos.google.cloud.compute.v1.IOperation;
}

/** opName is the name of the operation a write started. */
function opName(lro: { latestResponse?: unknown }): string {
  return String(latest(lro).name);
}

describe("simulated Compute Engine", () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await startSim(fixture());
  });
  afterAll(async () => {
    await h.close();
  });

  const bs = () => h.gcp.compute.backendServices;
  const hcs = () => h.gcp.compute.healthChecks;
  const ops = () => h.gcp.compute.globalOperations;

  /** settle waits for a write's operation through the real wait method. */
  async function settle(lro: { latestResponse?: unknown }) {
    const [done] = await ops().wait({ project: P, operation: opName(lro) });
    expect(done.status).toBe("DONE");
    return done;
  }

  describe("reads", () => {
    it("lists backend services page by page with maxResults, as the client follows nextPageToken", async () => {
      const before = h.sim.requests().length;
      const [items] = await bs().list({ project: P, maxResults: 1 });
      expect(items.map((b) => b.name)).toEqual(["api-backend", "vm-backend", "web-backend"]);
      const lists = h.sim
        .requests(0)
        .slice(before)
        .filter((r) => r.rpc.endsWith("BackendServices.List"));
      expect(lists).toHaveLength(3);
      expect(lists[0]!.query).toBe("maxResults=1");
    });

    it("filters lists with Compute's filter expressions", async () => {
      const byName = (filter: string) =>
        bs()
          .list({ project: P, filter })
          .then(([items]) => items.map((b) => b.name));
      expect(await byName('name = "vm-backend"')).toEqual(["vm-backend"]);
      expect(await byName("name != vm-backend")).toEqual(["api-backend", "web-backend"]);
      expect(await byName("(loadBalancingScheme = EXTERNAL_MANAGED) (protocol = HTTPS)")).toEqual([
        "web-backend",
      ]);
      expect(await byName("name eq '.*-backend'")).toHaveLength(3);
      expect(await byName("name eq 'api'")).toEqual([]);
      expect(await byName("connectionDraining.drainingTimeoutSec > 10")).toEqual(["vm-backend"]);
      expect(await byName("healthChecks:*")).toEqual(["vm-backend"]);
      expect(await byName("name = api-backend OR name = web-backend")).toEqual([
        "api-backend",
        "web-backend",
      ]);
    });

    it("refuses a filter it cannot parse with 400 invalid", async () => {
      await expect(bs().list({ project: P, filter: "name = (" })).rejects.toMatchObject({
        code: 3,
        httpStatusCode: 400,
        message: "Invalid value for field 'filter': 'name = ('. Invalid list filter expression.",
      });
    });

    it("refuses maxResults above 500, the documented maximum", async () => {
      await expect(bs().list({ project: P, maxResults: 501 })).rejects.toMatchObject({ code: 3 });
    });

    it("fills the server-side fields and defaults of a backend service with serverless NEG backends", async () => {
      const [b] = await bs().get({ project: P, backendService: "api-backend" });
      expect(b).toMatchObject({
        kind: "compute#backendService",
        name: "api-backend",
        selfLink: `https://www.googleapis.com/compute/v1/projects/${P}/global/backendServices/api-backend`,
        loadBalancingScheme: "EXTERNAL_MANAGED",
        sessionAffinity: "NONE",
        connectionDraining: { drainingTimeoutSec: 0 },
        backends: [{ group: NEG_URL, capacityScaler: 1 }],
      });
      expect(b.id).toMatch(/^\d{15,20}$/);
      expect(b.fingerprint).toMatch(/^[A-Za-z0-9+/]{11}=$/);
      expect(Date.parse(String(b.creationTimestamp))).not.toBeNaN();
      // Serverless backends refuse a timeout, a port name and health checks: none is filled.
      expect(b.timeoutSec).toBeUndefined();
      expect(b.portName).toBeUndefined();
      expect(b.port).toBeUndefined();
      expect(b.healthChecks).toEqual([]);
      // Protocol defaults to HTTP; an unset CDN is not reported
      // (recorded/compute/backend-service-self-managed-vcr.json, recorded against real GCP).
      expect(b.protocol).toBe("HTTP");
      expect(b.enableCDN).toBeUndefined();
    });

    it("fills timeoutSec 30, port 80 and port name http for backends that are not serverless", async () => {
      const [b] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(b).toMatchObject({
        timeoutSec: 30,
        port: 80,
        portName: "http",
        protocol: "HTTP",
        loadBalancingScheme: "EXTERNAL",
        connectionDraining: { drainingTimeoutSec: 30 },
        healthChecks: [`https://www.googleapis.com/compute/v1/projects/${P}/global/healthChecks/vm-hc`],
      });
    });

    it("fills a health check's documented defaults", async () => {
      const [hc] = await hcs().get({ project: P, healthCheck: "vm-hc" });
      expect(hc).toMatchObject({
        kind: "compute#healthCheck",
        type: "HTTP",
        checkIntervalSec: 5,
        timeoutSec: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 2,
        httpHealthCheck: { port: 80, requestPath: "/", proxyHeader: "NONE" },
        selfLink: `https://www.googleapis.com/compute/v1/projects/${P}/global/healthChecks/vm-hc`,
      });
      const [hcs2] = await hcs().list({ project: P });
      expect(hcs2.map((x) => x.name)).toEqual(["api-hc", "vm-hc"]);
    });

    it("answers a missing resource with Compute's 404: code 5, no ErrorInfo reason", async () => {
      const err = await bs()
        .get({ project: P, backendService: "nope" })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 5,
        httpStatusCode: 404,
        message: `The resource 'projects/${P}/global/backendServices/nope' was not found`,
      });
      expect((err as { reason?: string }).reason).toBeUndefined();
      const raw = await h.sim.handle(
        "GET",
        `/compute/v1/projects/${P}/global/healthChecks/nope`,
        "Bearer t",
        "",
      );
      expect(raw).toEqual({
        status: 404,
        body: {
          error: {
            code: 404,
            message: `The resource 'projects/${P}/global/healthChecks/nope' was not found`,
            errors: [
              {
                message: `The resource 'projects/${P}/global/healthChecks/nope' was not found`,
                domain: "global",
                reason: "notFound",
              },
            ],
          },
        },
      });
    });

    it("resolves a backend's group URL to a serverless NEG naming its Cloud Run service", async () => {
      const [b] = await bs().get({ project: P, backendService: "api-backend" });
      const ref = names.computeRegionNeg.parse(relativeComputeName(b.backends![0]!.group!)!)!;
      const [neg] = await h.gcp.compute.regionNetworkEndpointGroups.get(ref);
      expect(neg).toMatchObject({
        kind: "compute#networkEndpointGroup",
        networkEndpointType: "SERVERLESS",
        cloudRun: { service: "api" },
        selfLink: NEG_URL,
        region: `https://www.googleapis.com/compute/v1/projects/${P}/regions/europe-west1`,
      });
      const [negs] = await h.gcp.compute.regionNetworkEndpointGroups.list({
        project: P,
        region: "europe-west1",
      });
      expect(negs.map((n) => n.name)).toEqual(["api-neg", "web-neg"]);
      expect(await isServerlessBackendService(connect(h), b)).toBe(true);
      const [vm] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(await isServerlessBackendService(connect(h), vm)).toBe(false);
      await expect(
        h.gcp.compute.regionNetworkEndpointGroups.get({
          project: P,
          region: "europe-west1",
          networkEndpointGroup: "nope",
        }),
      ).rejects.toMatchObject({ code: 5 });
    });
  });

  describe("health check writes", () => {
    it("patches through a RUNNING compute#operation that lands when it is DONE", async () => {
      const [lro] = await hcs().patch({
        project: P,
        healthCheck: "api-hc",
        healthCheckResource: { checkIntervalSec: 15, unhealthyThreshold: 4 },
      });
      const started = latest(lro);
      expect(started).toMatchObject({
        kind: "compute#operation",
        operationType: "patch",
        status: "RUNNING",
        progress: 0,
        targetLink: `https://www.googleapis.com/compute/v1/projects/${P}/global/healthChecks/api-hc`,
      });
      expect(started.name).toMatch(/^operation-\d+-[0-9a-f]+$/);
      expect(started.selfLink).toBe(
        `https://www.googleapis.com/compute/v1/projects/${P}/global/operations/${started.name}`,
      );
      const [hcBefore] = await hcs().get({ project: P, healthCheck: "api-hc" });
      expect(started.targetId).toBe(hcBefore.id);
      const done = await settle(lro);
      expect(done.progress).toBe(100);
      expect(done.endTime).toBeTruthy();
      expect(done.error).toBeFalsy();
      const [hc] = await hcs().get({ project: P, healthCheck: "api-hc" });
      expect(hc).toMatchObject({
        checkIntervalSec: 15,
        unhealthyThreshold: 4,
        timeoutSec: 5,
        httpHealthCheck: { requestPath: "/healthz" },
      });
    });

    it("replaces the whole health check on update, omitted fields returning to their defaults", async () => {
      const [current] = await hcs().get({ project: P, healthCheck: "api-hc" });
      const [lro] = await hcs().update({
        project: P,
        healthCheck: "api-hc",
        healthCheckResource: { name: current.name, type: "HTTP", checkIntervalSec: 20, timeoutSec: 10 },
      });
      expect(latest(lro).operationType).toBe("update");
      await settle(lro);
      const [hc] = await hcs().get({ project: P, healthCheck: "api-hc" });
      expect(hc).toMatchObject({ checkIntervalSec: 20, timeoutSec: 10, unhealthyThreshold: 2 });
      expect(hc.httpHealthCheck?.requestPath).toBe("/");
      expect(hc.id).toBe(current.id);
    });

    it.each([
      [
        { checkIntervalSec: 5, timeoutSec: 6 },
        "Invalid value for field 'resource.timeoutSec': '6'. TimeoutSec should be less than checkIntervalSec.",
      ],
      [
        { unhealthyThreshold: 12 },
        "Invalid value for field 'resource.unhealthyThreshold': '12'. Must be less than or equal to 10",
      ],
      [
        { healthyThreshold: 0 },
        "Invalid value for field 'resource.healthyThreshold': '0'. Must be greater than or equal to 1",
      ],
      [
        { checkIntervalSec: 301 },
        "Invalid value for field 'resource.checkIntervalSec': '301'. Must be less than or equal to 300",
      ],
    ])("refuses the timing %j with 400 invalid and GCP's message", async (patch, message) => {
      await expect(
        hcs().patch({ project: P, healthCheck: "vm-hc", healthCheckResource: patch }),
      ).rejects.toMatchObject({ code: 3, httpStatusCode: 400, message });
    });

    it("accepts a timeout equal to the interval, which the API allows", async () => {
      const [lro] = await hcs().patch({
        project: P,
        healthCheck: "vm-hc",
        healthCheckResource: { checkIntervalSec: 7, timeoutSec: 7 },
      });
      await settle(lro);
      const [hc] = await hcs().get({ project: P, healthCheck: "vm-hc" });
      expect(hc).toMatchObject({ checkIntervalSec: 7, timeoutSec: 7 });
    });

    it("answers a write to a missing health check with 404", async () => {
      await expect(
        hcs().patch({ project: P, healthCheck: "nope", healthCheckResource: { checkIntervalSec: 7 } }),
      ).rejects.toMatchObject({ code: 5, httpStatusCode: 404 });
    });

    it("refuses a field the resource does not have with the ESF's 400", async () => {
      const answer = await h.sim.handle(
        "PATCH",
        `/compute/v1/projects/${P}/global/healthChecks/vm-hc`,
        "Bearer t",
        JSON.stringify({ checkIntervalSecs: 7 }),
      );
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toContain('Unknown name \\"checkIntervalSecs\\"');
    });
  });

  describe("backend service writes", () => {
    it("patches with the current fingerprint and changes the fingerprint when the operation lands", async () => {
      const [before] = await bs().get({ project: P, backendService: "vm-backend" });
      const [lro] = await bs().patch({
        project: P,
        backendService: "vm-backend",
        backendServiceResource: { timeoutSec: 60, fingerprint: before.fingerprint },
      });
      await settle(lro);
      const [after] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(after.timeoutSec).toBe(60);
      expect(after.fingerprint).not.toBe(before.fingerprint);
      // The old fingerprint is now stale: 412 conditionNotMet, which the client reports as code 9.
      await expect(
        bs().patch({
          project: P,
          backendService: "vm-backend",
          backendServiceResource: { timeoutSec: 90, fingerprint: before.fingerprint },
        }),
      ).rejects.toMatchObject({ code: 9, httpStatusCode: 412, message: "Precondition Failed" });
      const raw = await h.sim.handle(
        "PATCH",
        `/compute/v1/projects/${P}/global/backendServices/vm-backend`,
        "Bearer t",
        JSON.stringify({ timeoutSec: 90, fingerprint: before.fingerprint }),
      );
      expect(raw.body).toMatchObject({ error: { code: 412, errors: [{ reason: "conditionNotMet" }] } });
    });

    it("accepts a patch without a fingerprint but refuses an update without one", async () => {
      const [lro] = await bs().patch({
        project: P,
        backendService: "vm-backend",
        backendServiceResource: { connectionDraining: { drainingTimeoutSec: 45 } },
      });
      await settle(lro);
      const [current] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(current.connectionDraining?.drainingTimeoutSec).toBe(45);
      const { fingerprint: _, ...withoutFingerprint } = current;
      await expect(
        bs().update({ project: P, backendService: "vm-backend", backendServiceResource: withoutFingerprint }),
      ).rejects.toMatchObject({
        code: 3,
        httpStatusCode: 400,
        message: "Required field 'resource.fingerprint' not specified",
      });
    });

    it("replaces the whole backend service on update with a fresh fingerprint", async () => {
      const [current] = await bs().get({ project: P, backendService: "vm-backend" });
      const [lro] = await bs().update({
        project: P,
        backendService: "vm-backend",
        backendServiceResource: {
          name: "vm-backend",
          fingerprint: current.fingerprint,
          healthChecks: current.healthChecks,
          timeoutSec: 120,
        },
      });
      await settle(lro);
      const [after] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(after.timeoutSec).toBe(120);
      // Omitted on update: back to the default.
      expect(after.connectionDraining?.drainingTimeoutSec).toBe(0);
      expect(after.fingerprint).not.toBe(current.fingerprint);
    });

    const rejected: [ServerlessRejectedField, Record<string, unknown>, string][] = [
      ["timeoutSec", { timeoutSec: 60 }, "'60'"],
      ["healthChecks", { healthChecks: ["global/healthChecks/vm-hc"] }, "''"],
      ["portName", { portName: "http" }, "'http'"],
    ];
    it.each(rejected)(
      "refuses %s on a backend service with serverless NEG backends, with GCP's message",
      async (f, patch, shown) => {
        await expect(
          bs().patch({ project: P, backendService: "api-backend", backendServiceResource: patch }),
        ).rejects.toMatchObject({
          code: 3,
          httpStatusCode: 400,
          message: `Invalid value for field 'resource.${f}': ${shown}. ${serverlessNegRejects(f)}`,
        });
      },
    );

    it("refuses maxUtilization on a serverless backend", async () => {
      await expect(
        bs().patch({
          project: P,
          backendService: "api-backend",
          backendServiceResource: { backends: [{ group: NEG_URL, maxUtilization: 0.8 }] },
        }),
      ).rejects.toMatchObject({
        code: 3,
        message: `Invalid value for field 'resource.backends[0].maxUtilization': '0.8'. ${serverlessNegRejects("maxUtilization")}`,
      });
    });

    it("allows connection draining on a serverless backend", async () => {
      const [lro] = await bs().patch({
        project: P,
        backendService: "web-backend",
        backendServiceResource: { connectionDraining: { drainingTimeoutSec: 20 } },
      });
      await settle(lro);
      const [b] = await bs().get({ project: P, backendService: "web-backend" });
      expect(b.connectionDraining?.drainingTimeoutSec).toBe(20);
    });

    it("refuses a draining timeout above 3600 seconds", async () => {
      await expect(
        bs().patch({
          project: P,
          backendService: "vm-backend",
          backendServiceResource: { connectionDraining: { drainingTimeoutSec: 3601 } },
        }),
      ).rejects.toMatchObject({
        code: 3,
        message:
          "Invalid value for field 'resource.connectionDraining.drainingTimeoutSec': '3601'. Must be less than or equal to 3600",
      });
    });

    it("answers a reference to a missing health check with 404 and a malformed one with 400", async () => {
      await expect(
        bs().patch({
          project: P,
          backendService: "vm-backend",
          backendServiceResource: { healthChecks: ["global/healthChecks/ghost"] },
        }),
      ).rejects.toMatchObject({
        code: 5,
        message: `The resource 'projects/${P}/global/healthChecks/ghost' was not found`,
      });
      await expect(
        bs().patch({
          project: P,
          backendService: "vm-backend",
          backendServiceResource: { healthChecks: ["ghost"] },
        }),
      ).rejects.toMatchObject({
        code: 3,
        message: "Invalid value for field 'resource.healthChecks[0]': 'ghost'. The URL is malformed.",
      });
    });

    it("ends the operation in error and leaves the resource as it was when a failOperation fault is injected", async () => {
      const [before] = await bs().get({ project: P, backendService: "vm-backend" });
      h.sim.faults.add({
        match: { api: "compute.googleapis.com", rpc: "BackendServices.Patch" },
        failOperation: {
          message: "Internal error. Please try again or contact Google Support.",
          status: "INTERNAL",
        },
        times: 1,
      });
      const [lro] = await bs().patch({
        project: P,
        backendService: "vm-backend",
        backendServiceResource: { timeoutSec: 300, fingerprint: before.fingerprint },
      });
      const [done] = await ops().wait({ project: P, operation: opName(lro) });
      expect(done).toMatchObject({
        status: "DONE",
        progress: 100,
        httpErrorStatusCode: 500,
        httpErrorMessage: "INTERNAL SERVER ERROR",
        error: {
          errors: [
            {
              code: "INTERNAL_ERROR",
              message: "Internal error. Please try again or contact Google Support.",
            },
          ],
        },
      });
      const [after] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(after.timeoutSec).toBe(before.timeoutSec);
      expect(after.fingerprint).toBe(before.fingerprint);
    });
  });

  describe("operations", () => {
    it("lists operations and answers a missing one with 404", async () => {
      const [items] = await ops().list({ project: P });
      expect(items.length).toBeGreaterThan(3);
      expect(items.every((o) => o.kind === "compute#operation")).toBe(true);
      await expect(ops().get({ project: P, operation: "operation-1-deadbeef" })).rejects.toMatchObject({
        code: 5,
        message: `The resource 'projects/${P}/global/operations/operation-1-deadbeef' was not found`,
      });
      await expect(ops().wait({ project: "other", operation: items[0]!.name! })).rejects.toMatchObject({
        code: 5,
      });
    });

    it("polls an operation to completion with waitForOperation on the simulator's clock", async () => {
      const [lro] = await hcs().patch({
        project: P,
        healthCheck: "vm-hc",
        healthCheckResource: { healthyThreshold: 3 },
      });
      const status = await waitForOperation(computeOperationPoller(connect(h), P, opName(lro)), {
        clock: h.sim.clock,
        timeoutMs: 60_000,
        what: "health check patch",
      });
      expect(status).toEqual({ done: true });
      const [hc] = await hcs().get({ project: P, healthCheck: "vm-hc" });
      expect(hc.healthyThreshold).toBe(3);
    });

    it("reports a failed operation through the poller as OPERATION_FAILED with Compute's error", async () => {
      h.sim.faults.add({
        match: { rpc: "HealthChecks.Patch" },
        failOperation: { message: "Quota exceeded.", status: "RESOURCE_EXHAUSTED" },
        times: 1,
      });
      const [lro] = await hcs().patch({
        project: P,
        healthCheck: "vm-hc",
        healthCheckResource: { healthyThreshold: 4 },
      });
      const err = await waitForOperation(
        computeOperationPoller(connect(h), P, opName(lro), { method: "wait" }),
        {
          clock: h.sim.clock,
          timeoutMs: 60_000,
          what: "health check patch",
        },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OperationError);
      expect(err).toMatchObject({
        code: "OPERATION_FAILED",
        status: { done: true, error: { code: 8, message: "QUOTA_EXCEEDED: Quota exceeded." } },
      });
      const [hc] = await hcs().get({ project: P, healthCheck: "vm-hc" });
      expect(hc.healthyThreshold).toBe(3);
    });
  });

  describe("out-of-band edits", () => {
    it("bumps a backend service's fingerprint so the next write with the old one gets 412", async () => {
      const [before] = await bs().get({ project: P, backendService: "vm-backend" });
      const edited = h.sim.edit("compute", {
        kind: "backendService",
        name: `projects/${P}/global/backendServices/vm-backend`,
        patch: { timeoutSec: 75, description: "changed in the console" },
      });
      expect(edited["fingerprint"]).not.toBe(before.fingerprint);
      const [after] = await bs().get({ project: P, backendService: "vm-backend" });
      expect(after).toMatchObject({ timeoutSec: 75, description: "changed in the console" });
      await expect(
        bs().update({
          project: P,
          backendService: "vm-backend",
          backendServiceResource: { ...before, timeoutSec: 30 },
        }),
      ).rejects.toMatchObject({ code: 9, httpStatusCode: 412 });
    });

    it("changes a health check through the control API and refuses an edit GCP would refuse", async () => {
      const res = await fetch(`${h.endpoint}/__sim/edit`, {
        method: "POST",
        body: JSON.stringify({
          service: "compute",
          kind: "healthCheck",
          name: `https://www.googleapis.com/compute/v1/projects/${P}/global/healthChecks/vm-hc`,
          patch: { checkIntervalSec: 30, timeoutSec: 30 },
        }),
      });
      expect(res.status).toBe(200);
      const [hc] = await hcs().get({ project: P, healthCheck: "vm-hc" });
      expect(hc).toMatchObject({ checkIntervalSec: 30, timeoutSec: 30 });
      expect(() =>
        h.sim.edit("compute", {
          kind: "backendService",
          name: `projects/${P}/global/backendServices/api-backend`,
          patch: { timeoutSec: 10 },
        }),
      ).toThrow(serverlessNegRejects("timeoutSec"));
      expect(() => h.sim.edit("compute", { kind: "urlMap", name: "x", patch: {} })).toThrow(/unknown kind/);
    });

    it("dumps state that loads back unchanged", async () => {
      const dumped = h.sim.dump();
      const again = createSimulator({ fixture: { compute: dumped["compute"] } });
      expect(again.dump()["compute"]).toEqual(dumped["compute"]);
    });
  });
});

describe("simulated Compute Engine with slow operations", () => {
  let h: SimHarness;
  beforeAll(async () => {
    // An hour-long operation: 3.6 s of real time at the default scale, far longer than any call here.
    h = await startSim(fixture({ durations: { "compute.update": 3600 } }));
  });
  afterAll(async () => {
    await h.close();
  });

  it("keeps the old values visible while the operation runs and refuses a second write as not ready", async () => {
    const [lro] = await h.gcp.compute.healthChecks.patch({
      project: P,
      healthCheck: "vm-hc",
      healthCheckResource: { checkIntervalSec: 9 },
    });
    const [hc] = await h.gcp.compute.healthChecks.get({ project: P, healthCheck: "vm-hc" });
    expect(hc.checkIntervalSec).toBe(5);
    const [op] = await h.gcp.compute.globalOperations.get({ project: P, operation: opName(lro) });
    expect(op.status).toBe("RUNNING");
    await expect(
      h.gcp.compute.healthChecks.patch({
        project: P,
        healthCheck: "vm-hc",
        healthCheckResource: { timeoutSec: 4 },
      }),
    ).rejects.toMatchObject({
      code: 3,
      httpStatusCode: 400,
      message: `The resource 'projects/${P}/global/healthChecks/vm-hc' is not ready`,
    });
    // The console writes through the same API: an out-of-band edit is refused alike.
    expect(() =>
      h.sim.edit("compute", {
        kind: "healthCheck",
        name: `projects/${P}/global/healthChecks/vm-hc`,
        patch: { description: "by hand" },
      }),
    ).toThrow(`The resource 'projects/${P}/global/healthChecks/vm-hc' is not ready`);
  });

  it("returns from wait after the two-minute deadline with the operation still RUNNING", async () => {
    const [lro] = await h.gcp.compute.backendServices.patch({
      project: P,
      backendService: "api-backend",
      backendServiceResource: { description: "slow" },
    });
    const t0 = h.sim.clock.now();
    const [op] = await h.gcp.compute.globalOperations.wait({ project: P, operation: opName(lro) });
    const waited = h.sim.clock.now() - t0;
    expect(op.status).toBe("RUNNING");
    expect(waited).toBeGreaterThanOrEqual(120_000);
    expect(waited).toBeLessThan(3_600_000);
  });

  it("answers a retried write with the same requestId with the operation it already started", async () => {
    const requestId = "0b7e3c52-6a51-4a1e-9a51-2f1d6f0a9c11";
    const call = {
      project: P,
      backendService: "web-backend",
      backendServiceResource: { description: "once" },
      requestId,
    };
    const [first] = await h.gcp.compute.backendServices.patch(call);
    const [second] = await h.gcp.compute.backendServices.patch(call);
    expect(opName(second)).toBe(opName(first));
  });
});

describe("Compute fixtures", () => {
  it("refuses a serverless backend service with a timeout, as GCP could not hold one", () => {
    expect(() =>
      createSimulator({
        fixture: fixture({
          compute: {
            project: P,
            networkEndpointGroups: [
              { name: "api-neg", region: "europe-west1", cloudRun: { service: "api" } },
            ],
            backendServices: [
              {
                name: "api-backend",
                timeoutSec: 60,
                backends: [{ group: "regions/europe-west1/networkEndpointGroups/api-neg" }],
              },
            ],
          },
        }),
      }),
    ).toThrow(/Timeout sec is not supported/);
  });

  it("refuses a resource without a project", () => {
    expect(() => createSimulator({ fixture: { compute: { healthChecks: [{ name: "hc" }] } } })).toThrow(
      /needs a `project`/,
    );
  });
});

describe("Compute golden HTTP log", () => {
  it("records patching a health check and waiting for its operation", async () => {
    const h = await startSim(fixture(), { captureResponses: true });
    try {
      const hcs = h.gcp.compute.healthChecks;
      await hcs.get({ project: P, healthCheck: "api-hc" });
      const [lro] = await hcs.patch({
        project: P,
        healthCheck: "api-hc",
        healthCheckResource: { checkIntervalSec: 10, timeoutSec: 8, unhealthyThreshold: 3 },
      });
      await h.gcp.compute.globalOperations.wait({ project: P, operation: opName(lro) });
      await hcs.get({ project: P, healthCheck: "api-hc" });
      expectGolden("sim/compute-patch-health-check.json", normalizeLog(h.sim.requests()));
    } finally {
      await h.close();
    }
  });
});

describe("Compute catalog", () => {
  it("states the documented health check ranges and defaults", () => {
    expect(HEALTH_CHECK_LIMITS.checkIntervalSec).toEqual({ min: 1, max: 300, default: 5 });
    expect(HEALTH_CHECK_LIMITS.healthyThreshold).toEqual({ min: 1, max: 10, default: 2 });
  });

  it("reports range violations before the timeout-versus-interval rule, each with the API's message", () => {
    expect(checkHealthCheckTiming({})).toEqual([]);
    expect(checkHealthCheckTiming({ checkIntervalSec: 10, timeoutSec: 10 })).toEqual([]);
    expect(checkHealthCheckTiming({ timeoutSec: 6 })).toEqual([
      {
        field: "timeoutSec",
        value: 6,
        message:
          "Invalid value for field 'resource.timeoutSec': '6'. TimeoutSec should be less than checkIntervalSec.",
      },
    ]);
    expect(
      checkHealthCheckTiming({ healthyThreshold: 11, unhealthyThreshold: 0 }).map((v) => v.field),
    ).toEqual(["healthyThreshold", "unhealthyThreshold"]);
    expect(checkHealthCheckTiming({ checkIntervalSec: 2.5 })[0]?.message).toContain("Must be an integer");
  });

  it("checks backend service settings for serverless and other backends", () => {
    const settings = {
      timeoutSec: 30,
      portName: "http",
      healthChecks: ["hc"],
      backends: [{ maxUtilization: 0.8 }],
    };
    expect(checkBackendServiceSettings(settings, { serverless: true }).map((v) => v.field)).toEqual([
      "healthChecks",
      "timeoutSec",
      "portName",
      "backends[0].maxUtilization",
    ]);
    expect(checkBackendServiceSettings(settings, { serverless: false })).toEqual([]);
    expect(checkBackendServiceSettings({ timeoutSec: 0 }, { serverless: false })[0]?.message).toBe(
      "Invalid value for field 'resource.timeoutSec': '0'. Must be greater than or equal to 1",
    );
    expect(invalidFieldMessage("healthChecks", ["x"], "Nope.")).toBe(
      "Invalid value for field 'resource.healthChecks': ''. Nope.",
    );
  });

  it("maps compute#operation states to the API-neutral status", () => {
    expect(operationStatusOf({ status: "RUNNING" })).toEqual({ done: false });
    expect(operationStatusOf({ status: "DONE" })).toEqual({ done: true });
    expect(
      operationStatusOf({
        status: "DONE",
        httpErrorStatusCode: 412,
        error: { errors: [{ code: "CONDITION_NOT_MET", message: "stale" }] },
      }),
    ).toEqual({ done: true, error: { code: 9, message: "CONDITION_NOT_MET: stale" } });
  });
});
