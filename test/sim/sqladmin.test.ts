import type { protos } from "@google-cloud/sql";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkSqlFlag, defaultMaxConnections, sqlFlagLimits } from "../../src/gcp/catalog/sql.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import { sqlOperationPoller } from "../../src/gcp/sql.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import type { Fixture, RequestLogEntry } from "../../src/sim/index.ts";
import type { CloudSqlService } from "../../src/sim/sqladmin/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

type IOperation = protos.google.cloud.sql.v1.IOperation;
type ITimestamp = protos.google.protobuf.ITimestamp;

const PROJECT = "acme-staging";

const FIXTURE: Fixture = {
  durations: { "sql.update": 30, "sql.restart": 180 },
  sql: {
    instances: [
      {
        project: PROJECT,
        name: "orders-db",
        region: "europe-west1",
        databaseVersion: "POSTGRES_15",
        settings: {
          tier: "db-custom-2-7680",
          userLabels: { env: "prod" },
          databaseFlags: [
            { name: "max_connections", value: "120" },
            { name: "work_mem", value: "4096" },
            { name: "statement_timeout", value: "30000" },
          ],
        },
      },
      { project: PROJECT, name: "billing-db", settings: { tier: "db-custom-1-3840" } },
      { project: PROJECT, name: "audit-db", settings: { userLabels: { env: "dev" } } },
      { project: "other-project", name: "orders-db" },
    ],
  },
};

function ms(t: ITimestamp | null | undefined): number {
  return Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

function flagsOf(instance: protos.google.cloud.sql.v1.IDatabaseInstance): Record<string, string> {
  return Object.fromEntries((instance.settings?.databaseFlags ?? []).map((f) => [f.name, f.value]));
}

/** The answer the simulator sent for the last call, as GCP would have sent it. */
function lastResponse(h: SimHarness): { status: number; body: Record<string, unknown> } {
  const e = h.sim.requests().at(-1) as RequestLogEntry;
  return { status: e.status, body: e.response as Record<string, unknown> };
}

describe("simulated Cloud SQL Admin API", () => {
  let h: SimHarness;
  const sql = () => h.gcp.sql;
  const wait = (op: IOperation) =>
    waitForOperation(sqlOperationPoller(connect(h), PROJECT, op.name!), {
      clock: h.sim.clock,
      timeoutMs: 3_600_000,
      intervalMs: 1000,
      maxIntervalMs: 5000,
      what: `Cloud SQL operation ${op.name}`,
    });

  beforeEach(async () => {
    h = await startSim(FIXTURE, { captureResponses: true });
  });
  afterEach(async () => {
    await h.close();
  });

  describe("instances", () => {
    it("lists one project's instances in pages of maxResults, following pageToken", async () => {
      const [first] = await sql().instances.list({ project: PROJECT, maxResults: 2 });
      expect(first.kind).toBe("sql#instancesList");
      expect(first.items).toHaveLength(2);
      expect(first.nextPageToken).toBeTruthy();
      const [second] = await sql().instances.list({
        project: PROJECT,
        maxResults: 2,
        pageToken: first.nextPageToken!,
      });
      expect(second.nextPageToken ?? "").toBe("");
      const all = [...(first.items ?? []), ...(second.items ?? [])].map((i) => i.name);
      expect(all.sort()).toEqual(["audit-db", "billing-db", "orders-db"]);
    });

    it("filters the list by field:value terms over the JSON representation", async () => {
      const [prod] = await sql().instances.list({ project: PROJECT, filter: "settings.userLabels.env:prod" });
      expect(prod.items?.map((i) => i.name)).toEqual(["orders-db"]);
      const [none] = await sql().instances.list({
        project: PROJECT,
        filter: "state:RUNNABLE region:asia-east1",
      });
      expect(none.items ?? []).toHaveLength(0);
    });

    it("fills the server-side fields GCP reports when a fixture gives only a few settings", async () => {
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(db).toMatchObject({
        kind: "sql#instance",
        state: "RUNNABLE",
        databaseVersion: "POSTGRES_15",
        region: "europe-west1",
        gceZone: "europe-west1-a",
        project: PROJECT,
        connectionName: `${PROJECT}:europe-west1:orders-db`,
        selfLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/instances/orders-db`,
        instanceType: "CLOUD_SQL_INSTANCE",
        backendType: "SECOND_GEN",
      });
      expect(db.etag).toBeTruthy();
      expect(db.settings).toMatchObject({
        kind: "sql#settings",
        tier: "db-custom-2-7680",
        availabilityType: "ZONAL",
        activationPolicy: "ALWAYS",
        pricingPlan: "PER_USE",
        dataDiskType: "PD_SSD",
        userLabels: { env: "prod" },
      });
      // int64 wrappers travel as strings and the client keeps them in `value`.
      expect(String(db.settings?.settingsVersion?.value)).toBe("1");
      expect(String(db.settings?.dataDiskSizeGb?.value)).toBe("10");
      expect(db.settings?.ipConfiguration?.ipv4Enabled?.value).toBe(true);
      expect(db.settings?.backupConfiguration?.kind).toBe("sql#backupConfiguration");
      expect(db.settings?.maintenanceWindow ?? undefined).toBeUndefined();
      expect(db.ipAddresses?.[0]?.type).toBe("PRIMARY");
    });

    it("answers a missing instance with 404 instanceDoesNotExist in Cloud SQL's error format", async () => {
      await expect(sql().instances.get({ project: PROJECT, instance: "nope-db" })).rejects.toMatchObject({
        code: 5,
        message: expect.stringContaining("The Cloud SQL instance does not exist."),
      });
      const answer = lastResponse(h);
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({
        error: {
          code: 404,
          errors: [{ domain: "global", reason: "instanceDoesNotExist" }],
        },
      });
    });

    it("keeps projects apart: the same instance id in another project is another instance", async () => {
      const [other] = await sql().instances.get({ project: "other-project", instance: "orders-db" });
      expect(other.region).toBe("us-central1");
      expect(other.settings?.databaseFlags ?? []).toHaveLength(0);
    });
  });

  describe("patch", () => {
    it("refuses a stale settingsVersion with 412 staleData and changes nothing", async () => {
      await expect(
        sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: { settings: { settingsVersion: { value: 7 }, tier: "db-custom-4-15360" } },
        }),
      ).rejects.toMatchObject({
        code: 9,
        message: expect.stringContaining("Condition does not match."),
      });
      const answer = lastResponse(h);
      expect(answer.status).toBe(412);
      expect(answer.body).toMatchObject({
        error: { code: 412, message: "Condition does not match.", errors: [{ reason: "staleData" }] },
      });
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(db.settings?.tier).toBe("db-custom-2-7680");
      const [ops] = await sql().operations.list({ project: PROJECT, instance: "orders-db" });
      expect(ops.items ?? []).toHaveLength(0);
    });

    it("accepts the current settingsVersion and increments it once the change is applied", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: { settings: { settingsVersion: { value: 1 }, userLabels: { team: "payments" } } },
      });
      expect(op).toMatchObject({ kind: "sql#operation", status: "PENDING", operationType: "UPDATE" });
      await wait(op);
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(String(db.settings?.settingsVersion?.value)).toBe("2");
      // Maps merge under patch semantics: the existing label stays.
      expect(db.settings?.userLabels).toEqual({ env: "prod", team: "payments" });
    });

    it("refuses any other mutation while a restart runs, with 409 operationInProgress", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: {
          settings: {
            databaseFlags: [
              { name: "max_connections", value: "200" },
              { name: "work_mem", value: "4096" },
              { name: "statement_timeout", value: "30000" },
            ],
          },
        },
      });
      const second = {
        project: PROJECT,
        instance: "orders-db",
        body: { settings: { userLabels: { team: "payments" } } },
      };
      await expect(sql().instances.patch(second)).rejects.toMatchObject({
        code: 10,
        message: expect.stringContaining(
          "Operation failed because another operation was already in progress.",
        ),
      });
      expect(lastResponse(h).status).toBe(409);
      await expect(
        sql().instances.restart({ project: PROJECT, instance: "orders-db" }),
      ).rejects.toMatchObject({ code: 10 });
      expect(lastResponse(h).body).toMatchObject({ error: { errors: [{ reason: "operationInProgress" }] } });
      // Another instance is not locked by it.
      await expect(sql().instances.patch({ ...second, instance: "billing-db" })).resolves.toBeDefined();
      await wait(op);
      await expect(sql().instances.patch(second)).resolves.toBeDefined();
    });

    it("replaces the whole flag list, dropping a flag the patch does not name", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: {
          settings: {
            databaseFlags: [
              { name: "max_connections", value: "120" },
              { name: "work_mem", value: "8192" },
            ],
          },
        },
      });
      await wait(op);
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(flagsOf(db)).toEqual({ max_connections: "120", work_mem: "8192" });
      expect(String(db.settings?.settingsVersion?.value)).toBe("2");
    });

    it("runs a patch of online flags for sql.update and keeps the instance serving", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: {
          settings: {
            databaseFlags: [
              { name: "max_connections", value: "120" },
              { name: "work_mem", value: "4096" },
              { name: "statement_timeout", value: "60000" },
            ],
          },
        },
      });
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "orders-db")).toBe(true);
      await wait(op);
      const [done] = await sql().operations.get({ project: PROJECT, operation: op.name! });
      expect((ms(done.endTime) - ms(done.startTime)) / 1000).toBe(30);
    });

    it("puts the instance through a restart when a restart-required flag changes", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: {
          settings: {
            databaseFlags: [
              { name: "max_connections", value: "200" },
              { name: "work_mem", value: "4096" },
              { name: "statement_timeout", value: "30000" },
            ],
          },
        },
      });
      const [running] = await sql().operations.get({ project: PROJECT, operation: op.name! });
      expect(running.status).toBe("RUNNING");
      // The API keeps reporting RUNNABLE; PostgreSQL refuses connections meanwhile.
      const [during] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(during.state).toBe("RUNNABLE");
      expect(flagsOf(during)["max_connections"]).toBe("120");
      const control = await fetch(`${h.endpoint}/__sim/services/sql/instances/${PROJECT}/orders-db`);
      expect(await control.json()).toMatchObject({ state: "RUNNABLE", serving: false, operation: op.name });

      await wait(op);
      const [done] = await sql().operations.get({ project: PROJECT, operation: op.name! });
      expect(done).toMatchObject({ status: "DONE", operationType: "UPDATE", targetId: "orders-db" });
      expect((ms(done.endTime) - ms(done.startTime)) / 1000).toBe(180);
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "orders-db")).toBe(true);
      const [after] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(flagsOf(after)["max_connections"]).toBe("200");
    });

    it("restarts the instance for a tier change", async () => {
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: { settings: { tier: "db-custom-4-15360" } },
      });
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "orders-db")).toBe(false);
      await wait(op);
      const [done] = await sql().operations.get({ project: PROJECT, operation: op.name! });
      expect((ms(done.endTime) - ms(done.startTime)) / 1000).toBe(180);
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(db.settings?.tier).toBe("db-custom-4-15360");
    });

    it("refuses an out-of-range flag with 400 invalidFlagValue and says what would be valid", async () => {
      await expect(
        sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: { settings: { databaseFlags: [{ name: "max_connections", value: "300000" }] } },
        }),
      ).rejects.toMatchObject({
        code: 3,
        message: expect.stringMatching(
          /^Value requested is not valid\. Failed to set max_connections: .*between 14 and 262143/,
        ),
      });
      expect(lastResponse(h)).toMatchObject({
        status: 400,
        body: { error: { errors: [{ domain: "global", reason: "invalidFlagValue" }] } },
      });
    });

    it("refuses an unknown flag, a wrongly typed value and a memory bound beyond the tier", async () => {
      const patch = (name: string, value: string) =>
        sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: { settings: { databaseFlags: [{ name, value }] } },
        });
      await expect(patch("max_connection", "100")).rejects.toMatchObject({
        code: 3,
        message: expect.stringContaining("unknown flag"),
      });
      await expect(patch("log_connections", "yes")).rejects.toMatchObject({
        message: expect.stringContaining("takes on or off"),
      });
      // 60% of db-custom-2-7680's 7680 MiB is 589824 pages of 8 kB.
      await expect(patch("shared_buffers", "600000")).rejects.toMatchObject({
        message: expect.stringContaining("between 13107 and 589824 (8kB) for tier db-custom-2-7680"),
      });
      await expect(patch("shared_buffers", "589824")).resolves.toBeDefined();
    });

    it("refuses a tier Cloud SQL does not offer", async () => {
      await expect(
        sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: { settings: { tier: "db-custom-3-7680" } },
        }),
      ).rejects.toMatchObject({
        code: 3,
        message: expect.stringContaining("Invalid Tier"),
      });
      expect(lastResponse(h).body).toMatchObject({ error: { errors: [{ reason: "invalid" }] } });
    });

    it("ends the operation in error and leaves the settings unchanged under a failOperation fault", async () => {
      h.sim.faults.add({
        match: { api: "sqladmin.googleapis.com", rpc: "Patch" },
        failOperation: { message: "Cloud SQL could not apply the flags." },
        times: 1,
      });
      const [op] = await sql().instances.patch({
        project: PROJECT,
        instance: "orders-db",
        body: { settings: { databaseFlags: [{ name: "max_connections", value: "200" }] } },
      });
      const failure = await wait(op).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(OperationError);
      expect(failure).toMatchObject({
        code: "OPERATION_FAILED",
        status: { done: true, error: { code: 13 } },
        message: expect.stringContaining("INTERNAL_ERROR: Cloud SQL could not apply the flags."),
      });
      const [done] = await sql().operations.get({ project: PROJECT, operation: op.name! });
      expect(done.status).toBe("DONE");
      expect(done.error?.errors).toEqual([
        expect.objectContaining({ kind: "sql#operationError", code: "INTERNAL_ERROR" }),
      ]);
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(flagsOf(db)).toEqual({ max_connections: "120", work_mem: "4096", statement_timeout: "30000" });
      expect(String(db.settings?.settingsVersion?.value)).toBe("1");
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "orders-db")).toBe(true);
    });
  });

  describe("update and restart", () => {
    it("replaces all settings on update (PUT), resetting what the body leaves out", async () => {
      const [op] = await sql().instances.update({
        project: PROJECT,
        instance: "orders-db",
        body: {
          settings: {
            settingsVersion: { value: 1 },
            tier: "db-custom-2-7680",
            databaseFlags: [{ name: "max_connections", value: "120" }],
          },
        },
      });
      await wait(op);
      const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(db.settings?.userLabels ?? {}).toEqual({});
      expect(flagsOf(db)).toEqual({ max_connections: "120" });
      expect(String(db.settings?.settingsVersion?.value)).toBe("2");
    });

    it("restarts an instance as a RESTART operation during which it does not serve", async () => {
      const [op] = await sql().instances.restart({ project: PROJECT, instance: "billing-db" });
      expect(op).toMatchObject({ operationType: "RESTART", status: "PENDING", targetId: "billing-db" });
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "billing-db")).toBe(false);
      await wait(op);
      expect(h.sim.service<CloudSqlService>("sql").serving(PROJECT, "billing-db")).toBe(true);
    });
  });

  describe("operations", () => {
    it("lists an instance's operations newest first, in pages", async () => {
      const ops: IOperation[] = [];
      for (const team of ["a", "b", "c"]) {
        const [op] = await sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: { settings: { userLabels: { team } } },
        });
        ops.push(op);
        await wait(op);
      }
      await wait((await sql().instances.restart({ project: PROJECT, instance: "billing-db" }))[0]);
      const [page1] = await sql().operations.list({ project: PROJECT, instance: "orders-db", maxResults: 2 });
      expect(page1.kind).toBe("sql#operationsList");
      expect(page1.items?.map((o) => o.name)).toEqual([ops[2]!.name, ops[1]!.name]);
      const [page2] = await sql().operations.list({
        project: PROJECT,
        instance: "orders-db",
        maxResults: 2,
        pageToken: page1.nextPageToken!,
      });
      expect(page2.items?.map((o) => o.name)).toEqual([ops[0]!.name]);
      expect(page2.items?.[0]).toMatchObject({
        kind: "sql#operation",
        status: "DONE",
        user: "user@example.com",
        targetProject: PROJECT,
        targetLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/instances/orders-db`,
        selfLink: `https://sqladmin.googleapis.com/v1/projects/${PROJECT}/operations/${ops[0]!.name}`,
      });
    });

    it("answers an unknown operation with 404", async () => {
      await expect(sql().operations.get({ project: PROJECT, operation: "nope" })).rejects.toMatchObject({
        code: 5,
      });
    });

    it("waits for an operation on the simulator's clock through sqlOperationPoller", async () => {
      // Timed from before the call: the operation starts while it is answered, some
      // clock time before the answer arrives here.
      const start = h.sim.clock.now();
      const [op] = await sql().instances.restart({ project: PROJECT, instance: "orders-db" });
      const status = await wait(op);
      expect(status).toEqual({ done: true });
      expect(h.sim.clock.now() - start).toBeGreaterThanOrEqual(180_000);
    });
  });

  describe("flags", () => {
    it("lists flags with their type, range and restart requirement", async () => {
      const [list] = await sql().flags.list({ databaseVersion: "POSTGRES_15" });
      expect(list.kind).toBe("sql#flagsList");
      const byName = new Map((list.items ?? []).map((f) => [f.name, f]));
      for (const name of [
        "max_connections",
        "shared_buffers",
        "work_mem",
        "idle_in_transaction_session_timeout",
        "statement_timeout",
        "effective_cache_size",
        "maintenance_work_mem",
        "log_min_duration_statement",
        "max_wal_size",
      ]) {
        expect(byName.has(name), name).toBe(true);
      }
      expect(byName.get("max_connections")).toMatchObject({
        kind: "sql#flag",
        type: "INTEGER",
        appliesTo: expect.arrayContaining(["POSTGRES_15"]),
        requiresRestart: { value: true },
      });
      expect(String(byName.get("max_connections")?.minValue?.value)).toBe("14");
      expect(String(byName.get("max_connections")?.maxValue?.value)).toBe("262143");
      expect(byName.get("work_mem")?.requiresRestart?.value).toBe(false);
      expect(byName.get("log_statement")).toMatchObject({
        type: "STRING",
        allowedStringValues: ["none", "ddl", "mod", "all"],
      });
    });

    it("lists no PostgreSQL flags for a MySQL version", async () => {
      const [list] = await sql().flags.list({ databaseVersion: "MYSQL_8_0" });
      expect(list.items ?? []).toHaveLength(0);
    });
  });

  describe("out-of-band edits", () => {
    it("sets flags by name and bumps settingsVersion, so a reader's next patch is stale", async () => {
      const [before] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      const edited = await fetch(`${h.endpoint}/__sim/edit`, {
        method: "POST",
        body: JSON.stringify({
          service: "sql",
          kind: "instance",
          name: `projects/${PROJECT}/instances/orders-db`,
          patch: {
            settings: {
              databaseFlags: [
                { name: "work_mem", value: null },
                { name: "log_connections", value: "on" },
              ],
            },
          },
        }),
      });
      expect(edited.status).toBe(200);
      const [after] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
      expect(flagsOf(after)).toEqual({
        max_connections: "120",
        statement_timeout: "30000",
        log_connections: "on",
      });
      expect(String(after.settings?.settingsVersion?.value)).toBe("2");
      expect(after.etag).not.toBe(before.etag);
      await expect(
        sql().instances.patch({
          project: PROJECT,
          instance: "orders-db",
          body: {
            settings: { settingsVersion: before.settings!.settingsVersion!, tier: "db-custom-4-15360" },
          },
        }),
      ).rejects.toMatchObject({ code: 9 });
      expect(lastResponse(h).body).toMatchObject({ error: { errors: [{ reason: "staleData" }] } });
    });
  });

  it("records a flag rollout as a golden HTTP log", async () => {
    h.sim.clearRequests();
    const [db] = await sql().instances.get({ project: PROJECT, instance: "orders-db" });
    const [op] = await sql().instances.patch({
      project: PROJECT,
      instance: "orders-db",
      body: {
        settings: {
          settingsVersion: db.settings!.settingsVersion!,
          databaseFlags: [
            { name: "max_connections", value: "200" },
            { name: "idle_in_transaction_session_timeout", value: "60000" },
          ],
        },
      },
    });
    await sql().operations.get({ project: PROJECT, operation: op.name! });
    await wait(op);
    await sql().instances.get({ project: PROJECT, instance: "orders-db" });
    // Polls repeat while the operation runs; how many depends on the host's speed, so
    // identical consecutive entries are kept once.
    const log = normalizeLog(h.sim.requests()).filter(
      (e, i, all) => i === 0 || JSON.stringify(e) !== JSON.stringify(all[i - 1]),
    );
    expectGolden("sim/sql-patch-flags.json", log);
  });
});

describe("Cloud SQL flag catalog", () => {
  it("bounds memory-relative flags by the tier's memory", () => {
    expect(sqlFlagLimits("shared_buffers", "db-custom-4-15360")).toEqual({ min: 13107, max: 1179648 });
    expect(sqlFlagLimits("effective_cache_size", "db-custom-2-7680")).toEqual({ min: 98304, max: 688128 });
    expect(sqlFlagLimits("shared_buffers")).toEqual({ min: 13107, max: 1073741823 });
  });

  it("explains what would be valid", () => {
    expect(checkSqlFlag("max_connections", "10")).toBe(
      "`max_connections` must be an integer between 14 and 262143, got 10",
    );
    expect(checkSqlFlag("work_mem", "4MB")).toBe(
      "`work_mem` takes an integer between 64 and 2147483647 (kB), got `4MB`",
    );
    expect(checkSqlFlag("vacuum_failsafe_age", "1600000000", "POSTGRES_13")).toBe(
      "flag `vacuum_failsafe_age` does not apply to POSTGRES_13; it applies to POSTGRES_14, POSTGRES_15, POSTGRES_16, POSTGRES_17, POSTGRES_18",
    );
    // The snapshot has no MySQL flags, so it cannot judge a MySQL instance's.
    expect(checkSqlFlag("binlog_row_image", "full", "MYSQL_8_0")).toBeUndefined();
    expect(checkSqlFlag("random_page_cost", "1.1")).toBeUndefined();
  });

  it("gives the default max_connections Cloud SQL sets for a tier's memory", () => {
    expect(defaultMaxConnections("db-f1-micro")).toBe(25);
    expect(defaultMaxConnections("db-custom-1-3840")).toBe(100);
    expect(defaultMaxConnections("db-custom-2-7680")).toBe(400);
    expect(defaultMaxConnections("db-custom-8-30720")).toBe(600);
  });
});
