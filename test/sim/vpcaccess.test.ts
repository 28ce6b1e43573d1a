import { GoogleError } from "google-gax";
import { afterEach, describe, expect, it } from "vitest";
import type { Gcp } from "../../src/gcp/access.ts";
import {
  CONNECTOR_LIMITS,
  CONNECTOR_MACHINE_TYPES,
  checkConnectorScaling,
  connectorCapacityMbps,
  connectorThroughputFields,
} from "../../src/gcp/catalog/vpcaccess.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import { asGoogleError, connectorOperationPoller, patchConnector } from "../../src/gcp/vpcaccess.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const LOC = "projects/acme/locations/us-central1";
const CONN = `${LOC}/connectors/run-egress`;

const fixture: Fixture = {
  vpcaccess: {
    connectors: [
      { name: CONN, machineType: "e2-micro", minInstances: 2, maxInstances: 3, connectedProjects: ["acme"] },
      { name: `${LOC}/connectors/batch`, subnet: { name: "batch-subnet" } },
      { name: "projects/acme/locations/europe-west1/connectors/eu" },
    ],
  },
};

let h: SimHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * Started is a running simulator plus `access`, a Gcp over its clients that tries each
 * call once: these tests assert the simulator's answers, which capstan's retries would
 * hide (a 429 retried until the quota window has passed).
 */
type Started = SimHarness & { readonly access: Gcp };

async function start(extra: Fixture = {}, timeScale?: number): Promise<Started> {
  h = await startSim({ ...fixture, ...extra }, timeScale === undefined ? {} : { timeScale });
  return { ...h, access: connect(h, { maxAttempts: 1 }) };
}

/** wait follows a connector operation on the simulator's (scaled) clock. */
function wait(sim: Started, opName: string) {
  return waitForOperation(connectorOperationPoller(sim.access, opName), {
    clock: sim.sim.clock,
    timeoutMs: 30 * 60_000,
    intervalMs: 5_000,
    maxIntervalMs: 20_000,
    what: `connector operation ${opName}`,
  });
}

/** rejection awaits a call that must fail with a GoogleError (as callers get it) and returns it. */
async function rejection(p: Promise<unknown>): Promise<GoogleError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(GoogleError);
    return err as GoogleError;
  }
  throw new Error("expected the call to fail");
}

describe("connector catalog", () => {
  it("derives capacity from the documented per-instance throughput of each machine type", () => {
    expect(connectorCapacityMbps("e2-micro", 2)).toBe(200);
    expect(connectorCapacityMbps("e2-micro", 10)).toBe(1000);
    expect(connectorCapacityMbps("f1-micro", 10)).toBe(500);
    expect(connectorCapacityMbps("e2-standard-4", 2)).toBe(3200);
    for (const info of Object.values(CONNECTOR_MACHINE_TYPES)) {
      expect(info.mbpsPerInstance * 2).toBe(info.documentedRangeMbps[0]);
      expect(info.mbpsPerInstance * 10).toBe(info.documentedRangeMbps[1]);
    }
    expect(() => connectorCapacityMbps("n2-standard-2", 3)).toThrow(TypeError);
  });

  it("reports the API's throughput fields at 100 Mbps per instance whatever the machine type", () => {
    expect(connectorThroughputFields(5, 7)).toEqual({ minThroughput: 500, maxThroughput: 700 });
  });

  it("accepts a valid increase and says what is wrong with every invalid change", () => {
    const live = { machineType: "e2-micro", minInstances: 3, maxInstances: 5 };
    expect(
      checkConnectorScaling(live, { machineType: "e2-standard-4", minInstances: 3, maxInstances: 6 }),
    ).toEqual([]);
    expect(
      checkConnectorScaling(undefined, { machineType: "e2-micro", minInstances: 1, maxInstances: 11 }),
    ).toEqual([
      `minInstances must be an integer from ${CONNECTOR_LIMITS.minInstances.min} to 9, got 1`,
      "maxInstances must be an integer from 3 to 10, got 11",
    ]);
    expect(
      checkConnectorScaling(undefined, { machineType: "e2-micro", minInstances: 4, maxInstances: 4 }),
    ).toEqual(["maxInstances (4) must be greater than minInstances (4)"]);
    const shrink = checkConnectorScaling(live, { machineType: "e2-micro", minInstances: 2, maxInstances: 5 });
    expect(shrink).toHaveLength(1);
    expect(shrink[0]).toContain("decrease requires replacing the connector");
    expect(
      checkConnectorScaling(undefined, { machineType: "n1-standard-1", minInstances: 2, maxInstances: 3 })[0],
    ).toBe(
      "machineType `n1-standard-1` is not a connector machine type; expected one of f1-micro, e2-micro, e2-standard-4",
    );
  });
});

describe("simulated Serverless VPC Access", () => {
  it("lists the connectors of one region through the real client with GCP's server-side defaults", async () => {
    const { gcp, sim } = await start();
    const [connectors] = await gcp.vpcAccess.listConnectors({ parent: LOC, pageSize: 1 });
    expect(connectors.map((c) => c.name)).toEqual([`${LOC}/connectors/batch`, CONN]);
    expect(sim.requests().filter((r) => r.rpc.endsWith("ListConnectors"))).toHaveLength(2);
    const [batch, egress] = connectors;
    expect(egress).toMatchObject({
      state: "READY",
      machineType: "e2-micro",
      minInstances: 2,
      maxInstances: 3,
      minThroughput: 200,
      maxThroughput: 300,
      network: "default",
      ipCidrRange: "10.8.0.0/28",
      connectedProjects: ["acme"],
    });
    // A subnet connector carries no network or range, as GCP returns it.
    expect(batch).toMatchObject({ subnet: { name: "batch-subnet" }, minInstances: 2, maxInstances: 10 });
    expect(batch?.network).toBe("");
  });

  it("answers a missing connector with NOT_FOUND in GCP's words", async () => {
    const { gcp } = await start();
    const raw = await gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/nope` }).catch((e: unknown) => e);
    // package.json overrides vpc-access's google-gax to the version the other clients use,
    // so its errors are GoogleErrors with the gRPC code (gax 5 over google-auth-library 11
    // surfaced a GaxiosError carrying only the HTTP status).
    expect(raw).toBeInstanceOf(GoogleError);
    const err = raw as GoogleError;
    expect(err.code).toBe(5);
    expect(err.httpStatusCode).toBe(404);
    expect(err.message).toBe("The connector is not found.");
  });

  it("patches instances through a long-running operation during which the connector is UPDATING", async () => {
    // 20 simulated minutes (1.2 s at 1000×): a loaded machine's pause between the patch
    // and the read below must not outlast the update.
    const harness = await start({ durations: { "vpcaccess.update": 1200 } });
    const { gcp } = harness;
    const opName = await patchConnector(harness.access, CONN, { minInstances: 3, maxInstances: 5 });
    expect(opName).toMatch(/^projects\/acme\/locations\/us-central1\/operations\/operation-[0-9a-f]+$/);
    const [during] = await gcp.vpcAccess.getConnector({ name: CONN });
    expect(during.state).toBe("UPDATING");
    expect((await connectorOperationPoller(harness.access, opName)()).done).toBe(false);

    await wait(harness, opName);
    const [after] = await gcp.vpcAccess.getConnector({ name: CONN });
    expect(after).toMatchObject({ state: "READY", minInstances: 3, maxInstances: 5, maxThroughput: 500 });
    const [op] = await gcp.vpcAccess.getOperation({ name: opName } as never);
    expect(op.done).toBe(true);
    expect(op.metadata?.type_url).toBe("type.googleapis.com/google.cloud.vpcaccess.v1.OperationMetadata");
    expect(op.response?.type_url).toBe("type.googleapis.com/google.cloud.vpcaccess.v1.Connector");
    // The client's own LRO decoder reads the result as a Connector.
    const decoded = await gcp.vpcAccess.checkCreateConnectorProgress(opName);
    expect(decoded.done).toBe(true);
    expect(decoded.result).toMatchObject({ name: CONN, maxInstances: 5 });
  });

  it("takes the update duration the fixture sets", async () => {
    const harness = await start({ durations: { "vpcaccess.update": 3600 } });
    const opName = await patchConnector(harness.access, CONN, { machineType: "e2-standard-4" });
    await harness.sim.clock.sleep(600_000);
    expect((await connectorOperationPoller(harness.access, opName)()).done).toBe(false);
  });

  it("changes the machine type either way in place", async () => {
    const harness = await start();
    await wait(harness, await patchConnector(harness.access, CONN, { machineType: "e2-standard-4" }));
    await wait(harness, await patchConnector(harness.access, CONN, { machineType: "f1-micro" }));
    const [c] = await harness.gcp.vpcAccess.getConnector({ name: CONN });
    expect(c.machineType).toBe("f1-micro");
  });

  it("refuses to decrease instances in place with a 400 that says the connector must be replaced", async () => {
    const harness = await start();
    await wait(harness, await patchConnector(harness.access, CONN, { minInstances: 4, maxInstances: 6 }));
    const err = await rejection(patchConnector(harness.access, CONN, { minInstances: 3, maxInstances: 6 }));
    expect(err.code).toBe(3);
    expect(err.httpStatusCode).toBe(400);
    expect(err.message).toContain("decrease requires replacing the connector");
    const [c] = await harness.gcp.vpcAccess.getConnector({ name: CONN });
    expect(c).toMatchObject({ state: "READY", minInstances: 4 });
  });

  it("refuses instance counts out of range, min not below max and unknown machine types", async () => {
    const { access } = await start();
    const low = await rejection(patchConnector(access, CONN, { minInstances: 2, maxInstances: 11 }));
    expect(low.code).toBe(3);
    expect(low.message).toContain("maxInstances must be an integer from 3 to 10, got 11");
    const crossed = await rejection(patchConnector(access, CONN, { minInstances: 3 }));
    expect(crossed.message).toContain("maxInstances (3) must be greater than minInstances (3)");
    const machine = await rejection(patchConnector(access, CONN, { machineType: "n2-standard-2" }));
    expect(machine.code).toBe(3);
    expect(JSON.stringify(machine.statusDetails)).toContain("connector.machine_type");
  });

  it("refuses an update mask naming a field that cannot change in place", async () => {
    const { gcp, endpoint } = await start();
    // A raw request, as patchConnector makes it: asGoogleError turns the HTTP answer into
    // the GoogleError a client library would raise.
    const err = await rejection(
      gcp.auth
        .request({
          method: "PATCH",
          url: `${endpoint}/v1/${CONN}`,
          params: { updateMask: "ipCidrRange,maxInstances" },
          data: { ipCidrRange: "10.9.0.0/28", maxInstances: 4 },
        })
        .catch((e: unknown) => {
          throw asGoogleError(e);
        }),
    );
    expect(err.code).toBe(3);
    expect(err.message).toContain("ipCidrRange cannot be updated");
  });

  it("refuses a second patch while the first is still running with FAILED_PRECONDITION", async () => {
    const harness = await start();
    const first = await patchConnector(harness.access, CONN, { maxInstances: 4 });
    const err = await rejection(patchConnector(harness.access, CONN, { maxInstances: 5 }));
    expect(err.code).toBe(9);
    expect(err.httpStatusCode).toBe(400);
    expect(err.message).toContain(first);
    await wait(harness, first);
    await wait(harness, await patchConnector(harness.access, CONN, { maxInstances: 5 }));
  });

  it("answers an unknown connector patch with NOT_FOUND", async () => {
    const { access } = await start();
    const err = await rejection(patchConnector(access, `${LOC}/connectors/ghost`, { maxInstances: 4 }));
    expect(err.code).toBe(5);
    expect(err.httpStatusCode).toBe(404);
  });

  it("ends a patch hit by an injected operation failure in error and restores the previous settings", async () => {
    const harness = await start();
    harness.sim.faults.add({
      match: { api: "vpcaccess.googleapis.com", method: "PATCH" },
      failOperation: {
        message: "Operation failed: instance group could not be resized.",
        status: "INTERNAL",
      },
      times: 1,
    });
    const opName = await patchConnector(harness.access, CONN, { minInstances: 3, maxInstances: 6 });
    const failure = await wait(harness, opName).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OperationError);
    expect((failure as OperationError).status?.error).toEqual({
      code: 13,
      message: "Operation failed: instance group could not be resized.",
    });
    const [c] = await harness.gcp.vpcAccess.getConnector({ name: CONN });
    expect(c).toMatchObject({ state: "READY", minInstances: 2, maxInstances: 3 });
  });

  it("surfaces a write quota refusal from the REST patch like the client libraries do", async () => {
    // Real time, so the quota minute cannot pass between the two calls on a loaded machine.
    const harness = await start({ quotas: { "vpcaccess.googleapis.com": { writePerMinute: 1 } } }, 1);
    await patchConnector(harness.access, CONN, { maxInstances: 4 });
    const err = await rejection(
      patchConnector(harness.access, `${LOC}/connectors/batch`, { maxInstances: 10 }),
    );
    expect(err.code).toBe(8);
    expect(err.httpStatusCode).toBe(429);
    expect(err.reason).toBe("RATE_LIMIT_EXCEEDED");
    expect(err.errorInfoMetadata).toMatchObject({
      service: "vpcaccess.googleapis.com",
      quota_limit: "Write requests per minute",
      quota_limit_value: "1",
    });
  });

  it("rejects bad arguments to patchConnector before calling GCP", async () => {
    const { access, sim } = await start();
    await expect(patchConnector(access, "connectors/x", { maxInstances: 4 })).rejects.toThrow(TypeError);
    await expect(patchConnector(access, CONN, {})).rejects.toThrow(TypeError);
    expect(() => connectorOperationPoller(access, "operations/x")).toThrow(TypeError);
    expect(sim.requests()).toHaveLength(0);
  });

  it("lists a region's operations through the client's Operations mixin and 404s an unknown one", async () => {
    const harness = await start();
    const a = await patchConnector(harness.access, CONN, { maxInstances: 4 });
    const b = await patchConnector(harness.access, `${LOC}/connectors/batch`, {
      machineType: "e2-standard-4",
    });
    const listed: string[] = [];
    for await (const op of harness.gcp.vpcAccess.listOperationsAsync({ name: LOC, pageSize: 1 } as never)) {
      listed.push(String(op.name));
    }
    expect(listed).toEqual([b, a]);
    const err = await rejection(
      harness.gcp.vpcAccess.getOperation({ name: `${LOC}/operations/operation-ffff` } as never),
    );
    expect(err.code).toBe(5);
  });

  it("creates a connector through the real client: CREATING, then READY with derived fields", async () => {
    const harness = await start();
    const [op] = await harness.gcp.vpcAccess.createConnector({
      parent: LOC,
      connectorId: "new-one",
      connector: { network: "prod", ipCidrRange: "10.9.0.0/28", minInstances: 2, maxInstances: 4 },
    });
    const opName = String(op.name);
    const [creating] = await harness.gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/new-one` });
    expect(creating.state).toBe("CREATING");
    await wait(harness, opName);
    const [c] = await harness.gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/new-one` });
    expect(c).toMatchObject({ state: "READY", machineType: "e2-micro", maxThroughput: 400, network: "prod" });
  });

  it("fails a create without max instances inside the operation, as GCP does", async () => {
    const harness = await start();
    const [op] = await harness.gcp.vpcAccess.createConnector({
      parent: LOC,
      connectorId: "no-max",
      connector: { network: "default", ipCidrRange: "10.9.0.0/28" },
    });
    const failure = (await wait(harness, String(op.name)).catch((e: unknown) => e)) as OperationError;
    expect(failure.status?.error).toEqual({
      code: 3,
      message: "Operation failed: A Connector must specify either max_throughput or max_instances.",
    });
    const err = await rejection(harness.gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/no-max` }));
    expect(err.code).toBe(5);
  });

  it("refuses to create a connector that exists with ALREADY_EXISTS", async () => {
    const { gcp } = await start();
    const err = await rejection(
      gcp.vpcAccess.createConnector({
        parent: LOC,
        connectorId: "run-egress",
        connector: { maxInstances: 3 },
      }),
    );
    expect(err.code).toBe(6);
  });

  it("deletes a connector: DELETING while the operation runs, then NOT_FOUND", async () => {
    const harness = await start();
    const [op] = await harness.gcp.vpcAccess.deleteConnector({ name: `${LOC}/connectors/batch` });
    const [deleting] = await harness.gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/batch` });
    expect(deleting.state).toBe("DELETING");
    await wait(harness, String(op.name));
    const err = await rejection(harness.gcp.vpcAccess.getConnector({ name: `${LOC}/connectors/batch` }));
    expect(err.code).toBe(5);
  });

  it("applies an out-of-band console edit and keeps the throughput fields in step", async () => {
    const harness = await start();
    harness.sim.edit("vpcaccess", { kind: "connector", name: CONN, patch: { maxInstances: 8 } });
    const [c] = await harness.gcp.vpcAccess.getConnector({ name: CONN });
    expect(c).toMatchObject({ maxInstances: 8, maxThroughput: 800 });
    expect(() =>
      harness.sim.edit("vpcaccess", { kind: "connector", name: CONN, patch: { minInstances: 12 } }),
    ).toThrow(/minInstances must be an integer from 2 to 9/);
    expect(() => harness.sim.edit("vpcaccess", { kind: "subnet", name: CONN, patch: {} })).toThrow(TypeError);
    expect(() =>
      harness.sim.edit("vpcaccess", { kind: "connector", name: CONN, patch: { ipCidrRange: "10.1.0.0/28" } }),
    ).toThrow(/cannot edit `ipCidrRange`/);
  });

  it("refuses to patch a connector an edit has put in ERROR", async () => {
    const harness = await start();
    harness.sim.edit("vpcaccess", { kind: "connector", name: CONN, patch: { state: "ERROR" } });
    const err = await rejection(patchConnector(harness.access, CONN, { maxInstances: 4 }));
    expect(err.code).toBe(9);
    expect(err.message).toContain("in state ERROR");
  });

  it("refuses a fixture with invalid connectors or transient states", async () => {
    await expect(
      startSim({ vpcaccess: { connectors: [{ name: CONN, minInstances: 5, maxInstances: 4 }] } }),
    ).rejects.toThrow(/must be greater than minInstances/);
    await expect(
      startSim({ vpcaccess: { connectors: [{ name: CONN, state: "UPDATING" }] } }),
    ).rejects.toThrow(/READY or ERROR/);
    await expect(startSim({ vpcaccess: { connectors: [{ name: "connectors/x" }] } })).rejects.toThrow(
      /bad connector name/,
    );
  });

  it("dumps a connector mid-update as the settings it is converging to", async () => {
    const harness = await start();
    await patchConnector(harness.access, CONN, { maxInstances: 7 });
    const dumped = harness.sim.dump()["vpcaccess"] as { connectors: { name: string; state: string }[] };
    expect(dumped.connectors.find((c) => c.name === CONN)).toMatchObject({ state: "READY", maxInstances: 7 });
  });

  it("records the patch scenario as a golden HTTP log", async () => {
    h = await startSim({ ...fixture, durations: { "vpcaccess.update": 900 } }, { captureResponses: true });
    const { gcp, sim } = h;
    const access = connect(h, { maxAttempts: 1 });
    await gcp.vpcAccess.listConnectors({ parent: LOC });
    const opName = await patchConnector(access, CONN, {
      machineType: "e2-standard-4",
      minInstances: 3,
      maxInstances: 6,
    });
    expect((await connectorOperationPoller(access, opName)()).done).toBe(false);
    await sim.clock.sleep(1_000_000);
    expect((await connectorOperationPoller(access, opName)()).done).toBe(true);
    await gcp.vpcAccess.getConnector({ name: CONN });
    expectGolden("sim/vpcaccess-patch-connector.json", normalizeLog(sim.requests()));
  });
});
