import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatSnapshot, refreshSqlFlags, SNAPSHOT_PATH } from "../../scripts/sql-flags-refresh.ts";
import { SQL_FLAG_SNAPSHOT_FILE } from "../../src/gcp/catalog/sql.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

describe("npm run sql-flags:refresh", () => {
  let h: SimHarness;
  beforeAll(async () => {
    h = await startSim();
  });
  afterAll(async () => {
    await h.close();
  });

  it("rebuilds the committed snapshot's items from the simulator's flags.list through the real client", async () => {
    const snapshot = await refreshSqlFlags({ endpoint: h.endpoint, now: new Date("2027-01-02T03:04:05Z") });
    expect(snapshot.origin).toBe("flags.list");
    expect(snapshot.snapshotDate).toBe("2027-01-02");
    expect(snapshot.sources[0]).toContain(h.endpoint);
    // The simulator serves the snapshot, so reading it back through the client and
    // writing it out again must give the very same items and units.
    expect(snapshot.items).toEqual(SQL_FLAG_SNAPSHOT_FILE.items);
    expect(snapshot.units).toEqual(SQL_FLAG_SNAPSHOT_FILE.units);
    expect(h.sim.requests().map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual(["GET /v1/flags 200"]);
  });

  it("lays the file out as committed, one item a line", () => {
    expect(formatSnapshot(SQL_FLAG_SNAPSHOT_FILE)).toBe(readFileSync(SNAPSHOT_PATH, "utf8"));
  });
});
