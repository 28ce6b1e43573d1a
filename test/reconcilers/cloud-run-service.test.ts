import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { type CallMeta, isConflict } from "../../src/gcp/call.ts";
import { OperationError } from "../../src/gcp/operations.ts";
import {
  CloudRunServiceWriteError,
  cloudRunServiceReconciler as rec,
} from "../../src/reconcilers/cloud-run-service.ts";
import type { ResourceRef } from "../../src/reconcilers/types.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { reconcilerTest, specLoader } from "../helpers/reconciler.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const P = "acme";
const R = "us-central1";
const LOC = `projects/${P}/locations/${R}`;
const API = `${LOC}/services/api`;
const WORKER = `${LOC}/services/worker`;
const CONNECTOR = `${LOC}/connectors/orders-egress`;
const IMAGE = "us-docker.pkg.dev/acme/orders/api:1.8.2";
const GiB = 2 ** 30;

const FIXTURE: Fixture = {
  secretmanager: {
    secrets: [
      // latest = version 3, ENABLED; version 1 is DISABLED.
      { name: `projects/${P}/secrets/db-password`, versions: [{ state: "DISABLED" }, {}, {}] },
      // latest = version 2, DISABLED.
      { name: `projects/${P}/secrets/old-token`, versions: [{}, { state: "DISABLED" }] },
    ],
  },
  run: {
    services: [
      {
        name: API,
        labels: { team: "orders" },
        annotations: { "example.com/owner": "payments" },
        ingress: "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        template: {
          maxInstanceRequestConcurrency: 80,
          timeout: "300s",
          scaling: { maxInstanceCount: 20 },
          vpcAccess: { connector: CONNECTOR, egress: "PRIVATE_RANGES_ONLY" },
          volumes: [{ name: "cloudsql", cloudSqlInstance: { instances: [`${P}:${R}:orders-db`] } }],
          containers: [
            {
              name: "app",
              image: IMAGE,
              ports: [{ containerPort: 8080 }],
              resources: { limits: { cpu: "1", memory: "1Gi" }, cpuIdle: true },
              env: [
                { name: "DB_POOL_SIZE", value: "5" },
                {
                  name: "DB_PASSWORD",
                  valueSource: { secretKeyRef: { secret: "db-password", version: "latest" } },
                },
                { name: "FEATURE_X", value: "on" },
                { name: "OLD_FLAG", value: "1" },
              ],
              volumeMounts: [{ name: "cloudsql", mountPath: "/cloudsql" }],
              startupProbe: {
                httpGet: { path: "/healthz" },
                periodSeconds: 5,
                timeoutSeconds: 3,
                failureThreshold: 12,
              },
              livenessProbe: { httpGet: { path: "/healthz" }, periodSeconds: 30 },
            },
            { name: "proxy", image: "gcr.io/acme/envoy:1", env: [{ name: "A", value: "b" }] },
          ],
        },
      },
      { name: WORKER, template: { containers: [{ image: "gcr.io/acme/worker:1" }] } },
    ],
  },
};

/** runSpec loads one CloudRunService document (plus `others`) through the real spec loader. */
const runSpec = specLoader("CloudRunService", { path: "specs/run.yaml", project: P, region: R });

function refOf(id: string): ResourceRef {
  return { kind: "CloudRunService", project: P, location: R, id };
}

type SimService = Record<string, unknown> & {
  etag: string;
  generation: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  latestCreatedRevision: string;
  template: {
    revision?: string;
    serviceAccount?: string;
    volumes?: Record<string, unknown>[];
    containers: (Record<string, unknown> & { env?: Record<string, unknown>[]; image: string })[];
  };
};

const CHANGED_SPEC = `
ingress: INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER
scaling: { minInstances: 1 }
template:
  scaling: { maxInstances: 10 }
  maxConcurrency: 40
  timeout: 60s
  resources: { cpu: 2, memory: 2Gi, startupCpuBoost: true }
  startupProbe:
    httpGet: { path: /ready }
    period: 5s
    failureThreshold: 24
  vpcAccess: { connector: ${CONNECTOR}, egress: ALL_TRAFFIC }
  env:
    DB_POOL_SIZE: 10
    DB_PASSWORD: { secret: { name: db-password, version: latest } }
    DB_CONNECT_TIMEOUT: 10
  cloudSqlInstances: ["${P}:${R}:orders-db"]
`;

describe("CloudRunService reconciler", () => {
  let h: SimHarness;
  let gcp: Gcp;
  let calls: CallMeta[];

  const { observe, diff, changesOf, wait, simItem, listInPages } = reconcilerTest({
    reconciler: rec,
    harness: () => h,
    gcp: () => gcp,
    refOf,
    what: "Cloud Run update",
    timeoutMs: 3_600_000,
  });
  /** The service as the simulator holds it, read outside the API. */
  const simState = (name: string) => simItem<SimService>("run", "services", (s) => s["name"] === name);
  const app = (s: SimService) => s.template.containers.find((c) => c["name"] === "app")!;
  const rpcs = () => h.sim.requests().map((r) => r.rpc);

  beforeEach(async () => {
    h = await startSim(FIXTURE);
    calls = [];
    gcp = connect(h, { observer: (meta) => calls.push(meta) });
  });
  afterEach(async () => {
    await h.close();
  });

  describe("list and get", () => {
    it("lists every service of a region across pages, one call per page", async () => {
      const services = [
        ...Array.from({ length: 501 }, (_, i) => ({
          name: `${LOC}/services/s-${String(i).padStart(3, "0")}`,
          template: { containers: [{ image: "gcr.io/acme/x:1" }] },
        })),
        {
          name: `projects/${P}/locations/europe-west1/services/elsewhere`,
          template: { containers: [{ image: "i" }] },
        },
      ];
      const scope = { project: P, location: R };
      const { lists } = await listInPages({ run: { services } }, scope, 501, "Services.ListServices");
      expect(lists[0]!.query).toBe("pageSize=500");
    });

    it("reports each service with its full name, etag as version and readiness", async () => {
      const listed = await rec.list(gcp, rec.scopeOf(refOf("api")));
      expect(listed.map((o) => o.ref.id).sort()).toEqual(["api", "worker"]);
      const api = listed.find((o) => o.ref.id === "api")!;
      expect(api.name).toBe(API);
      expect(api.ref).toEqual(refOf("api"));
      expect(api.version).toBe(simState(API).etag);
      expect(api.readiness).toEqual({ ready: true });
      expect(rec.fullName(refOf("api"))).toBe(API);
      expect(calls.every((c) => c.api === "run.googleapis.com" && c.location === R)).toBe(true);
    });

    it("answers undefined for a service that does not exist", async () => {
      expect(await rec.get(gcp, refOf("nope"))).toBeUndefined();
    });
  });

  describe("normalize and diff", () => {
    it("normalizes a live service into the spec's shape, the serving container's settings and server defaults included", async () => {
      const o = await observe("api");
      expect(rec.normalize(o.live)).toEqual({
        ingress: "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER",
        scaling: { minInstances: 0 },
        template: {
          scaling: { minInstances: 0, maxInstances: 20 },
          maxConcurrency: 80,
          timeout: 300,
          containerName: "app",
          resources: { cpu: 1, memory: GiB, cpuIdle: true, startupCpuBoost: false },
          startupProbe: {
            httpGet: { path: "/healthz", port: 8080 },
            initialDelay: 0,
            period: 5,
            timeout: 3,
            failureThreshold: 12,
          },
          livenessProbe: {
            httpGet: { path: "/healthz", port: 8080 },
            initialDelay: 0,
            period: 30,
            timeout: 1,
            failureThreshold: 3,
          },
          env: [
            { name: "DB_POOL_SIZE", value: "5" },
            { name: "DB_PASSWORD", secret: { name: `projects/${P}/secrets/db-password`, version: "latest" } },
            { name: "FEATURE_X", value: "on" },
            { name: "OLD_FLAG", value: "1" },
          ],
          vpcAccess: { connector: CONNECTOR, egress: "PRIVATE_RANGES_ONLY" },
          cloudSqlInstances: [`projects/${P}/instances/orders-db`],
        },
      });
    });

    it("shows no change for a spec that states GCP's default values", async () => {
      const spec = runSpec(
        "worker",
        `
ingress: INGRESS_TRAFFIC_ALL
scaling: { minInstances: 0 }
template:
  scaling: { minInstances: 0, maxInstances: 100 }
  maxConcurrency: 80
  timeout: 5m
  resources: { cpu: 1, memory: 512Mi, cpuIdle: true, startupCpuBoost: false }
  startupProbe:
    tcpSocket: { port: 8080 }
    initialDelay: 0s
    period: 240s
    timeout: 240s
    failureThreshold: 1
  vpcAccess: { egress: PRIVATE_RANGES_ONLY }
  cloudSqlInstances: []
`,
      );
      expect((await changesOf(spec)).changes).toEqual([]);
    });

    it("finds exactly the fields whose live values differ from the spec", async () => {
      const { changes } = await changesOf(runSpec("api", CHANGED_SPEC));
      expect(changes.map((c) => [c.field, c.before, c.after])).toEqual([
        ["scaling.minInstances", 0, 1],
        ["template.scaling.maxInstances", 20, 10],
        ["template.maxConcurrency", 80, 40],
        ["template.timeout", 300, 60],
        ["template.resources.cpu", 1, 2],
        ["template.resources.memory", GiB, 2 * GiB],
        ["template.resources.startupCpuBoost", false, true],
        ["template.startupProbe.httpGet.path", "/healthz", "/ready"],
        ["template.startupProbe.failureThreshold", 12, 24],
        ["template.vpcAccess.egress", "PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"],
        ["template.env[DB_POOL_SIZE].value", "5", "10"],
        ["template.env[DB_CONNECT_TIMEOUT]", undefined, { name: "DB_CONNECT_TIMEOUT", value: "10" }],
      ]);
      const env = changes.find((c) => c.field === "template.env[DB_POOL_SIZE].value")!;
      expect(env.path).toEqual(["template", "env", { key: "name", id: "DB_POOL_SIZE" }, "value"]);
    });

    it("compares Cloud SQL instances as a set of full names, however the spec refers to them", async () => {
      const spec = runSpec(
        "api",
        "template:\n  cloudSqlInstances: [orders-db]",
        `---\napiVersion: capstan.dev/v1alpha1\nkind: SqlInstance\nmetadata:\n  name: orders-db\nspec:\n  tier: db-custom-2-7680\n`,
      );
      expect(rec.desired(spec)).toEqual({
        template: { cloudSqlInstances: [`projects/${P}/instances/orders-db`] },
      });
      expect((await changesOf(spec)).changes).toEqual([]);
    });
  });

  describe("write", () => {
    it("writes the changes, and a re-read shows no difference", async () => {
      const spec = runSpec("api", CHANGED_SPEC);
      const { o, changes } = await changesOf(spec);
      const { poller } = await rec.write(gcp, o, spec, changes);
      await wait(poller);
      const after = await observe("api");
      expect(after.readiness).toEqual({ ready: true });
      expect(diff(after, spec)).toEqual([]);
      // Polls went through the call wrapper, on capstan's read budget.
      expect(calls.some((c) => c.method === "operations.get" && !c.write && c.location === R)).toBe(true);
    });

    it("sends back every field the spec does not manage: image, labels, annotations, other env vars and containers", async () => {
      const spec = runSpec("api", CHANGED_SPEC);
      const before = simState(API);
      const { o, changes } = await changesOf(spec);
      await wait((await rec.write(gcp, o, spec, changes)).poller);
      const after = simState(API);
      expect(app(after).image).toBe(IMAGE);
      expect(after.labels).toEqual({ team: "orders" });
      expect(after.annotations).toEqual({ "example.com/owner": "payments" });
      expect(after["traffic"]).toEqual(before["traffic"]);
      expect(after.template.serviceAccount).toBe(before.template.serviceAccount);
      expect(after.template.volumes).toEqual(before.template.volumes);
      expect(app(after)["volumeMounts"]).toEqual(app(before)["volumeMounts"]);
      expect(app(after).env).toEqual([
        { name: "DB_POOL_SIZE", value: "10" },
        { name: "DB_PASSWORD", valueSource: { secretKeyRef: { secret: "db-password", version: "latest" } } },
        { name: "FEATURE_X", value: "on" },
        { name: "OLD_FLAG", value: "1" },
        { name: "DB_CONNECT_TIMEOUT", value: "10" },
      ]);
      expect(after.template.containers.find((c) => c["name"] === "proxy")).toEqual(
        before.template.containers.find((c) => c["name"] === "proxy"),
      );
      expect(app(after)["resources"]).toEqual({
        limits: { cpu: "2", memory: "2Gi" },
        cpuIdle: true,
        startupCpuBoost: true,
      });
    });

    it("sends one UpdateService with the etag read as precondition and no output-only fields", async () => {
      const spec = runSpec("api", "template:\n  maxConcurrency: 50");
      const { o, changes } = await changesOf(spec);
      const seen = h.sim.requests().length;
      await rec.write(gcp, o, spec, changes);
      const writes = h.sim
        .requests()
        .slice(seen)
        .filter((r) => r.write);
      expect(writes.map((r) => r.rpc)).toEqual(["google.cloud.run.v2.Services.UpdateService"]);
      const body = writes[0]!.body as Record<string, unknown>;
      expect(body["etag"]).toBe(o.version);
      for (const k of [
        "uid",
        "generation",
        "conditions",
        "terminalCondition",
        "latestReadyRevision",
        "reconciling",
      ]) {
        expect(body[k], k).toBeUndefined();
      }
      expect(writes[0]!.query).not.toMatch(/validateOnly/);
    });

    it("never writes a field that is not among the changes", async () => {
      // A rollout step carrying only one of the spec's changes, at an intermediate value.
      const spec = runSpec("api", CHANGED_SPEC);
      const { o, changes } = await changesOf(spec);
      const step: FieldChange[] = [
        { ...changes.find((c) => c.field === "template.scaling.maxInstances")!, after: 15 },
      ];
      await wait((await rec.write(gcp, o, spec, step)).poller);
      const { changes: left } = await changesOf(spec);
      expect(left.map((c) => [c.field, c.before])).toEqual(
        changes.map((c) => [c.field, c.field === "template.scaling.maxInstances" ? 15 : c.before]),
      );
    });

    it("surfaces a stale etag as GCP's 409 ABORTED conflict and writes nothing", async () => {
      const spec = runSpec("api", "scaling: { minInstances: 2 }");
      const { o, changes } = await changesOf(spec);
      h.sim.edit("run", { kind: "service", name: API, patch: { labels: { owner: "ops" } } });
      const err = await rec.write(gcp, o, spec, changes).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 10, reason: "ETAG_MISMATCH" });
      expect(isConflict(err)).toBe(true);
      const { changes: still } = await changesOf(spec);
      expect(still.map((c) => c.field)).toEqual(["scaling.minInstances"]);
    });

    it("removes a variable the spec unsets and leaves the others", async () => {
      const spec = runSpec("api", "template:\n  env:\n    OLD_FLAG: null\n    DB_POOL_SIZE: 5");
      const { o, changes } = await changesOf(spec);
      expect(changes.map((c) => [c.field, c.before, c.after])).toEqual([
        ["template.env[OLD_FLAG].value", "1", null],
      ]);
      await wait((await rec.write(gcp, o, spec, changes)).poller);
      expect(app(simState(API)).env?.map((e) => e["name"])).toEqual([
        "DB_POOL_SIZE",
        "DB_PASSWORD",
        "FEATURE_X",
      ]);
    });

    // Expected to fail until diffManaged treats a keyed entry whose fields besides the key
    // are all null as satisfied by a missing entry, as it does for a missing field (see the
    // report that came with this reconciler). Turn it into `it` once it passes.
    it("shows no change for a variable the spec unsets that is already absent", async () => {
      const spec = runSpec("api", "template:\n  env:\n    NEVER_SET: null");
      expect((await changesOf(spec)).changes).toEqual([]);
    });

    it("turns a literal into a secret reference and back, writing the secret by id in its own project", async () => {
      const toSecret = runSpec(
        "api",
        "template:\n  env:\n    FEATURE_X: { secret: { name: db-password, version: '3' } }",
      );
      let { o, changes } = await changesOf(toSecret);
      await wait((await rec.write(gcp, o, toSecret, changes)).poller);
      expect(app(simState(API)).env?.find((e) => e["name"] === "FEATURE_X")).toEqual({
        name: "FEATURE_X",
        valueSource: { secretKeyRef: { secret: "db-password", version: "3" } },
      });
      expect((await changesOf(toSecret)).changes).toEqual([]);

      const back = runSpec("api", "template:\n  env:\n    FEATURE_X: off");
      ({ o, changes } = await changesOf(back));
      await wait((await rec.write(gcp, o, back, changes)).poller);
      expect(app(simState(API)).env?.find((e) => e["name"] === "FEATURE_X")).toEqual({
        name: "FEATURE_X",
        value: "off",
      });
      expect((await changesOf(back)).changes).toEqual([]);
    });

    it("switches a probe's action and drops the old one", async () => {
      const spec = runSpec(
        "worker",
        "template:\n  startupProbe:\n    httpGet: { path: /ready }\n    period: 10s",
      );
      const { o, changes } = await changesOf(spec);
      await wait((await rec.write(gcp, o, spec, changes)).poller);
      const c = simState(WORKER).template.containers[0]!;
      expect(c["startupProbe"]).toEqual({
        httpGet: { path: "/ready" },
        periodSeconds: 10,
        timeoutSeconds: 240,
        failureThreshold: 1,
      });
      expect((await changesOf(spec)).changes).toEqual([]);
    });

    it("mounts a Cloud SQL instance through the cloudsql volume and removes it again", async () => {
      const reports = `---\napiVersion: capstan.dev/v1alpha1\nkind: SqlInstance\nmetadata:\n  name: reports-db\n  region: us-east1\nspec:\n  tier: db-custom-1-3840\n`;
      const add = runSpec("worker", "template:\n  cloudSqlInstances: [reports-db]", reports);
      let { o, changes } = await changesOf(add);
      expect(changes.map((c) => [c.field, c.before, c.after])).toEqual([
        ["template.cloudSqlInstances", [], [`projects/${P}/instances/reports-db`]],
      ]);
      await wait((await rec.write(gcp, o, add, changes)).poller);
      let t = simState(WORKER).template;
      expect(t.volumes).toEqual([
        { name: "cloudsql", cloudSqlInstance: { instances: [`${P}:us-east1:reports-db`] } },
      ]);
      expect(t.containers[0]!["volumeMounts"]).toEqual([{ name: "cloudsql", mountPath: "/cloudsql" }]);
      expect((await changesOf(add)).changes).toEqual([]);

      const none = runSpec("worker", "template:\n  cloudSqlInstances: []");
      ({ o, changes } = await changesOf(none));
      await wait((await rec.write(gcp, o, none, changes)).poller);
      t = simState(WORKER).template;
      expect(t.volumes ?? []).toEqual([]);
      expect(t.containers[0]!["volumeMounts"] ?? []).toEqual([]);
      expect((await changesOf(none)).changes).toEqual([]);
    });

    it("lets Cloud Run name the new revision when the template names an existing one", async () => {
      await h.close();
      h = await startSim({
        run: {
          services: [
            {
              name: WORKER,
              template: { revision: "worker-pinned", containers: [{ image: "gcr.io/acme/worker:1" }] },
            },
          ],
        },
      });
      gcp = connect(h);
      const spec = runSpec("worker", "template:\n  maxConcurrency: 20");
      const { o, changes } = await changesOf(spec);
      await wait((await rec.write(gcp, o, spec, changes)).poller);
      expect(simState(WORKER).latestCreatedRevision).toMatch(/\/revisions\/worker-00002-[a-z0-9]{3}$/);
    });

    it("refuses to write when containerName is not the container capstan reads", async () => {
      const spec = runSpec("api", "template:\n  containerName: proxy\n  maxConcurrency: 10");
      const { o, changes } = await changesOf(spec);
      expect(changes.map((c) => c.field)).toEqual(["template.maxConcurrency", "template.containerName"]);
      await expect(rec.write(gcp, o, spec, changes)).rejects.toMatchObject({
        code: "CONTAINER_MISMATCH",
        message: expect.stringContaining("the container that serves requests (app)"),
      });
      await expect(rec.write(gcp, o, spec, changes)).rejects.toBeInstanceOf(CloudRunServiceWriteError);
      expect(rpcs()).not.toContain("google.cloud.run.v2.Services.UpdateService");
      const check = await rec.check(gcp, spec, o, changes);
      expect(check.problems).toEqual([expect.stringContaining('spec.template.containerName is "proxy"')]);
    });

    it("validates without persisting anything when asked to", async () => {
      const spec = runSpec("api", CHANGED_SPEC);
      const before = simState(API);
      const { o, changes } = await changesOf(spec);
      await expect(rec.write(gcp, o, spec, changes, { validateOnly: true })).resolves.toEqual({
        poller: undefined,
        validated: true,
      });
      const update = h.sim.requests().find((r) => r.rpc.endsWith("UpdateService"))!;
      expect(update.query).toMatch(/validateOnly=true/);
      const after = simState(API);
      expect(after.etag).toBe(before.etag);
      expect(after.generation).toBe(before.generation);
      expect(after.latestCreatedRevision).toBe(before.latestCreatedRevision);
    });
  });

  describe("disruptions and readiness", () => {
    it("names the template fields that deploy a new revision", async () => {
      const spec = runSpec("api", CHANGED_SPEC);
      const { o, changes } = await changesOf(spec);
      const d = rec.disruptions(changes, o, spec);
      expect(d).toHaveLength(1);
      expect(d[0]!.kind).toBe("new-revision");
      // Traffic moves once the new revision is ready: no downtime to state.
      expect(d[0]).not.toHaveProperty("expectedDowntimeSeconds");
      expect(d[0]!.fields).toEqual(
        changes.filter((c) => c.field.startsWith("template.")).map((c) => c.field),
      );
      expect(d[0]!.fields).not.toContain("scaling.minInstances");
      expect(d[0]!.reason).toContain("new revision");
    });

    it("finds no disruption in service-level ingress and scaling changes", async () => {
      const spec = runSpec(
        "api",
        "ingress: INGRESS_TRAFFIC_ALL\nscaling: { minInstances: 3, maxInstances: 30 }",
      );
      const { o, changes } = await changesOf(spec);
      expect(changes).toHaveLength(3);
      expect(rec.disruptions(changes, o, spec)).toEqual([]);
    });

    it("is not ready while the new revision deploys, and ready once it serves", async () => {
      const spec = runSpec("api", "template:\n  maxConcurrency: 60");
      const { o, changes } = await changesOf(spec);
      const { poller } = await rec.write(gcp, o, spec, changes);
      const during = await observe("api");
      expect(during.readiness).toEqual({
        ready: false,
        reason: expect.stringMatching(
          /^revision api-00002-[a-z0-9]{3} is deploying \(serving api-00001-[a-z0-9]{3}\)$/,
        ),
      });
      await wait(poller);
      expect((await observe("api")).readiness).toEqual({ ready: true });
    });

    it("reports a failed deploy as failed, naming the revision and GCP's reason", async () => {
      h.sim.faults.add({
        match: { api: "run.googleapis.com", rpc: "UpdateService" },
        failOperation: { message: "The user-provided container failed the configured startup probe checks." },
        times: 1,
      });
      const spec = runSpec("api", "template:\n  timeout: 120s");
      const { o, changes } = await changesOf(spec);
      const err = await wait((await rec.write(gcp, o, spec, changes)).poller).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OperationError);
      const after = await observe("api");
      expect(after.readiness.ready).toBe(false);
      expect(after.readiness.failed).toBe(true);
      expect(after.readiness.reason).toMatch(
        /^revision api-00002-[a-z0-9]{3} failed: Revision 'api-00002-[a-z0-9]{3}' is not ready and cannot serve traffic\. The user-provided container failed the configured startup probe checks\. \(still serving api-00001-[a-z0-9]{3}\)$/,
      );
    });
  });

  describe("check", () => {
    it("notes what `latest` resolves to, reading secret metadata only and never a payload", async () => {
      const spec = runSpec(
        "api",
        "template:\n  env:\n    DB_PASSWORD: { secret: { name: db-password, version: latest } }",
      );
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result).toEqual({
        problems: [],
        notes: [`env DB_PASSWORD: secret projects/${P}/secrets/db-password latest = version 3`],
      });
      expect(rpcs()).toContain("google.cloud.secretmanager.v1.SecretManagerService.GetSecretVersion");
      expect(rpcs().filter((r) => /AccessSecretVersion/.test(r))).toEqual([]);
      expect(h.sim.requests().filter((r) => r.path.endsWith(":access"))).toEqual([]);
      expect(calls.filter((c) => c.api === "secretmanager.googleapis.com").every((c) => !c.write)).toBe(true);
    });

    it("reports a disabled, a missing and an unknown secret version with what would be valid", async () => {
      const spec = runSpec(
        "api",
        `
template:
  env:
    DB_PASSWORD: { secret: { name: db-password, version: '1' } }
    TOKEN: { secret: { name: old-token, version: latest } }
    API_KEY: { secret: { name: api-key, version: '1' } }
    DB_PASSWORD_NEXT: { secret: { name: db-password, version: '9' } }
`,
      );
      const { o, changes } = await changesOf(spec);
      const { problems, notes } = await rec.check(gcp, spec, o, changes);
      expect(problems.slice(0, 4)).toEqual([
        `env DB_PASSWORD: secret projects/${P}/secrets/db-password version 1 is DISABLED; ENABLED versions: 3, 2; pin one of them or enable this one`,
        `env TOKEN: secret projects/${P}/secrets/old-token latest (version 2) is DISABLED; ENABLED versions: 1; pin one of them or enable this one`,
        `env API_KEY: secret projects/${P}/secrets/api-key does not exist; create it or reference an existing secret`,
        `env DB_PASSWORD_NEXT: secret projects/${P}/secrets/db-password has no version 9; ENABLED versions: 3, 2; pin one of them or enable this one`,
      ]);
      expect(notes).toEqual([]);
      expect(h.sim.requests().filter((r) => r.path.endsWith(":access"))).toEqual([]);
    });

    it("turns a validateOnly rejection into a problem with GCP's message and persists nothing", async () => {
      // The spec alone is valid; only against the live maxInstances (20) is it not.
      const spec = runSpec("api", "template:\n  scaling: { minInstances: 30 }");
      const before = simState(API);
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result.problems).toEqual([
        "Cloud Run refuses the change (validateOnly): template.scaling.max_instance_count: must be greater than or equal to min_instance_count",
      ]);
      const updates = h.sim.requests().filter((r) => r.rpc.endsWith("UpdateService"));
      expect(updates).toHaveLength(1);
      expect(updates[0]!.query).toMatch(/validateOnly=true/);
      expect(updates[0]!.status).toBe(400);
      expect(simState(API).etag).toBe(before.etag);
    });

    it("validates an acceptable change server-side without persisting it, and skips validation when nothing changes", async () => {
      const spec = runSpec("api", CHANGED_SPEC);
      const before = simState(API);
      const { o, changes } = await changesOf(spec);
      expect(await rec.check(gcp, spec, o, changes)).toEqual({
        problems: [],
        notes: [`env DB_PASSWORD: secret projects/${P}/secrets/db-password latest = version 3`],
      });
      expect(simState(API).etag).toBe(before.etag);
      expect(simState(API).generation).toBe(before.generation);
      const seen = h.sim.requests().length;
      await rec.check(gcp, runSpec("api", "ingress: INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"), o, []);
      expect(
        h.sim
          .requests()
          .slice(seen)
          .map((r) => r.rpc),
      ).toEqual([]);
    });
  });

  it("records check, write and wait as a golden HTTP log", async () => {
    // A long deploy and two explicit polls keep the log independent of real-time jitter.
    const g = await startSim({ ...FIXTURE, durations: { "run.deploy": 1200 } }, { captureResponses: true });
    try {
      const ggcp = connect(g);
      const spec = runSpec(
        "api",
        "scaling: { minInstances: 1 }\ntemplate:\n  maxConcurrency: 40\n  env:\n    DB_POOL_SIZE: 8",
      );
      const [o] = (await rec.list(ggcp, rec.scopeOf(refOf("api")))).filter((x) => x.ref.id === "api");
      const changes = diff(o!, spec);
      expect((await rec.check(ggcp, spec, o!, changes)).problems).toEqual([]);
      const { poller } = await rec.write(ggcp, o!, spec, changes);
      expect(await poller!()).toEqual({ done: false });
      await g.sim.clock.sleep(1_201_000);
      expect(await poller!()).toEqual({ done: true });
      const after = await rec.get(ggcp, refOf("api"));
      expect(diff(after!, spec)).toEqual([]);
      expectGolden("reconcilers/cloud-run-service-update.json", normalizeLog(g.sim.requests()));
    } finally {
      await g.close();
    }
  });
});
