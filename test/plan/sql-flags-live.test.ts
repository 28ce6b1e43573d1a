import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadOrExplain } from "../../src/cli/plan.ts";
import { SQL_FLAG_SNAPSHOT } from "../../src/gcp/catalog/sql.ts";
import { buildPlan } from "../../src/plan/build.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { parseSpecSet } from "../../src/spec/load.ts";
import { connect } from "../helpers/gcp.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const PROJECT = "acme-staging";

/** A flag GCP lists live but the committed snapshot does not know. */
const NEW_FLAG = "cloudsql.enable_brand_new_feature";

const FIXTURE: Fixture = {
  sql: {
    flags: [
      { name: NEW_FLAG, type: "BOOLEAN", appliesTo: ["POSTGRES_17"], requiresRestart: { value: false } },
    ],
    instances: [
      {
        project: PROJECT,
        name: "orders-db",
        region: "europe-west1",
        databaseVersion: "POSTGRES_17",
        settings: { tier: "db-custom-2-7680", databaseFlags: [{ name: "max_connections", value: "100" }] },
      },
    ],
  },
};

function specs(flags: string, extra = "") {
  const text = `apiVersion: capstan.dev/v1alpha1
kind: SqlInstance
metadata:
  name: orders-db
spec:
  databaseFlags:
${flags}
${extra}`;
  return parseSpecSet([{ path: "specs/database.yaml", text }], [], {
    cwd: "/",
    defaults: { project: PROJECT, region: "europe-west1" },
  });
}

describe("plan judges database flags by the live flags.list", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h?.close();
  });

  /** planFlags starts the simulator with `fixture` (and `setup` on it) and plans `flags` against it. */
  async function planFlags(flags: string, fixture: Fixture = FIXTURE, setup?: (h: SimHarness) => void) {
    h = await startSim(fixture);
    setup?.(h);
    const set = specs(flags);
    const { plan: p } = await buildPlan({
      specs: set,
      gcp: connect(h),
      reconcilers: RECONCILERS,
      clock: h.sim.clock,
    });
    return { set, plan: p };
  }

  it("accepts a flag the snapshot does not know when the live catalog lists it", async () => {
    const { set, plan } = await planFlags(`    ${NEW_FLAG}: "on"`);
    // Offline, the snapshot cannot know the flag; that finding is the catalog's to revisit.
    expect(set.problems.map((p) => [p.message, p.catalog])).toEqual([
      [expect.stringContaining(`unknown flag \`${NEW_FLAG}\``), "sqlFlags"],
    ]);
    expect(plan.problems).toEqual([]);
    const db = plan.resources.find((r) => r.address === "SqlInstance/orders-db")!;
    expect(db.changes.map((c) => `${c.field}=${String(c.after)}`)).toEqual([`databaseFlags[${NEW_FLAG}]=on`]);
    expect(db.notes).toEqual([]);
    const reads = h.sim.requests().filter((r) => r.path === "/v1/flags");
    expect(reads.map((r) => [r.query, r.status])).toEqual([["", 200]]);
  });

  it("judges against the live instance's version when the spec names none", async () => {
    // wal_keep_segments exists until PostgreSQL 12 only.
    const { set, plan } = await planFlags(`    wal_keep_segments: "10"`);
    expect(set.problems).toEqual([]);
    expect(plan.problems.map((p) => p.message)).toEqual([
      expect.stringContaining("flag `wal_keep_segments` does not apply to POSTGRES_17"),
    ]);
  });

  it("falls back to the snapshot, with a note, when flags.list cannot be read", async () => {
    const { plan } = await planFlags(`    ${NEW_FLAG}: "on"\n    work_mem: "8192"`, FIXTURE, (sim) =>
      sim.sim.faults.add({
        match: { rpc: "List", path: "/v1/flags" },
        error: { status: "PERMISSION_DENIED", message: "The caller does not have permission" },
      }),
    );
    expect(plan.problems.map((p) => p.message)).toEqual([
      expect.stringContaining(`unknown flag \`${NEW_FLAG}\``),
    ]);
    const db = plan.resources.find((r) => r.address === "SqlInstance/orders-db")!;
    expect(db.notes).toEqual([
      expect.stringMatching(
        new RegExp(
          `^database flags checked against ${SQL_FLAG_SNAPSHOT.source}: could not read flags.list for POSTGRES_17 \\(.*permission`,
        ),
      ),
    ]);
  });

  it("keeps a snapshot finding for an instance that could not be checked live", async () => {
    const { plan } = await planFlags(`    ${NEW_FLAG}: "on"`, { sql: { instances: [] } });
    expect(plan.problems.map((p) => p.message)).toEqual([
      expect.stringContaining(`unknown flag \`${NEW_FLAG}\``),
    ]);
  });
});

describe("loadOrExplain for plan and apply", () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(spec: string): Promise<string> {
    dir = await mkdtemp(join(tmpdir(), "capstan-flags-"));
    await writeFile(
      join(dir, "db.yaml"),
      `apiVersion: capstan.dev/v1alpha1\nkind: SqlInstance\nmetadata:\n  name: orders-db\n  project: ${PROJECT}\n  region: europe-west1\nspec:\n${spec}\n`,
    );
    return dir;
  }

  it("goes on when the only problems are the flag snapshot's, which the plan judges again live", async () => {
    const path = await write(`  databaseFlags:\n    ${NEW_FLAG}: "on"`);
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
    const set = await loadOrExplain([path], sink, { liveCatalogs: true });
    expect(set.problems).toHaveLength(1);
    await expect(loadOrExplain([path], sink)).rejects.toThrow(/1 problem\(s\) in the specs/);
  });

  it("stops before any API call when any other problem is present", async () => {
    const path = await write(`  tier: db-custom-3-7680\n  databaseFlags:\n    ${NEW_FLAG}: "on"`);
    const sink = { write: () => true } as unknown as NodeJS.WritableStream;
    await expect(loadOrExplain([path], sink, { liveCatalogs: true })).rejects.toThrow(
      /2 problem\(s\) in the specs; nothing was read or changed/,
    );
  });
});
