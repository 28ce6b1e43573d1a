import type { protos } from "@google-cloud/sql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { isConflict } from "../../src/gcp/call.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import {
  pendingSqlOperation,
  sqlInstanceReconciler as rec,
  SQL_RESTART_DOWNTIME_SECONDS,
  SqlInstanceWriteError,
} from "../../src/reconcilers/sql-instance.ts";
import type { ResourceRef } from "../../src/reconcilers/types.ts";
import type { Fixture } from "../../src/sim/index.ts";
import type { CloudSqlService } from "../../src/sim/sqladmin/index.ts";
import { connect } from "../helpers/gcp.ts";
import { reconcilerTest, specLoader } from "../helpers/reconciler.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

type IDatabaseInstance = protos.google.cloud.sql.v1.IDatabaseInstance;

const PROJECT = "acme-staging";
const REGION = "europe-west1";

const FIXTURE: Fixture = {
  durations: { "sql.update": 30, "sql.restart": 180 },
  sql: {
    instances: [
      {
        project: PROJECT,
        name: "orders-db",
        region: REGION,
        databaseVersion: "POSTGRES_15",
        settings: {
          tier: "db-custom-2-7680",
          dataDiskSizeGb: "20",
          userLabels: { app: "orders", team: "payments" },
          backupConfiguration: { enabled: true, startTime: "02:00" },
          databaseFlags: [
            { name: "max_connections", value: "120" },
            { name: "work_mem", value: "4096" },
            { name: "log_connections", value: "on" },
          ],
        },
      },
      { project: PROJECT, name: "billing-db", region: REGION },
      { project: PROJECT, name: "audit-db", region: "us-central1" },
      { project: "other-project", name: "orders-db" },
    ],
  },
};

/** sqlSpec loads one SqlInstance document through the real spec loader. */
const sqlSpec = specLoader("SqlInstance", { path: "specs/database.yaml", project: PROJECT, region: REGION });

function refOf(id: string, project = PROJECT): ResourceRef {
  return { kind: "SqlInstance", project, location: REGION, id };
}

function flagsOf(live: IDatabaseInstance): Record<string, string> {
  return Object.fromEntries((live.settings?.databaseFlags ?? []).map((f) => [f.name, f.value]));
}

describe("SqlInstance reconciler", () => {
  let h: SimHarness;
  let gcp: Gcp;

  const { observe, diff, changesOf, wait, simItem, listInPages } = reconcilerTest({
    reconciler: rec,
    harness: () => h,
    gcp: () => gcp,
    refOf,
    what: "Cloud SQL update",
    timeoutMs: 3_600_000,
  });
  /** The instance as the simulator holds it, read outside the API. */
  const simState = (id: string) =>
    simItem<{ settings: Record<string, unknown> } & Record<string, unknown>>(
      "sql",
      "instances",
      (i) => i["name"] === id && i["project"] === PROJECT,
    );
  const patchBodies = () =>
    h.sim
      .requests()
      .filter((e) => e.method === "PATCH")
      .map((e) => e.body);

  beforeEach(async () => {
    h = await startSim(FIXTURE);
    gcp = connect(h);
  });
  afterEach(async () => {
    await h.close();
  });

  describe("list and get", () => {
    it("lists every instance of a project across pages, one call per page", async () => {
      const many: Fixture = {
        sql: {
          instances: Array.from({ length: 503 }, (_, i) => ({
            project: PROJECT,
            name: `db-${String(i).padStart(3, "0")}`,
            region: i % 2 ? REGION : "us-central1",
          })),
        },
      };
      const scope = { project: PROJECT, location: "global" };
      const { lists } = await listInPages(many, scope, 503, "SqlInstancesService.List");
      expect(lists[0]!.query).toContain("maxResults=500");
    });

    it("reports each instance with its full name, region, settingsVersion and readiness", async () => {
      const listed = await rec.list(gcp, rec.scopeOf(refOf("orders-db")));
      expect(listed.map((o) => o.name).sort()).toEqual([
        `projects/${PROJECT}/instances/audit-db`,
        `projects/${PROJECT}/instances/billing-db`,
        `projects/${PROJECT}/instances/orders-db`,
      ]);
      const orders = listed.find((o) => o.ref.id === "orders-db")!;
      expect(orders.ref).toEqual({
        kind: "SqlInstance",
        project: PROJECT,
        location: REGION,
        id: "orders-db",
      });
      expect(orders.name).toBe(rec.fullName(refOf("orders-db")));
      expect(orders.version).toBe("1");
      expect(orders.readiness).toEqual({ ready: true });
      expect(orders.live.settings?.userLabels).toEqual({ app: "orders", team: "payments" });
    });

    it("narrows the list to a region when the scope names one", async () => {
      const listed = await rec.list(gcp, { project: PROJECT, location: "us-central1" });
      expect(listed.map((o) => o.ref.id)).toEqual(["audit-db"]);
    });

    it("answers undefined for an instance that does not exist", async () => {
      await expect(rec.get(gcp, refOf("nope-db"))).resolves.toBeUndefined();
    });
  });

  describe("normalize and desired", () => {
    it("normalizes a live instance into the spec's shape with GCP's defaults filled in", async () => {
      const orders = await observe("orders-db");
      expect(rec.normalize(orders.live)).toEqual({
        databaseVersion: "POSTGRES_15",
        tier: "db-custom-2-7680",
        availabilityType: "ZONAL",
        dataDiskSizeGb: 20,
        databaseFlags: { max_connections: "120", work_mem: "4096", log_connections: "on" },
      });
    });

    it("shows no change for a spec that states GCP's default values", async () => {
      const billing = await observe("billing-db");
      const spec = sqlSpec(
        "billing-db",
        `
databaseVersion: POSTGRES_15
tier: db-custom-2-7680
availabilityType: ZONAL
dataDiskSizeGb: 10
`,
      );
      expect(diff(billing, spec)).toEqual([]);
    });

    it("shows no change for a null flag that is not set live", async () => {
      // `null` means "must not be set"; a flag that is absent already satisfies it.
      const billing = await observe("billing-db");
      const spec = sqlSpec("billing-db", "databaseFlags:\n  max_connections: null\n  work_mem: null");
      expect(diff(billing, spec)).toEqual([]);
    });

    it("puts only stated fields in the desired shape, keeping null flags", () => {
      const spec = sqlSpec(
        "orders-db",
        `
tier: db-custom-4-15360
databaseFlags:
  max_connections: 200
  log_connections: true
  work_mem: null
maintenanceWindow:
  day: SUNDAY
`,
      );
      expect(rec.desired(spec)).toStrictEqual({
        tier: "db-custom-4-15360",
        databaseFlags: { max_connections: "200", log_connections: "on", work_mem: null },
        maintenanceWindow: { day: 7 },
      });
    });

    it("diffs exactly the managed fields that differ, a null flag as value to null", async () => {
      const orders = await observe("orders-db");
      const spec = sqlSpec(
        "orders-db",
        `
databaseVersion: POSTGRES_15
tier: db-custom-4-15360
dataDiskSizeGb: 20
databaseFlags:
  max_connections: 200
  work_mem: null
  statement_timeout: 30000
allowRestart: true
maintenanceWindow:
  day: SUNDAY
  hour: 3
  updateTrack: stable
`,
      );
      const changes = diff(orders, spec);
      expect(changes).toEqual([
        { path: ["tier"], field: "tier", before: "db-custom-2-7680", after: "db-custom-4-15360" },
        {
          path: ["databaseFlags", "max_connections"],
          field: "databaseFlags.max_connections",
          before: "120",
          after: "200",
        },
        { path: ["databaseFlags", "work_mem"], field: "databaseFlags.work_mem", before: "4096", after: null },
        {
          path: ["databaseFlags", "statement_timeout"],
          field: "databaseFlags.statement_timeout",
          before: undefined,
          after: "30000",
        },
        // No window is set live: real Cloud SQL then reports none (recorded/sql/instance-postgres-minimal.json).
        { path: ["maintenanceWindow", "day"], field: "maintenanceWindow.day", before: undefined, after: 7 },
        { path: ["maintenanceWindow", "hour"], field: "maintenanceWindow.hour", before: undefined, after: 3 },
        {
          path: ["maintenanceWindow", "updateTrack"],
          field: "maintenanceWindow.updateTrack",
          before: undefined,
          after: "stable",
        },
      ]);
    });
  });

  describe("write", () => {
    const ROLLOUT = `
tier: db-custom-4-15360
availabilityType: REGIONAL
dataDiskSizeGb: 50
databaseFlags:
  max_connections: 200
  statement_timeout: 30000
maintenanceWindow:
  day: SUNDAY
  hour: 3
  updateTrack: stable
allowRestart: true
`;

    it("writes every change in one patch, then a re-read shows no change (round trip)", async () => {
      const spec = sqlSpec("orders-db", ROLLOUT);
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      expect(changes).toHaveLength(8);
      h.sim.clearRequests();
      const { poller } = await rec.write(gcp, before, spec, changes);
      expect(poller).toBeDefined();
      await wait(poller!);
      expect(patchBodies()).toHaveLength(1);
      const after = await observe("orders-db");
      expect(diff(after, spec)).toEqual([]);
      expect(after.version).toBe("2");
      expect(flagsOf(after.live)).toEqual({
        max_connections: "200",
        work_mem: "4096",
        log_connections: "on",
        statement_timeout: "30000",
      });
    });

    it("removes a flag the spec sets to null, then a re-read shows no change", async () => {
      const spec = sqlSpec("orders-db", "databaseFlags:\n  work_mem: null\n  shared_buffers: null");
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      expect(changes.map((c) => [c.field, c.before, c.after])).toEqual([
        ["databaseFlags.work_mem", "4096", null],
      ]);
      await wait((await rec.write(gcp, before, spec, changes)).poller!);
      const after = await observe("orders-db");
      expect(flagsOf(after.live)).toEqual({ max_connections: "120", log_connections: "on" });
      expect(diff(after, spec)).toEqual([]);
    });

    it("sends only the changed settings, the settingsVersion and the whole merged flag list", async () => {
      const spec = sqlSpec(
        "orders-db",
        `
dataDiskSizeGb: 20
databaseFlags:
  work_mem: null
  statement_timeout: 30000
  log_connections: "on"
`,
      );
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      h.sim.clearRequests();
      await wait((await rec.write(gcp, before, spec, changes)).poller!);
      // max_connections and log_connections are sent back as they were; work_mem is
      // dropped; the disk size, unchanged, is not sent at all. The empty maps are how the
      // client library encodes map fields the request leaves empty; under patch semantics
      // they merge as no change (the labels survive, see below).
      expect(patchBodies()).toEqual([
        {
          tags: {},
          settings: {
            settingsVersion: "1",
            userLabels: {},
            databaseFlags: [
              { name: "max_connections", value: "120" },
              { name: "log_connections", value: "on" },
              { name: "statement_timeout", value: "30000" },
            ],
          },
        },
      ]);
      expect(simState("orders-db").settings["userLabels"]).toEqual({ app: "orders", team: "payments" });
    });

    it("writes an intermediate value of a stepped rollout rather than the spec's", async () => {
      const spec = sqlSpec("orders-db", "databaseFlags:\n  max_connections: 400\nallowRestart: true");
      const before = await observe("orders-db");
      const step: FieldChange = {
        path: ["databaseFlags", "max_connections"],
        field: "databaseFlags.max_connections",
        before: "120",
        after: "240",
      };
      await wait((await rec.write(gcp, before, spec, [step])).poller!);
      const after = await observe("orders-db");
      expect(rec.normalize(after.live)["databaseFlags"]).toEqual({
        max_connections: "240",
        work_mem: "4096",
        log_connections: "on",
      });
    });

    it("leaves every field the spec does not manage as it was", async () => {
      const spec = sqlSpec("orders-db", ROLLOUT);
      const before = await observe("orders-db");
      const sim0 = structuredClone(simState("orders-db"));
      const changes = diff(before, spec);
      await wait((await rec.write(gcp, before, spec, changes)).poller!);
      const sim1 = simState("orders-db");
      const MANAGED = [
        "tier",
        "availabilityType",
        "dataDiskSizeGb",
        "databaseFlags",
        "maintenanceWindow",
        "settingsVersion",
      ];
      const unmanaged = (s: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(s).filter(([k]) => !MANAGED.includes(k)));
      expect(unmanaged(sim1.settings)).toEqual(unmanaged(sim0.settings));
      expect(sim1.settings["userLabels"]).toEqual({ app: "orders", team: "payments" });
      expect(sim1.settings["backupConfiguration"]).toMatchObject({ enabled: true, startTime: "02:00" });
      const { settings: _s0, etag: _e0, ...rest0 } = sim0;
      const { settings: _s1, etag: _e1, ...rest1 } = sim1;
      expect(rest1).toEqual(rest0);
      // The flag the spec does not name survives the whole-list replace.
      expect(flagsOf((await observe("orders-db")).live)["log_connections"]).toBe("on");
    });

    it("sends settingsVersion as the precondition, so a stale read fails with 412 staleData", async () => {
      const spec = sqlSpec("orders-db", "databaseFlags:\n  work_mem: 8192");
      const stale = await observe("orders-db");
      h.sim.edit("sql", {
        kind: "instance",
        name: `projects/${PROJECT}/instances/orders-db`,
        patch: { settings: { userLabels: { oncall: "db-team" } } },
      });
      const changes = diff(stale, spec);
      const err = await rec.write(gcp, stale, spec, changes).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 9,
        message: expect.stringContaining("Condition does not match."),
      });
      expect(isConflict(err)).toBe(true);
      expect(h.sim.requests().at(-1)?.status).toBe(412);
      expect(flagsOf((await observe("orders-db")).live)["work_mem"]).toBe("4096");
      // A fresh read carries the new version and the same change goes through.
      const fresh = await observe("orders-db");
      expect(fresh.version).toBe("2");
      await wait((await rec.write(gcp, fresh, spec, changes)).poller!);
      expect(flagsOf((await observe("orders-db")).live)["work_mem"]).toBe("8192");
      expect(simState("orders-db").settings["userLabels"]).toMatchObject({ oncall: "db-team" });
    });

    it("never writes databaseVersion and never writes at all for validateOnly", async () => {
      const spec = sqlSpec(
        "orders-db",
        "databaseVersion: POSTGRES_16\ntier: db-custom-4-15360\nallowRestart: true",
      );
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      expect(changes.map((c) => c.field)).toEqual(["databaseVersion", "tier"]);
      h.sim.clearRequests();
      await expect(rec.write(gcp, before, spec, changes)).rejects.toBeInstanceOf(SqlInstanceWriteError);
      await expect(rec.write(gcp, before, spec, changes.slice(1), { validateOnly: true })).resolves.toEqual({
        poller: undefined,
        validated: false,
      });
      expect(patchBodies()).toEqual([]);
    });

    it("surfaces a failed operation and leaves the settings as they were", async () => {
      h.sim.faults.add({
        match: { api: "sqladmin.googleapis.com", rpc: "Patch" },
        failOperation: { message: "Cloud SQL could not apply the flags." },
        times: 1,
      });
      const spec = sqlSpec("orders-db", "databaseFlags:\n  work_mem: 8192");
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      const failure = await wait((await rec.write(gcp, before, spec, changes)).poller!).catch(
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(OperationError);
      expect(failure).toMatchObject({ code: "OPERATION_FAILED" });
      const after = await observe("orders-db");
      expect(diff(after, spec)).toEqual(changes);
      expect(after.version).toBe("1");
    });
  });

  describe("disruptions and checks", () => {
    it("counts a tier change and restart flags as one restart, naming the fields", async () => {
      const spec = sqlSpec(
        "orders-db",
        "tier: db-custom-4-15360\ndatabaseFlags:\n  max_connections: 200\n  work_mem: 8192\nallowRestart: true",
      );
      const { o, changes } = await changesOf(spec);
      expect(rec.disruptions(changes, o, spec)).toEqual([
        {
          kind: "restart",
          reason:
            "changing tier from db-custom-2-7680 to db-custom-4-15360, changing max_connections from 120 to 200 restarts the instance; open connections are dropped",
          fields: ["tier", "databaseFlags.max_connections"],
          expectedDowntimeSeconds: SQL_RESTART_DOWNTIME_SECONDS,
        },
      ]);
    });

    it("counts removing a restart flag and changing the availability type as restarts", async () => {
      const spec = sqlSpec(
        "orders-db",
        "availabilityType: REGIONAL\ndatabaseFlags:\n  max_connections: null\nallowRestart: true",
      );
      const { o, changes } = await changesOf(spec);
      const [d] = rec.disruptions(changes, o, spec);
      expect(d?.kind).toBe("restart");
      expect(d?.fields).toEqual(["availabilityType", "databaseFlags.max_connections"]);
      expect(d?.reason).toContain("removing max_connections");
    });

    it("finds no disruption in online flags, a larger disk or a new maintenance window", async () => {
      const spec = sqlSpec(
        "orders-db",
        "dataDiskSizeGb: 40\ndatabaseFlags:\n  work_mem: 8192\n  log_connections: false\nmaintenanceWindow:\n  day: 2\n  hour: 4",
      );
      const { o, changes } = await changesOf(spec);
      expect(changes).toHaveLength(5);
      expect(rec.disruptions(changes, o, spec)).toEqual([]);
    });

    it("refuses a restart without consent and a databaseVersion that differs from live", async () => {
      const spec = sqlSpec(
        "orders-db",
        "databaseVersion: POSTGRES_16\ndatabaseFlags:\n  max_connections: 200\navailabilityType: REGIONAL",
      );
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result.problems).toEqual([
        expect.stringContaining("runs POSTGRES_15; capstan does not upgrade database versions"),
        expect.stringMatching(
          /max_connections from 120 to 200 restarts the instance; set spec\.allowRestart: true/,
        ),
        expect.stringMatching(
          /availabilityType from ZONAL to REGIONAL requires a restart; set spec\.allowRestart: true/,
        ),
      ]);
      expect(result.notes).toEqual([]);
    });

    it("accepts a consented restart and notes that it does not wait for the maintenance window", async () => {
      const spec = sqlSpec(
        "orders-db",
        "databaseFlags:\n  max_connections: 200\nmaintenanceWindow:\n  day: SUNDAY\n  hour: 3\nallowRestart: true",
      );
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result.problems).toEqual([]);
      expect(result.notes).toEqual([expect.stringContaining("not in the maintenance window")]);
    });

    it("refuses a disk that would shrink", async () => {
      const spec = sqlSpec("orders-db", "dataDiskSizeGb: 10");
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result.problems).toEqual([expect.stringContaining("never shrink")]);
    });
  });

  describe("readiness", () => {
    it("is not ready while its update runs, offers that operation to wait on, then is ready", async () => {
      const spec = sqlSpec("orders-db", "databaseFlags:\n  max_connections: 200\nallowRestart: true");
      const before = await observe("orders-db");
      const changes = diff(before, spec);
      const { poller } = await rec.write(gcp, before, spec, changes);
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "orders-db")).toBe(false);

      const during = await observe("orders-db");
      expect(during.readiness.ready).toBe(false);
      expect(during.readiness.failed).toBeFalsy();
      expect(during.readiness.reason).toMatch(/^UPDATE operation \S+ is (PENDING|RUNNING)$/);
      const pending = await pendingSqlOperation(gcp, PROJECT, "orders-db");
      expect(pending).toBeDefined();
      await expect(rec.pending(gcp, refOf("orders-db"))).resolves.toBeDefined();
      // Another instance is not busy.
      await expect(pendingSqlOperation(gcp, PROJECT, "billing-db")).resolves.toBeUndefined();

      const status = await waitForOperation(pending!, {
        clock: h.sim.clock,
        timeoutMs: 3_600_000,
        what: "running operation",
      });
      expect(status).toEqual({ done: true });
      await expect(poller!()).resolves.toEqual({ done: true });
      const after = await observe("orders-db");
      expect(after.readiness).toEqual({ ready: true });
      await expect(pendingSqlOperation(gcp, PROJECT, "orders-db")).resolves.toBeUndefined();
    });

    it("sees an operation someone else started, such as a restart from the console", async () => {
      await h.gcp.sql.instances.restart({ project: PROJECT, instance: "billing-db" });
      const billing = await observe("billing-db");
      expect(billing.readiness).toMatchObject({
        ready: false,
        reason: expect.stringMatching(/^RESTART operation/),
      });
    });

    it("fails readiness for a FAILED instance and for one stopped by its owner", async () => {
      h.sim.edit("sql", {
        kind: "instance",
        name: `projects/${PROJECT}/instances/billing-db`,
        patch: { state: "FAILED" },
      });
      h.sim.edit("sql", {
        kind: "instance",
        name: `projects/${PROJECT}/instances/orders-db`,
        patch: { settings: { activationPolicy: "NEVER" } },
      });
      const listed = await rec.list(gcp, { project: PROJECT, location: "global" });
      const by = (id: string) => listed.find((o) => o.ref.id === id)!.readiness;
      expect(by("billing-db")).toEqual({ ready: false, failed: true, reason: "instance is FAILED" });
      expect(by("orders-db")).toEqual({
        ready: false,
        failed: true,
        reason: "instance is stopped (activationPolicy NEVER)",
      });
      expect(by("audit-db")).toEqual({ ready: true });
    });
  });
});
