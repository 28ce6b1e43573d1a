import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { execute } from "../../src/apply/execute.ts";
import { deepEqual, diffManaged, type FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { isConflict } from "../../src/gcp/call.ts";
import { invalidFieldMessage, serverlessNegRejects } from "../../src/gcp/catalog/compute.ts";
import { waitForOperation } from "../../src/gcp/operations.ts";
import { buildPlan, type Reconcilers } from "../../src/plan/build.ts";
import {
  BackendServiceWriteError,
  hasServerlessBackends,
  backendServiceReconciler as rec,
} from "../../src/reconcilers/backend-service.ts";
import { healthCheckReconciler } from "../../src/reconcilers/health-check.ts";
import type { ResourceRef } from "../../src/reconcilers/types.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { connect } from "../helpers/gcp.ts";
import { reconcilerTest, specLoader } from "../helpers/reconciler.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const P = "acme-staging";
const R = "europe-west1";
const URL = "https://www.googleapis.com/compute/v1/";
const NEG = (name: string) => `projects/${P}/regions/${R}/networkEndpointGroups/${name}`;
const RUN = (service: string) => `projects/${P}/locations/${R}/services/${service}`;
const HC = (name: string) => `projects/${P}/global/healthChecks/${name}`;
const IG = (name: string) => `projects/${P}/zones/${R}-b/instanceGroups/${name}`;

const FIXTURE: Fixture = {
  durations: { "compute.update": 20 },
  compute: {
    project: P,
    networkEndpointGroups: [
      { name: "api-neg", region: R, cloudRun: { service: "api" } },
      { name: "web-neg", region: R, cloudRun: { service: "web" } },
      { name: "admin-neg-b", region: R, cloudRun: { service: "admin" } },
      { name: "admin-neg-a", region: R, cloudRun: { service: "admin" } },
      { name: "canary-neg", region: R, cloudRun: { service: "api", tag: "canary" } },
    ],
    healthChecks: [{ name: "vm-hc" }, { name: "vm-hc-2" }],
    backendServices: [
      {
        name: "api-backend",
        description: "public API",
        loadBalancingScheme: "EXTERNAL_MANAGED",
        customRequestHeaders: ["X-Client-Geo: {client_region}"],
        backends: [{ group: `regions/${R}/networkEndpointGroups/api-neg`, description: "api in europe" }],
        logConfig: { enable: true, sampleRate: 0.5, optionalMode: "EXCLUDE_ALL_OPTIONAL" },
      },
      {
        // Shares its NEG with api-backend: the list reads it once.
        name: "api-backend-2",
        loadBalancingScheme: "EXTERNAL_MANAGED",
        backends: [{ group: `regions/${R}/networkEndpointGroups/api-neg` }],
      },
      {
        name: "canary-backend",
        loadBalancingScheme: "EXTERNAL_MANAGED",
        backends: [{ group: `regions/${R}/networkEndpointGroups/canary-neg` }],
      },
      {
        name: "vm-backend",
        healthChecks: ["global/healthChecks/vm-hc"],
        connectionDraining: { drainingTimeoutSec: 30 },
        sessionAffinity: "CLIENT_IP",
        customResponseHeaders: ["X-Cache: {cdn_cache_status}"],
        outlierDetection: { consecutiveErrors: 7, interval: { seconds: "10" }, successRateStdevFactor: 1900 },
        backends: [
          {
            group: `zones/${R}-b/instanceGroups/ig-a`,
            balancingMode: "RATE",
            maxRatePerInstance: 100,
            description: "primary",
            failover: false,
          },
          { group: `zones/${R}-b/instanceGroups/ig-b`, capacityScaler: 0.5 },
        ],
      },
    ],
  },
};

/** bsSpec loads one BackendService document through the real spec loader. */
const bsSpec = specLoader("BackendService", { path: "specs/load-balancer.yaml", project: P, region: R });

function refOf(id: string): ResourceRef {
  return { kind: "BackendService", project: P, location: "global", id };
}

describe("BackendService reconciler", () => {
  let h: SimHarness;
  let gcp: Gcp;

  const { observe, diff, wait, apply, simItem, listInPages } = reconcilerTest({
    reconciler: rec,
    harness: () => h,
    gcp: () => gcp,
    refOf,
    what: "backend service update",
    timeoutMs: 600_000,
  });
  /** The backend service as the simulator holds it, read outside the API. */
  const simState = (id: string) =>
    simItem<Record<string, unknown> & { backends: Record<string, unknown>[] }>(
      "compute",
      "backendServices",
      (b) => b["name"] === id,
    );
  const patchBodies = () =>
    h.sim
      .requests()
      .filter((e) => e.method === "PATCH")
      .map((e) => e.body as Record<string, unknown>);

  beforeEach(async () => {
    h = await startSim(FIXTURE);
    gcp = connect(h);
  });
  afterEach(async () => {
    await h.close();
  });

  describe("list and get", () => {
    it("lists every backend service of a project across pages, one call per page", async () => {
      const backendServices = Array.from({ length: 502 }, (_, i) => ({
        name: `bs-${String(i).padStart(3, "0")}`,
      }));
      const { lists } = await listInPages(
        { compute: { project: P, backendServices } },
        { project: P, location: "global" },
        502,
        "BackendServices.List",
      );
      expect(lists[0]!.query).toBe("maxResults=500");
    });

    it("lists the NEGs of each region the backends name once, instead of a get per NEG", async () => {
      const listed = await rec.list(gcp, rec.scopeOf(refOf("api-backend")));
      expect(listed.map((o) => o.ref.id).sort()).toEqual([
        "api-backend",
        "api-backend-2",
        "canary-backend",
        "vm-backend",
      ]);
      const log = h.sim.requests();
      expect(log.filter((e) => e.rpc.endsWith("RegionNetworkEndpointGroups.Get"))).toHaveLength(0);
      const negLists = log.filter((e) => e.rpc.endsWith("RegionNetworkEndpointGroups.List"));
      // Every NEG these backend services name is in one region.
      expect(negLists).toHaveLength(1);
      expect(listed.find((o) => o.ref.id === "canary-backend")?.live.negs).not.toEqual({});
      // And one operations list for the scope, for readiness.
      expect(h.sim.requests().filter((e) => e.rpc.endsWith("GlobalOperations.List"))).toHaveLength(1);
    });

    it("reports each backend service with its full name, fingerprint as version, and readiness", async () => {
      const listed = await rec.list(gcp, { project: P, location: "global" });
      const api = listed.find((o) => o.ref.id === "api-backend")!;
      expect(api.name).toBe(`projects/${P}/global/backendServices/api-backend`);
      expect(api.ref).toEqual(refOf("api-backend"));
      expect(api.version).toBe(simState("api-backend")["fingerprint"]);
      expect(api.readiness).toEqual({ ready: true });
      expect(rec.fullName(refOf("api-backend"))).toBe(api.name);
    });

    it("answers undefined for a backend service that does not exist", async () => {
      expect(await rec.get(gcp, refOf("nope"))).toBeUndefined();
    });

    it("reports a backend service not ready while its operation runs, and pending waits for it", async () => {
      // A ten-minute operation (0.6 s real) so the reads below surely land while it runs.
      await h.close();
      h = await startSim({ ...FIXTURE, durations: { "compute.update": 600 } });
      gcp = connect(h);
      const o = await observe("vm-backend");
      const w = await rec.write(gcp, o, bsSpec("vm-backend", "timeoutSec: 60"), [
        { path: ["timeoutSec"], field: "timeoutSec", before: 30, after: 60 },
      ]);
      const busy = await observe("vm-backend");
      expect(busy.readiness.ready).toBe(false);
      expect(busy.readiness.reason).toMatch(/^patch operation operation-\d+-[0-9a-f]+ is RUNNING$/);
      const pending = await rec.pending(gcp, refOf("vm-backend"));
      expect(pending).toBeDefined();
      // Another resource is not held up by it.
      expect(await rec.pending(gcp, refOf("api-backend"))).toBeUndefined();
      await waitForOperation(pending!, { clock: h.sim.clock, timeoutMs: 600_000, what: "running op" });
      await wait(w.poller!);
      const done = await observe("vm-backend");
      expect(done.readiness).toEqual({ ready: true });
      expect(done.live.backendService.timeoutSec).toBe(60);
      expect(await rec.pending(gcp, refOf("vm-backend"))).toBeUndefined();
    });
  });

  describe("normalize and desired", () => {
    it("normalises a serverless backend service: NEG resolved to its Cloud Run service, no timeout, defaults filled", async () => {
      const o = await observe("api-backend");
      expect(hasServerlessBackends(o.live)).toBe(true);
      expect(rec.normalize(o.live)).toEqual({
        protocol: "HTTP",
        loadBalancingScheme: "EXTERNAL_MANAGED",
        connectionDraining: { drainingTimeoutSec: 0 },
        healthChecks: [],
        logConfig: { enable: true, sampleRate: 0.5 },
        backends: [{ serverlessNeg: { service: RUN("api"), region: R } }],
      });
    });

    it("normalises an instance-group backend service: URLs as relative names, durations in seconds, defaults filled", async () => {
      const o = await observe("vm-backend");
      expect(hasServerlessBackends(o.live)).toBe(false);
      expect(rec.normalize(o.live)).toEqual({
        protocol: "HTTP",
        loadBalancingScheme: "EXTERNAL",
        timeoutSec: 30,
        connectionDraining: { drainingTimeoutSec: 30 },
        healthChecks: [HC("vm-hc")],
        logConfig: { enable: false, sampleRate: 1 },
        outlierDetection: {
          consecutiveErrors: 7,
          consecutiveGatewayFailure: 3,
          enforcingConsecutiveErrors: 0,
          enforcingConsecutiveGatewayFailure: 100,
          interval: 10,
          baseEjectionTime: 30,
          maxEjectionPercent: 50,
        },
        backends: [
          { group: IG("ig-a"), balancingMode: "RATE", capacityScaler: 1, maxRatePerInstance: 100 },
          { group: IG("ig-b"), balancingMode: "UTILIZATION", capacityScaler: 0.5, maxUtilization: 0.8 },
        ],
      });
    });

    it("keeps a tagged serverless NEG a plain group: the spec cannot name a revision tag", async () => {
      const o = await observe("canary-backend");
      expect(hasServerlessBackends(o.live)).toBe(true);
      expect(rec.normalize(o.live)["backends"]).toEqual([
        { group: NEG("canary-neg"), balancingMode: "UTILIZATION", capacityScaler: 1, maxUtilization: 0.8 },
      ]);
      expect(rec.normalize(o.live)["timeoutSec"]).toBeUndefined();
    });

    it("puts only what the spec states into desired, references as full names", () => {
      expect(rec.desired(bsSpec("api-backend", "loadBalancingScheme: EXTERNAL_MANAGED"))).toEqual({
        loadBalancingScheme: "EXTERNAL_MANAGED",
      });
      const d = rec.desired(
        bsSpec(
          "vm-backend",
          `
timeoutSec: 45
healthChecks: [projects/${P}/global/healthChecks/vm-hc-2]
logConfig: {sampleRate: 0.1}
outlierDetection: {baseEjectionTime: 1m}
backends:
  - group: ${URL}${IG("ig-c")}
  - {group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 10}
`,
        ),
      );
      // Set entries are completed with Compute's defaults and kept in a stable order.
      expect(d).toEqual({
        timeoutSec: 45,
        healthChecks: [HC("vm-hc-2")],
        logConfig: { sampleRate: 0.1 },
        outlierDetection: { baseEjectionTime: 60 },
        backends: [
          { group: IG("ig-a"), balancingMode: "RATE", capacityScaler: 1, maxRatePerInstance: 10 },
          { group: IG("ig-c"), balancingMode: "UTILIZATION", capacityScaler: 1, maxUtilization: 0.8 },
        ],
      });
      expect(JSON.stringify(d)).not.toContain("undefined");
      // The NEG's own name only picks the NEG a write attaches; it is not compared.
      expect(
        rec.desired(
          bsSpec("web-backend", `backends: [{serverlessNeg: {service: ${RUN("web")}, name: web-neg}}]`),
        ),
      ).toEqual({ backends: [{ serverlessNeg: { service: RUN("web"), region: R } }] });
    });

    it("shows no change for a spec that states the live values and GCP's defaults", async () => {
      const o = await observe("vm-backend");
      const spec = bsSpec(
        "vm-backend",
        `
protocol: HTTP
loadBalancingScheme: EXTERNAL
timeoutSec: 30
connectionDraining: {drainingTimeoutSec: 30}
healthChecks: [vm-hc]
logConfig: {enable: false, sampleRate: 1}
outlierDetection: {consecutiveErrors: 7, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 50}
backends:
  - {group: ${URL}${IG("ig-b")}, capacityScaler: 0.5}
  - {group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 100}
`.replace("[vm-hc]", `[${HC("vm-hc")}]`),
      );
      expect(diff(o, spec)).toEqual([]);
      const api = await observe("api-backend");
      const serverless = bsSpec("api-backend", `backends: [{serverlessNeg: {service: ${RUN("api")}}}]`);
      expect(diff(api, serverless)).toEqual([]);
    });

    it("diffs a spec against live into exactly the expected field changes", async () => {
      const o = await observe("vm-backend");
      const spec = bsSpec(
        "vm-backend",
        `
timeoutSec: 120
connectionDraining: {drainingTimeoutSec: 60}
healthChecks: [${HC("vm-hc-2")}]
logConfig: {enable: true, sampleRate: 0.25}
outlierDetection: {consecutiveErrors: 7, baseEjectionTime: 45s}
backends:
  - {group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 150}
`,
      );
      const changes = diff(o, spec);
      expect(changes).toEqual<FieldChange[]>([
        { path: ["timeoutSec"], field: "timeoutSec", before: 30, after: 120 },
        {
          path: ["connectionDraining", "drainingTimeoutSec"],
          field: "connectionDraining.drainingTimeoutSec",
          before: 30,
          after: 60,
        },
        { path: ["healthChecks"], field: "healthChecks", before: [HC("vm-hc")], after: [HC("vm-hc-2")] },
        { path: ["logConfig", "enable"], field: "logConfig.enable", before: false, after: true },
        { path: ["logConfig", "sampleRate"], field: "logConfig.sampleRate", before: 1, after: 0.25 },
        {
          path: ["outlierDetection", "baseEjectionTime"],
          field: "outlierDetection.baseEjectionTime",
          before: 30,
          after: 45,
        },
        {
          path: ["backends"],
          field: "backends",
          before: [
            { group: IG("ig-a"), balancingMode: "RATE", capacityScaler: 1, maxRatePerInstance: 100 },
            { group: IG("ig-b"), balancingMode: "UTILIZATION", capacityScaler: 0.5, maxUtilization: 0.8 },
          ],
          after: [{ group: IG("ig-a"), balancingMode: "RATE", capacityScaler: 1, maxRatePerInstance: 150 }],
        },
      ]);
    });

    it("treats backends as a set, kept in one order so the executor's in-order re-read agrees", async () => {
      const o = await observe("vm-backend");
      const entries = [
        `{group: ${URL}${IG("ig-b")}, capacityScaler: 0.5}`,
        `{group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 100}`,
      ];
      for (const order of [entries, [...entries].reverse()]) {
        const desired = rec.desired(bsSpec("vm-backend", `backends: [${order.join(", ")}]`));
        expect(diffManaged(desired, rec.normalize(o.live), rec.diffOptions)).toEqual([]);
        expect(deepEqual(desired["backends"], rec.normalize(o.live)["backends"])).toBe(true);
      }
      expect(rec.diffOptions.setLists).toEqual(expect.arrayContaining(["healthChecks", "backends"]));
    });
  });

  describe("write", () => {
    it("writes the changes in one patch, and a re-read then shows no changes", async () => {
      const spec = bsSpec(
        "vm-backend",
        `
timeoutSec: 120
connectionDraining: {drainingTimeoutSec: 60}
healthChecks: [${HC("vm-hc-2")}]
logConfig: {enable: true, sampleRate: 0.1}
outlierDetection: {consecutiveErrors: 9, interval: 2.5s, baseEjectionTime: 45s, maxEjectionPercent: 20}
backends:
  - {group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 150}
  - {group: ${URL}${IG("ig-c")}, capacityScaler: 0.7, maxUtilization: 0.6}
`,
      );
      const { changes, after } = await apply(spec);
      expect(changes.length).toBeGreaterThan(0);
      expect(patchBodies()).toHaveLength(1);
      expect(diff(after, spec)).toEqual([]);
      expect(after.live.backendService.outlierDetection?.interval).toMatchObject({
        seconds: "2",
        nanos: 500_000_000,
      });
    });

    it("sends only the changed fields with the fingerprint, references as URLs", async () => {
      const spec = bsSpec("vm-backend", `timeoutSec: 90\nhealthChecks: [${HC("vm-hc-2")}]`);
      const { before } = await apply(spec);
      // The client itself adds the empty `metadatas` map to every BackendService it encodes.
      const { metadatas, ...body } = patchBodies()[0]!;
      expect(metadatas).toEqual({});
      expect(body).toEqual({
        timeoutSec: 90,
        healthChecks: [`${URL}${HC("vm-hc-2")}`],
        fingerprint: before.version,
      });
    });

    it("leaves every field the spec does not name as it was", async () => {
      const was = simState("vm-backend");
      await apply(
        bsSpec(
          "vm-backend",
          `
timeoutSec: 75
outlierDetection: {consecutiveErrors: 3}
backends:
  - {group: ${URL}${IG("ig-a")}, balancingMode: RATE, maxRatePerInstance: 120}
  - {group: ${URL}${IG("ig-b")}, capacityScaler: 0.5}
`,
        ),
      );
      const now = simState("vm-backend");
      expect(now["timeoutSec"]).toBe(75);
      for (const k of [
        "sessionAffinity",
        "customResponseHeaders",
        "healthChecks",
        "connectionDraining",
        "port",
      ]) {
        expect(now[k]).toEqual(was[k]);
      }
      // Outlier detection fields capstan does not manage survive, as does the interval.
      expect(now["outlierDetection"]).toEqual({
        consecutiveErrors: 3,
        interval: { seconds: "10" },
        successRateStdevFactor: 1900,
      });
      // A named backend keeps its unmanaged fields (description, failover).
      expect(now.backends.find((b) => String(b["group"]).endsWith("ig-a"))).toMatchObject({
        description: "primary",
        failover: false,
        maxRatePerInstance: 120,
      });
    });

    it("keeps the unmanaged fields of logConfig and the serverless backend when only sampling changes", async () => {
      const { after } = await apply(bsSpec("api-backend", "logConfig: {sampleRate: 0.2}"));
      const now = simState("api-backend");
      expect(now["logConfig"]).toEqual({
        enable: true,
        sampleRate: 0.2,
        optionalMode: "EXCLUDE_ALL_OPTIONAL",
      });
      expect(now["description"]).toBe("public API");
      expect(now["customRequestHeaders"]).toEqual(["X-Client-Geo: {client_region}"]);
      expect(now.backends).toEqual([
        { group: `${URL}${NEG("api-neg")}`, description: "api in europe", capacityScaler: 1 },
      ]);
      expect(rec.normalize(after.live)["logConfig"]).toEqual({ enable: true, sampleRate: 0.2 });
    });

    it("manages the whole backends list when the spec states it: a backend it leaves out is removed", async () => {
      const spec = bsSpec("vm-backend", `backends: [{group: ${URL}${IG("ig-b")}, capacityScaler: 0.5}]`);
      const { changes, after } = await apply(spec);
      expect(changes.map((c) => c.field)).toEqual(["backends"]);
      expect(simState("vm-backend").backends.map((b) => b["group"])).toEqual([`${URL}${IG("ig-b")}`]);
      expect(diff(after, spec)).toEqual([]);
    });

    it("swaps a serverless backend to another service by finding the NEG that points at it", async () => {
      const spec = bsSpec("api-backend", `backends: [{serverlessNeg: {service: ${RUN("web")}}}]`);
      const { after } = await apply(spec);
      expect(simState("api-backend").backends).toEqual([
        { group: `${URL}${NEG("web-neg")}`, capacityScaler: 1 },
      ]);
      expect(diff(after, spec)).toEqual([]);
      const lookup = h.sim.requests().find((e) => e.rpc.endsWith("RegionNetworkEndpointGroups.List"));
      expect(decodeURIComponent(lookup!.query.replaceAll("+", " "))).toContain(
        'filter=cloudRun.service = "web"',
      );
    });

    it("picks the NEG by name when the spec names it, and the first by name when several match", async () => {
      await apply(
        bsSpec("api-backend", `backends: [{serverlessNeg: {service: ${RUN("admin")}, name: admin-neg-b}}]`),
      );
      expect(simState("api-backend").backends.map((b) => b["group"])).toEqual([
        `${URL}${NEG("admin-neg-b")}`,
      ]);
      await apply(bsSpec("api-backend-2", `backends: [{serverlessNeg: {service: ${RUN("admin")}}}]`));
      expect(simState("api-backend-2").backends.map((b) => b["group"])).toEqual([
        `${URL}${NEG("admin-neg-a")}`,
      ]);
    });

    it("refuses to write a serverless backend whose service has no NEG, saying how to make one", async () => {
      const o = await observe("api-backend");
      const spec = bsSpec("api-backend", `backends: [{serverlessNeg: {service: ${RUN("billing")}}}]`);
      const changes = diff(o, spec);
      const err = await rec.write(gcp, o, spec, changes).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendServiceWriteError);
      expect(err).toMatchObject({ code: "NEG_NOT_FOUND" });
      expect((err as Error).message).toContain(
        `no serverless NEG in ${R} sends traffic to ${RUN("billing")}`,
      );
      expect(patchBodies()).toEqual([]);
    });

    it("surfaces a stale fingerprint as Compute's 412 conditionNotMet, which isConflict recognises", async () => {
      const stale = await observe("vm-backend");
      h.sim.edit("compute", { kind: "backendService", name: stale.name, patch: { description: "console" } });
      const err = await rec
        .write(gcp, stale, bsSpec("vm-backend", "timeoutSec: 99"), [
          { path: ["timeoutSec"], field: "timeoutSec", before: 30, after: 99 },
        ])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 9, httpStatusCode: 412, message: "Precondition Failed" });
      expect(isConflict(err)).toBe(true);
      expect(patchBodies()[0]).toMatchObject({ fingerprint: stale.version });
      expect(simState("vm-backend")["timeoutSec"]).toBe(30);
    });

    it("writes an intermediate value when a rollout step carries one, not the spec's", async () => {
      const o = await observe("vm-backend");
      const w = await rec.write(gcp, o, bsSpec("vm-backend", "timeoutSec: 300"), [
        { path: ["timeoutSec"], field: "timeoutSec", before: 30, after: 60 },
      ]);
      await wait(w.poller!);
      expect(simState("vm-backend")["timeoutSec"]).toBe(60);
    });

    it("does not write in validate-only mode: the API has none", async () => {
      const o = await observe("vm-backend");
      const w = await rec.write(gcp, o, bsSpec("vm-backend", "timeoutSec: 60"), [], { validateOnly: true });
      expect(w).toEqual({ poller: undefined, validated: false });
      expect(patchBodies()).toEqual([]);
    });

    it("refuses a change to a field it does not write", async () => {
      const o = await observe("vm-backend");
      await expect(
        rec.write(gcp, o, bsSpec("vm-backend", "timeoutSec: 60"), [
          { path: ["portName"], field: "portName", before: undefined, after: "http" },
        ]),
      ).rejects.toMatchObject({ name: "BackendServiceWriteError", code: "UNWRITABLE_FIELD" });
    });
  });

  describe("disruptions and checks", () => {
    it("reports no disruption: backend services change in place", async () => {
      const o = await observe("vm-backend");
      const spec = bsSpec("vm-backend", `timeoutSec: 10\nbackends: [{group: ${URL}${IG("ig-b")}}]`);
      const changes = diff(o, spec);
      expect(changes).toHaveLength(2);
      expect(rec.disruptions(changes, o, spec)).toEqual([]);
    });

    it("refuses a timeout and health checks on a backend service whose live backends are serverless NEGs", async () => {
      const o = await observe("api-backend");
      const spec = bsSpec("api-backend", `timeoutSec: 60\nhealthChecks: [${HC("vm-hc")}]`);
      const { problems } = await rec.check!(gcp, spec, o, []);
      expect(problems).toHaveLength(2);
      expect(problems[0]).toContain(
        invalidFieldMessage("healthChecks", [HC("vm-hc")], serverlessNegRejects("healthChecks")),
      );
      expect(problems[1]).toContain(
        invalidFieldMessage("timeoutSec", 60, serverlessNegRejects("timeoutSec")),
      );
      expect(problems[1]).toMatch(/^spec\.timeoutSec: not allowed/);
    });

    it("catches a tagged serverless NEG too, though it normalises as a plain group", async () => {
      const o = await observe("canary-backend");
      const { problems } = await rec.check!(gcp, bsSpec("canary-backend", "timeoutSec: 60"), o, []);
      expect(problems).toHaveLength(1);
    });

    it("leaves the serverless rules to the offline validator when the spec states its backends, and finds nothing on instance groups", async () => {
      const vm = await observe("vm-backend");
      expect(
        (
          await rec.check!(
            gcp,
            bsSpec("vm-backend", `timeoutSec: 60\nhealthChecks: [${HC("vm-hc")}]`),
            vm,
            [],
          )
        ).problems,
      ).toEqual([]);
      const api = await observe("api-backend");
      const stated = bsSpec("api-backend", `backends: [{group: ${URL}${IG("ig-a")}}]\ntimeoutSec: 60`);
      expect((await rec.check!(gcp, stated, api, [])).problems).toEqual([]);
    });

    it("lets GCP's refusal surface if a serverless write goes ahead anyway", async () => {
      const o = await observe("api-backend");
      const err = await rec
        .write(gcp, o, bsSpec("api-backend", "timeoutSec: 60"), [
          { path: ["timeoutSec"], field: "timeoutSec", before: undefined, after: 60 },
        ])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 3,
        httpStatusCode: 400,
        message: invalidFieldMessage("timeoutSec", 60, serverlessNegRejects("timeoutSec")),
      });
    });
  });

  describe("through plan and apply", () => {
    it("plans the changes, applies them through the executor, and plans nothing afterwards", async () => {
      const text = `apiVersion: capstan.dev/v1alpha1
kind: BackendService
metadata: {name: api-backend}
spec:
  connectionDraining: {drainingTimeoutSec: 30}
  logConfig: {enable: true, sampleRate: 0.5}
  outlierDetection: {consecutiveErrors: 5, interval: 10s, baseEjectionTime: 30s}
  backends: [{serverlessNeg: {service: ${RUN("api")}}}]
---
apiVersion: capstan.dev/v1alpha1
kind: BackendService
metadata: {name: vm-backend}
spec:
  timeoutSec: 60
  healthChecks: [vm-hc-2]
---
apiVersion: capstan.dev/v1alpha1
kind: HealthCheck
metadata: {name: vm-hc-2}
spec: {type: HTTP, port: 8080, requestPath: /healthz, checkIntervalSec: 10, unhealthyThreshold: 3}
`;
      const specs = parseSpecSet([{ path: "specs/lb.yaml", text }], [], {
        cwd: "/",
        defaults: { project: P },
      });
      expect(specs.problems).toEqual([]);
      // Only the kinds in these specs are ever looked up.
      const reconcilers = {
        BackendService: rec,
        HealthCheck: healthCheckReconciler,
      } as unknown as Reconcilers;
      const first = await buildPlan({ specs, gcp, reconcilers, clock: h.sim.clock });
      expect(first.plan.problems).toEqual([]);
      expect(first.plan.resources.map((r) => [r.address, r.action, r.changes.map((c) => c.field)])).toEqual([
        [
          "BackendService/api-backend",
          "update",
          [
            "connectionDraining.drainingTimeoutSec",
            "outlierDetection.consecutiveErrors",
            "outlierDetection.interval",
            "outlierDetection.baseEjectionTime",
          ],
        ],
        ["BackendService/vm-backend", "update", ["timeoutSec", "healthChecks"]],
        ["HealthCheck/vm-hc-2", "update", ["port", "requestPath", "checkIntervalSec", "unhealthyThreshold"]],
      ]);
      const report = await execute({
        result: first,
        gcp,
        reconcilers,
        clock: h.sim.clock,
        gates: () => Promise.reject(new Error("these specs have no gates")),
      });
      expect(report.outcome).toBe("converged");
      const again = await buildPlan({ specs, gcp, reconcilers, clock: h.sim.clock });
      expect(again.plan.summary).toMatchObject({ update: 0, noop: 3, changes: 0, errors: 0 });
    });
  });
});
