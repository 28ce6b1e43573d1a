import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FieldChange } from "../../src/diff/index.ts";
import type { Gcp } from "../../src/gcp/access.ts";
import { OperationError, waitForOperation } from "../../src/gcp/operations.ts";
import type { ResourceRef } from "../../src/reconcilers/types.ts";
import {
  vpcConnectorReconciler as rec,
  VPC_CONNECTOR_LIST_PAGE_SIZE,
  VpcConnectorWriteError,
} from "../../src/reconcilers/vpc-connector.ts";
import { normalizeLog } from "../../src/sim/core/normalize.ts";
import type { Fixture } from "../../src/sim/index.ts";
import { connect } from "../helpers/gcp.ts";
import { expectGolden } from "../helpers/golden.ts";
import { reconcilerTest, specLoader } from "../helpers/reconciler.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const PROJECT = "acme-staging";
const REGION = "us-central1";
const LOC = `projects/${PROJECT}/locations/${REGION}`;
const ORDERS = `${LOC}/connectors/orders-egress`;

const FIXTURE: Fixture = {
  durations: { "vpcaccess.update": 120 },
  vpcaccess: {
    connectors: [
      {
        name: ORDERS,
        network: "staging-vpc",
        ipCidrRange: "10.8.0.0/28",
        machineType: "e2-micro",
        minInstances: 2,
        maxInstances: 3,
        connectedProjects: [PROJECT, "acme-shared"],
      },
      {
        name: `${LOC}/connectors/batch-egress`,
        subnet: { name: "batch-subnet" },
        machineType: "f1-micro",
        minInstances: 3,
        maxInstances: 6,
      },
      { name: `projects/${PROJECT}/locations/europe-west1/connectors/eu-egress` },
      { name: `projects/other-project/locations/${REGION}/connectors/orders-egress` },
    ],
  },
};

/** connectorSpec loads one VpcConnector document through the real spec loader. */
const connectorSpec = specLoader("VpcConnector", {
  path: "specs/network.yaml",
  project: PROJECT,
  region: REGION,
});

function refOf(id: string, location = REGION): ResourceRef {
  return { kind: "VpcConnector", project: PROJECT, location, id };
}

describe("VpcConnector reconciler", () => {
  let h: SimHarness;
  let gcp: Gcp;

  const { observe, diff, changesOf, wait, simItem, listInPages } = reconcilerTest({
    reconciler: rec,
    harness: () => h,
    gcp: () => gcp,
    refOf,
    what: "connector update",
    timeoutMs: 3_600_000,
  });
  /** The connector as the simulator holds it, read outside the API. */
  const simState = (name: string) =>
    simItem<Record<string, unknown> | undefined>("vpcaccess", "connectors", (c) => c["name"] === name);
  const patches = () => h.sim.requests().filter((e) => e.method === "PATCH");

  beforeEach(async () => {
    h = await startSim(FIXTURE);
    gcp = connect(h);
  });
  afterEach(async () => {
    await h.close();
  });

  describe("list and get", () => {
    it("lists every connector of a region across pages, one call per page", async () => {
      const many: Fixture = {
        vpcaccess: {
          connectors: Array.from({ length: VPC_CONNECTOR_LIST_PAGE_SIZE + 5 }, (_, i) => ({
            name: `${LOC}/connectors/conn-${String(i).padStart(3, "0")}`,
          })),
        },
      };
      const scope = { project: PROJECT, location: REGION };
      const { lists, requests } = await listInPages(
        many,
        scope,
        VPC_CONNECTOR_LIST_PAGE_SIZE + 5,
        "ListConnectors",
      );
      expect(lists[0]!.query).toContain(`pageSize=${VPC_CONNECTOR_LIST_PAGE_SIZE}`);
      expect(lists[0]!.query).not.toContain("pageToken");
      expect(requests.filter((e) => e.rpc.endsWith("GetConnector"))).toEqual([]);
    });

    it("reports each connector of the scope with its full name, ref, no token and readiness", async () => {
      const listed = await rec.list(gcp, rec.scopeOf(refOf("orders-egress")));
      expect(listed.map((o) => o.name)).toEqual([`${LOC}/connectors/batch-egress`, ORDERS]);
      const orders = listed.find((o) => o.ref.id === "orders-egress")!;
      expect(orders.ref).toEqual(refOf("orders-egress"));
      expect(orders.name).toBe(rec.fullName(refOf("orders-egress")));
      expect(orders.version).toBeUndefined();
      expect(orders.readiness).toEqual({ ready: true });
      expect(orders.live.connectedProjects).toEqual([PROJECT, "acme-shared"]);
      const eu = await rec.list(gcp, { project: PROJECT, location: "europe-west1" });
      expect(eu.map((o) => o.ref)).toEqual([refOf("eu-egress", "europe-west1")]);
    });

    it("answers undefined for a connector that does not exist", async () => {
      await expect(rec.get(gcp, refOf("nope"))).resolves.toBeUndefined();
      expect(h.sim.requests().at(-1)?.status).toBe(404);
    });
  });

  describe("normalize and desired", () => {
    it("normalizes a live connector into the spec's shape", async () => {
      expect(rec.normalize((await observe("orders-egress")).live)).toStrictEqual({
        machineType: "e2-micro",
        minInstances: 2,
        maxInstances: 3,
        network: "staging-vpc",
        ipCidrRange: "10.8.0.0/28",
      });
      // A subnet connector has no network or range; its subnet's project defaults to the
      // connector's own ("If not set, this project is assumed", Connector.Subnet).
      expect(rec.normalize((await observe("batch-egress")).live)).toStrictEqual({
        machineType: "f1-micro",
        minInstances: 3,
        maxInstances: 6,
        subnet: { name: "batch-subnet", projectId: PROJECT },
      });
    });

    it("fills GCP's defaults where the API omits them: e2-micro, counts from throughput", () => {
      expect(rec.normalize({ name: ORDERS, minThroughput: 300, maxThroughput: 700 })).toStrictEqual({
        machineType: "e2-micro",
        minInstances: 3,
        maxInstances: 7,
      });
      // Throughput defaults 200 and 300 (Connector.min_throughput / max_throughput).
      expect(rec.normalize({ name: ORDERS, machineType: "", minInstances: 0 })).toStrictEqual({
        machineType: "e2-micro",
        minInstances: 2,
        maxInstances: 3,
      });
      expect(rec.normalize({ name: ORDERS, network: "projects/p/global/networks/shared" })["network"]).toBe(
        "shared",
      );
    });

    it("shows no change for a spec that states the live values and GCP's default machine type", async () => {
      const spec = connectorSpec(
        "orders-egress",
        "machineType: e2-micro\nminInstances: 2\nmaxInstances: 3\nnetwork: staging-vpc\nipCidrRange: 10.8.0.0/28",
      );
      const { changes } = await changesOf(spec);
      expect(changes).toEqual([]);
      const batch = connectorSpec("batch-egress", `subnet:\n  name: batch-subnet\n  projectId: ${PROJECT}`);
      expect((await changesOf(batch)).changes).toEqual([]);
    });

    it("puts only stated fields in the desired shape, without consent fields", () => {
      expect(
        rec.desired(connectorSpec("orders-egress", "maxInstances: 6\nallowReplacement: true")),
      ).toStrictEqual({ maxInstances: 6 });
      expect(
        rec.desired(
          connectorSpec("batch-egress", "machineType: e2-standard-4\nsubnet:\n  name: batch-subnet"),
        ),
      ).toStrictEqual({ machineType: "e2-standard-4", subnet: { name: "batch-subnet" } });
    });

    it("diffs exactly the managed fields that differ", async () => {
      const spec = connectorSpec(
        "orders-egress",
        "machineType: e2-standard-4\nminInstances: 2\nmaxInstances: 6\nnetwork: staging-vpc",
      );
      const { changes } = await changesOf(spec);
      expect(changes).toEqual([
        { path: ["machineType"], field: "machineType", before: "e2-micro", after: "e2-standard-4" },
        { path: ["maxInstances"], field: "maxInstances", before: 3, after: 6 },
      ]);
    });
  });

  describe("write", () => {
    it("writes every change in one patch, then a re-read shows no change (round trip)", async () => {
      const spec = connectorSpec(
        "orders-egress",
        "machineType: e2-standard-4\nminInstances: 3\nmaxInstances: 6",
      );
      const { o, changes } = await changesOf(spec);
      expect(changes).toHaveLength(3);
      h.sim.clearRequests();
      const { poller } = await rec.write(gcp, o, spec, changes);
      expect(poller).toBeDefined();
      await wait(poller!);
      expect(patches()).toHaveLength(1);
      expect(decodeURIComponent(patches()[0]!.query)).toBe(
        "updateMask=machineType,minInstances,maxInstances",
      );
      const after = await observe("orders-egress");
      expect(after.readiness).toEqual({ ready: true });
      expect(diff(after, spec)).toEqual([]);
      expect(after.live).toMatchObject({ minThroughput: 300, maxThroughput: 600 });
    });

    it("sends only the machine type when only it changes", async () => {
      const spec = connectorSpec("orders-egress", "machineType: f1-micro");
      const { o, changes } = await changesOf(spec);
      h.sim.clearRequests();
      await wait((await rec.write(gcp, o, spec, changes)).poller!);
      expect(patches().map((p) => [decodeURIComponent(p.query), p.body])).toEqual([
        ["updateMask=machineType", { machineType: "f1-micro" }],
      ]);
    });

    it("sends a changed instance count with the other count at its live value, never the machine type", async () => {
      const spec = connectorSpec("orders-egress", "maxInstances: 8");
      const { o, changes } = await changesOf(spec);
      // Someone changes the machine type in the console after capstan read the connector.
      h.sim.edit("vpcaccess", { kind: "connector", name: ORDERS, patch: { machineType: "e2-standard-4" } });
      h.sim.clearRequests();
      await wait((await rec.write(gcp, o, spec, changes)).poller!);
      expect(patches().map((p) => [decodeURIComponent(p.query), p.body])).toEqual([
        ["updateMask=minInstances,maxInstances", { minInstances: 2, maxInstances: 8 }],
      ]);
      expect(simState(ORDERS)).toMatchObject({
        machineType: "e2-standard-4",
        minInstances: 2,
        maxInstances: 8,
      });
    });

    it("writes an intermediate value of a stepped rollout rather than the spec's", async () => {
      const spec = connectorSpec("orders-egress", "maxInstances: 10");
      const o = await observe("orders-egress");
      const step: FieldChange = { path: ["maxInstances"], field: "maxInstances", before: 3, after: 5 };
      await wait((await rec.write(gcp, o, spec, [step])).poller!);
      expect(rec.normalize((await observe("orders-egress")).live)["maxInstances"]).toBe(5);
    });

    it("leaves every field the spec does not manage as it was", async () => {
      const spec = connectorSpec(
        "orders-egress",
        "machineType: e2-standard-4\nminInstances: 4\nmaxInstances: 9",
      );
      const before = structuredClone(simState(ORDERS))!;
      const { o, changes } = await changesOf(spec);
      await wait((await rec.write(gcp, o, spec, changes)).poller!);
      const after = simState(ORDERS)!;
      const MANAGED = ["machineType", "minInstances", "maxInstances"];
      const unmanaged = (c: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(c).filter(([k]) => !MANAGED.includes(k)));
      expect(unmanaged(after)).toEqual(unmanaged(before));
      expect(after).toMatchObject({
        network: "staging-vpc",
        ipCidrRange: "10.8.0.0/28",
        connectedProjects: [PROJECT, "acme-shared"],
        state: "READY",
      });
      // The other connectors were not touched at all.
      expect(simState(`${LOC}/connectors/batch-egress`)).toMatchObject({ minInstances: 3, maxInstances: 6 });
    });

    it("has no concurrency token, so a write while an update runs surfaces GCP's FAILED_PRECONDITION", async () => {
      const spec = connectorSpec("orders-egress", "maxInstances: 5");
      const { o, changes } = await changesOf(spec);
      expect(o.version).toBeUndefined();
      // Someone else's update is running; the observation capstan holds predates it.
      h.sim.clearRequests();
      const first = await rec.write(gcp, o, spec, [{ ...changes[0]!, after: 4 }]);
      const err = await rec.write(gcp, o, spec, changes).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 9, httpStatusCode: 400 });
      expect((err as Error).message).toContain("cannot be updated while it is in state UPDATING");
      expect(patches().map((p) => p.status)).toEqual([200, 400]);
      await wait(first.poller!);
      expect(rec.normalize((await observe("orders-egress")).live)["maxInstances"]).toBe(4);
    });

    it("cannot shrink the connector from a stale read: GCP refuses a decrease with INVALID_ARGUMENT", async () => {
      const spec = connectorSpec("orders-egress", "maxInstances: 5");
      const { o: stale, changes } = await changesOf(spec);
      h.sim.edit("vpcaccess", { kind: "connector", name: ORDERS, patch: { maxInstances: 8 } });
      const err = await rec.write(gcp, stale, spec, changes).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 3, httpStatusCode: 400 });
      expect((err as Error).message).toContain("can only increase in place");
      expect(simState(ORDERS)).toMatchObject({ maxInstances: 8 });
    });

    it("refuses to replace the connector for a decrease and sends nothing, even with consent", async () => {
      await wait(
        (
          await rec.write(
            gcp,
            await observe("orders-egress"),
            connectorSpec("orders-egress", "maxInstances: 6"),
            [{ path: ["maxInstances"], field: "maxInstances", before: 3, after: 6 }],
          )
        ).poller!,
      );
      const spec = connectorSpec("orders-egress", "maxInstances: 4\nallowReplacement: true");
      const { o, changes } = await changesOf(spec);
      h.sim.clearRequests();
      const err = await rec.write(gcp, o, spec, changes).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VpcConnectorWriteError);
      expect(err).toMatchObject({ code: "REPLACEMENT_REQUIRED" });
      expect((err as Error).message).toBe(
        `could not update ${ORDERS}: lowering maxInstances from 6 to 4 requires replacing the connector, because GCP only raises connector instances in place, and capstan never deletes resources. Replace it by hand: create a new connector with the settings you want, point the services that use this one at it (their spec.vpcAccess.connector, which capstan can roll out), check traffic flows, then delete this connector. Or keep maxInstances at 6 or more.`,
      );
      // A rollback of a raise is a decrease too, judged against live rather than `before`.
      const rollback: FieldChange = { path: ["maxInstances"], field: "maxInstances", before: 4, after: 3 };
      await expect(rec.write(gcp, o, spec, [rollback])).rejects.toMatchObject({
        code: "REPLACEMENT_REQUIRED",
      });
      expect(patches()).toEqual([]);
      expect(simState(ORDERS)).toMatchObject({ maxInstances: 6, state: "READY" });
    });

    it("refuses to write creation-only or unknown fields, and writes nothing for validateOnly", async () => {
      const spec = connectorSpec("orders-egress", "network: prod-vpc\nmaxInstances: 4");
      const { o, changes } = await changesOf(spec);
      expect(changes.map((c) => c.field)).toEqual(["maxInstances", "network"]);
      h.sim.clearRequests();
      await expect(rec.write(gcp, o, spec, changes)).rejects.toMatchObject({
        code: "IMMUTABLE_FIELD",
        message: expect.stringContaining("network is immutable after creation (staging-vpc live)"),
      });
      await expect(
        rec.write(gcp, o, spec, [
          { path: ["connectedProjects"], field: "connectedProjects", before: [], after: [] },
        ]),
      ).rejects.toMatchObject({ code: "UNWRITABLE_FIELD" });
      await expect(rec.write(gcp, o, spec, changes.slice(0, 1), { validateOnly: true })).resolves.toEqual({
        poller: undefined,
        validated: false,
      });
      expect(h.sim.requests()).toEqual([]);
    });

    it("surfaces a failed operation and leaves the connector as it was", async () => {
      h.sim.faults.add({
        match: { api: "vpcaccess.googleapis.com", method: "PATCH" },
        failOperation: {
          message: "Operation failed: instance group could not be resized.",
          status: "INTERNAL",
        },
        times: 1,
      });
      const spec = connectorSpec("orders-egress", "maxInstances: 6");
      const { o, changes } = await changesOf(spec);
      const failure = await wait((await rec.write(gcp, o, spec, changes)).poller!).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(OperationError);
      expect((failure as OperationError).status?.error).toEqual({
        code: 13,
        message: "Operation failed: instance group could not be resized.",
      });
      const after = await observe("orders-egress");
      expect(after.readiness).toEqual({ ready: true });
      expect(diff(after, spec)).toEqual(changes);
    });

    it("records raising a connector as a golden HTTP log", async () => {
      const g = await startSim(FIXTURE, { captureResponses: true });
      try {
        const ggcp = connect(g);
        const spec = connectorSpec("orders-egress", "machineType: e2-standard-4\nmaxInstances: 5");
        const [o] = (await rec.list(ggcp, rec.scopeOf(refOf("orders-egress")))).filter(
          (x) => x.ref.id === "orders-egress",
        );
        const changes = diff(o!, spec);
        const { poller } = await rec.write(ggcp, o!, spec, changes);
        await waitForOperation(poller!, {
          clock: g.sim.clock,
          timeoutMs: 3_600_000,
          // One poll while it runs, one after: the log must not depend on real timing.
          intervalMs: 900_000,
          maxIntervalMs: 900_000,
          what: "connector update",
        });
        const after = await rec.get(ggcp, refOf("orders-egress"));
        expect(diff(after!, spec)).toEqual([]);
        expectGolden("reconcilers/vpc-connector-raise.json", normalizeLog(g.sim.requests()));
      } finally {
        await g.close();
      }
    });
  });

  describe("disruptions and checks", () => {
    it("finds no disruption in raising instances or changing the machine type either way", async () => {
      const spec = connectorSpec("batch-egress", "machineType: e2-micro\nminInstances: 4\nmaxInstances: 10");
      const { o, changes } = await changesOf(spec);
      expect(changes).toHaveLength(3);
      expect(rec.disruptions(changes, o, spec)).toEqual([]);
      const down = connectorSpec("orders-egress", "machineType: f1-micro");
      const d = await changesOf(down);
      expect(rec.disruptions(d.changes, d.o, down)).toEqual([]);
    });

    it("counts lowering instances and a creation-only field as one replacement, naming the fields", async () => {
      const spec = connectorSpec(
        "batch-egress",
        "minInstances: 2\nmaxInstances: 5\nmachineType: e2-micro\nsubnet:\n  name: other-subnet\nallowReplacement: true",
      );
      const { o, changes } = await changesOf(spec);
      expect(rec.disruptions(changes, o, spec)).toEqual([
        {
          kind: "replacement",
          reason:
            "lowering minInstances from 3 to 2 cannot be done in place (GCP only raises connector instances); lowering maxInstances from 6 to 5 cannot be done in place (GCP only raises connector instances); subnet.name is fixed at creation (batch-subnet live, other-subnet wanted): the connector must be replaced (a new connector created, its services switched to it, this one deleted), which capstan never does itself",
          fields: ["minInstances", "maxInstances", "subnet.name"],
        },
      ]);
    });

    it("refuses a decrease without consent, telling the user to acknowledge and replace by hand", async () => {
      const spec = connectorSpec("batch-egress", "minInstances: 2");
      const { o, changes } = await changesOf(spec);
      expect(await rec.check(gcp, spec, o, changes)).toEqual({
        problems: [
          "spec.minInstances: lowering minInstances from 3 to 2 requires replacing the connector (GCP only raises connector instances in place); set spec.allowReplacement: true to acknowledge, then replace it by hand: capstan never deletes resources. Or keep minInstances at 3 or more",
        ],
        notes: [],
      });
    });

    it("accepts an acknowledged decrease as a plan, noting that apply stops there", async () => {
      const spec = connectorSpec("batch-egress", "maxInstances: 4\nallowReplacement: true");
      const { o, changes } = await changesOf(spec);
      const result = await rec.check(gcp, spec, o, changes);
      expect(result.problems).toEqual([]);
      expect(result.notes).toEqual([
        expect.stringMatching(
          /^lowering maxInstances from 6 to 4 requires replacing the connector, which capstan never does: apply stops at this change\. Replace it by hand: create a new connector/,
        ),
      ]);
      expect(rec.disruptions(changes, o, spec).map((d) => d.kind)).toEqual(["replacement"]);
    });

    it("refuses a different network or range whatever the consent: capstan does not recreate connectors", async () => {
      const spec = connectorSpec(
        "orders-egress",
        "network: prod-vpc\nipCidrRange: 10.9.0.0/28\nmaxInstances: 5\nallowReplacement: true",
      );
      const { o, changes } = await changesOf(spec);
      const { problems } = await rec.check(gcp, spec, o, changes);
      expect(problems).toEqual([
        expect.stringMatching(
          /^spec\.network: network is staging-vpc live and immutable after creation; capstan does not recreate connectors\./,
        ),
        expect.stringMatching(
          /^spec\.ipCidrRange: ipCidrRange is 10\.8\.0\.0\/28 live and immutable after creation/,
        ),
      ]);
      const subnet = connectorSpec("orders-egress", "subnet:\n  name: batch-subnet");
      const s = await changesOf(subnet);
      expect((await rec.check(gcp, subnet, s.o, s.changes)).problems).toEqual([
        expect.stringMatching(/^spec\.subnet: subnet is unset live and immutable after creation/),
      ]);
    });

    it("judges min below max with the live half when the spec states only one count", async () => {
      const spec = connectorSpec("orders-egress", "minInstances: 4");
      const { o, changes } = await changesOf(spec);
      expect((await rec.check(gcp, spec, o, changes)).problems).toEqual([
        "spec.minInstances: maxInstances (3) must be greater than minInstances (4); the other count is maxInstances 3 live",
      ]);
      const fine = connectorSpec("orders-egress", "minInstances: 4\nmaxInstances: 6");
      const f = await changesOf(fine);
      expect(await rec.check(gcp, fine, f.o, f.changes)).toEqual({ problems: [], notes: [] });
    });

    it("refuses changes to a connector in ERROR, which GCP will not update", async () => {
      h.sim.edit("vpcaccess", { kind: "connector", name: ORDERS, patch: { state: "ERROR" } });
      const spec = connectorSpec("orders-egress", "maxInstances: 5");
      const { o, changes } = await changesOf(spec);
      expect((await rec.check(gcp, spec, o, changes)).problems).toEqual([
        expect.stringContaining("the connector is in state ERROR"),
      ]);
      expect((await rec.check(gcp, spec, o, [])).problems).toEqual([]);
    });
  });

  describe("readiness", () => {
    it("is not ready while its update runs, offers a wait for READY, then is ready", async () => {
      await expect(rec.pending(gcp, refOf("orders-egress"))).resolves.toBeUndefined();
      const spec = connectorSpec("orders-egress", "maxInstances: 5");
      const { o, changes } = await changesOf(spec);
      await rec.write(gcp, o, spec, changes);

      const during = await observe("orders-egress");
      expect(during.readiness).toEqual({ ready: false, reason: "connector is UPDATING" });
      const pending = await rec.pending(gcp, refOf("orders-egress"));
      expect(pending).toBeDefined();
      await expect(pending!()).resolves.toEqual({ done: false });
      // Another connector is not busy.
      await expect(rec.pending(gcp, refOf("batch-egress"))).resolves.toBeUndefined();
      // A missing one is not busy either.
      await expect(rec.pending(gcp, refOf("nope"))).resolves.toBeUndefined();

      h.sim.clearRequests();
      const status = await waitForOperation(pending!, {
        clock: h.sim.clock,
        timeoutMs: 3_600_000,
        what: "connector to settle",
      });
      expect(status).toEqual({ done: true });
      // The wait read the connector, through the API, not the operation.
      expect(new Set(h.sim.requests().map((r) => r.rpc.split(".").at(-1)))).toEqual(
        new Set(["GetConnector"]),
      );
      expect((await observe("orders-egress")).readiness).toEqual({ ready: true });
      await expect(rec.pending(gcp, refOf("orders-egress"))).resolves.toBeUndefined();
    });

    it("ends the wait with an error when the connector is deleted meanwhile", async () => {
      const [op] = await h.gcp.vpcAccess.deleteConnector({ name: ORDERS });
      expect(op.name).toBeTruthy();
      expect((await observe("orders-egress")).readiness).toEqual({
        ready: false,
        reason: "connector is DELETING",
      });
      const pending = await rec.pending(gcp, refOf("orders-egress"));
      const failure = await waitForOperation(pending!, {
        clock: h.sim.clock,
        timeoutMs: 3_600_000,
        what: "connector to settle",
      }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(OperationError);
      expect((failure as OperationError).status?.error).toEqual({
        code: 5,
        message: `connector ${ORDERS} no longer exists`,
      });
    });

    it("fails readiness for a connector in ERROR", async () => {
      h.sim.edit("vpcaccess", { kind: "connector", name: ORDERS, patch: { state: "ERROR" } });
      const listed = await rec.list(gcp, rec.scopeOf(refOf("orders-egress")));
      expect(listed.find((x) => x.name === ORDERS)?.readiness).toEqual({
        ready: false,
        failed: true,
        reason: 'connector is ERROR: "Connector is in a bad state, manual deletion recommended"',
      });
    });
  });
});
