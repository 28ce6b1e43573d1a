import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock/index.ts";
import { GcsLeaseStore, gcsClient } from "../../src/lease/gcs.ts";
import { LeaderElector, type LeaseStore } from "../../src/lease/index.ts";
import { K8sLeaseStore, k8sClient } from "../../src/lease/k8s.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

/**
 * The gs:// and k8s:// leases through the real @google-cloud/storage and
 * @kubernetes/client-node clients against the simulator, and the simulator's answers as
 * GCS and the Kubernetes API server give them.
 */
let h: SimHarness;
let dir: string;
beforeAll(async () => {
  h = await startSim({ storage: { buckets: [{ name: "capstan-leases" }] } }, { timeScale: 1 });
  dir = await mkdtemp(join(tmpdir(), "capstan-kube-"));
  const kubeconfig = join(dir, "config");
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: sim, cluster: {server: "${h.endpoint}", insecure-skip-tls-verify: true}}]
users: [{name: capstan, user: {token: capstan-sim-token.k8s}}]
contexts: [{name: sim, context: {cluster: sim, user: capstan, namespace: capstan}}]
current-context: sim
`,
  );
  process.env["KUBECONFIG"] = kubeconfig;
});
afterAll(async () => {
  delete process.env["KUBECONFIG"];
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

const call = async (method: string, path: string, body?: unknown, token = "capstan-sim-token") => {
  const res = await fetch(`${h.endpoint}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
};

async function gcsStore(object: string): Promise<LeaseStore> {
  return new GcsLeaseStore({
    bucket: "capstan-leases",
    object,
    storage: await gcsClient({ endpoint: h.endpoint, token: "capstan-sim-token.gcs" }),
  });
}

async function k8sStore(name: string): Promise<LeaseStore> {
  const { api, microTime } = await k8sClient();
  return new K8sLeaseStore({ namespace: "capstan", name, api, microTime });
}

describe.each([
  ["gs://", gcsStore],
  ["k8s://", k8sStore],
])("the %s lease through its real client", (_, storeOf) => {
  it("lets one of three candidates lead, hands over only an expired record in a new term, and releases", async () => {
    const clock = new ManualClock(Date.parse("2026-03-01T12:00:00Z"));
    const name = `election-${Math.random().toString(16).slice(2, 8)}`;
    const electors = await Promise.all(
      ["a", "b", "c"].map(
        async (id) =>
          new LeaderElector({ store: await storeOf(name), clock, identity: id, leaseDurationMs: 15_000 }),
      ),
    );
    const won = await Promise.all(electors.map((e) => e.tryAcquireOrRenew()));
    expect(won.filter(Boolean), JSON.stringify(electors.map((e) => e.status().error))).toHaveLength(1);
    const leader = electors[won.indexOf(true)]!;
    const others = electors.filter((e) => e !== leader);
    expect(leader.fence()).toBe(0);
    // A candidate that lost the race to create reads the record at its next round.
    for (const o of others) expect(await o.tryAcquireOrRenew()).toBe(false);
    for (const o of others)
      expect(o.status()).toMatchObject({ state: "standby", holder: leader.identity, term: 0 });

    // Renewed in time: nobody takes over.
    clock.advance(10_000);
    expect(await leader.tryAcquireOrRenew()).toBe(true);
    for (const o of others) expect(await o.tryAcquireOrRenew()).toBe(false);
    // Not renewed for a lease duration of the candidates' own clock: one of them takes over.
    clock.advance(15_000);
    const taken = await Promise.all(others.map((o) => o.tryAcquireOrRenew()));
    expect(taken.filter(Boolean)).toHaveLength(1);
    const next = others[taken.indexOf(true)]!;
    expect(next.term).toBe(1);
    // The old leader's cheap check fails (its renew deadline passed), and so does its renewal.
    expect(() => leader.fence()).toThrow(/renew deadline/);
    expect(await leader.tryAcquireOrRenew()).toBe(false);
    await expect(leader.verify()).rejects.toThrow(/does not hold|lost the lease/);
    expect(await next.verify()).toBe(1);

    await next.release();
    const third = others.find((o) => o !== next)!;
    expect(await third.tryAcquireOrRenew()).toBe(true);
    expect(third.term).toBe(2);
  });
});

describe("the simulated Cloud Storage JSON API", () => {
  const O = "/storage/v1/b/capstan-leases/o/obj%2Fa";
  const upload = (q: string, content: string) =>
    fetch(`${h.endpoint}/upload/storage/v1/b/capstan-leases/o?uploadType=media&name=obj%2Fa${q}`, {
      method: "POST",
      headers: { authorization: "Bearer capstan-sim-token", "content-type": "text/plain" },
      body: content,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));

  it("creates only with ifGenerationMatch=0 when absent, and answers 412 conditionNotMet in GCS's format", async () => {
    const first = await upload("&ifGenerationMatch=0", "one");
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      kind: "storage#object",
      name: "obj/a",
      bucket: "capstan-leases",
      metageneration: "1",
      size: "3",
      contentType: "text/plain",
    });
    const again = await upload("&ifGenerationMatch=0", "two");
    expect(again).toEqual({
      status: 412,
      body: {
        error: {
          code: 412,
          message: "At least one of the pre-conditions you specified did not hold.",
          errors: [
            {
              message: "At least one of the pre-conditions you specified did not hold.",
              domain: "global",
              reason: "conditionNotMet",
              locationType: "header",
              location: "If-Match",
            },
          ],
        },
      },
    });
    const gen = String(first.body["generation"]);
    // Metadata updates keep the generation and count metagenerations; a stale one is 412.
    const patched = await call("PATCH", `${O}?ifGenerationMatch=${gen}&ifMetagenerationMatch=1`, {
      metadata: { holder: "a", other: "x" },
    });
    expect(patched.body).toMatchObject({ generation: gen, metageneration: "2", metadata: { holder: "a" } });
    expect((await call("PATCH", `${O}?ifMetagenerationMatch=1`, { metadata: {} })).status).toBe(412);
    const removed = await call("PATCH", O, { metadata: { other: null } });
    expect(removed.body?.["metadata"]).toEqual({ holder: "a" });
    // A new upload is a new, higher generation, with metageneration 1 again.
    const second = await upload(`&ifGenerationMatch=${gen}`, "three");
    expect(BigInt(String(second.body["generation"]))).toBeGreaterThan(BigInt(gen));
    expect(second.body["metageneration"]).toBe("1");
    const media = await fetch(`${h.endpoint}${O}?alt=media`, {
      headers: { authorization: "Bearer capstan-sim-token" },
    });
    expect(await media.text()).toBe("three");
    expect((await call("DELETE", `${O}?ifGenerationMatch=${gen}`)).status).toBe(412);
    expect((await call("DELETE", `${O}?ifGenerationMatch=${second.body["generation"]}`)).status).toBe(204);
    expect(await call("GET", O)).toEqual({
      status: 404,
      body: {
        error: {
          code: 404,
          message: "No such object: capstan-leases/obj/a",
          errors: [{ message: "No such object: capstan-leases/obj/a", domain: "global", reason: "notFound" }],
        },
      },
    });
    expect((await call("GET", "/storage/v1/b/nope/o/x")).body).toMatchObject({
      error: { code: 404, message: "The specified bucket does not exist." },
    });
  });

  it("throttles more than about one mutation a second of one object with 429 rateLimitExceeded", async () => {
    const name = "/storage/v1/b/capstan-leases/o/hot";
    await fetch(`${h.endpoint}/upload/storage/v1/b/capstan-leases/o?uploadType=media&name=hot`, {
      method: "POST",
      headers: { authorization: "Bearer capstan-sim-token" },
      body: "x",
    });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++)
      statuses.push((await call("PATCH", name, { metadata: { i: String(i) } })).status);
    expect(statuses.filter((s) => s === 200).length).toBeLessThan(8);
    const refused = await call("PATCH", name, { metadata: {} });
    expect(refused.body).toMatchObject({
      error: { code: 429, errors: [{ domain: "usageLimits", reason: "rateLimitExceeded" }] },
    });
  });

  it("refuses a call without credentials with 401 in GCS's format, and an injected fault the same way", async () => {
    expect(await call("GET", "/storage/v1/b/capstan-leases", undefined, "")).toMatchObject({
      status: 401,
      body: { error: { code: 401, errors: [{ reason: "required" }] } },
    });
    h.sim.faults.add({
      match: { api: "storage.googleapis.com", rpc: "buckets.get", principal: "capstan-sim-token.cut" },
      error: { status: "UNAVAILABLE", message: "Backend Error" },
    });
    expect((await call("GET", "/storage/v1/b/capstan-leases")).status).toBe(200);
    expect(await call("GET", "/storage/v1/b/capstan-leases", undefined, "capstan-sim-token.cut")).toEqual({
      status: 503,
      body: {
        error: {
          code: 503,
          message: "Backend Error",
          errors: [{ message: "Backend Error", domain: "global", reason: "backendError" }],
        },
      },
    });
    h.sim.faults.clear();
    const log = h.sim.requests().filter((r) => r.api === "storage.googleapis.com" && r.status === 503);
    expect(log.at(-1)).toMatchObject({ principal: "capstan-sim-token.cut", rpc: "storage.buckets.get" });
  });
});

describe("the simulated Kubernetes Lease endpoint", () => {
  const L = "/apis/coordination.k8s.io/v1/namespaces/capstan/leases";
  const micro = "2026-03-01T12:00:00.000000Z";

  it("answers conflicts, duplicates and bad input with Status objects as the API server does", async () => {
    const created = await call("POST", L, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "raw" },
      spec: { holderIdentity: "a", leaseDurationSeconds: 15, renewTime: micro, leaseTransitions: 0 },
    });
    expect(created.status).toBe(201);
    const rv = (created.body!["metadata"] as { resourceVersion: string }).resourceVersion;
    expect(await call("POST", L, { metadata: { name: "raw" }, spec: {} })).toEqual({
      status: 409,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: 'leases.coordination.k8s.io "raw" already exists',
        reason: "AlreadyExists",
        details: { name: "raw", group: "coordination.k8s.io", kind: "leases" },
        code: 409,
      },
    });
    const updated = await call("PUT", `${L}/raw`, {
      metadata: { name: "raw", resourceVersion: rv },
      spec: { holderIdentity: "b", leaseDurationSeconds: 15, renewTime: micro, leaseTransitions: 1 },
    });
    expect(updated.status).toBe(200);
    expect(
      Number((updated.body!["metadata"] as { resourceVersion: string }).resourceVersion),
    ).toBeGreaterThan(Number(rv));
    expect(
      await call("PUT", `${L}/raw`, {
        metadata: { name: "raw", resourceVersion: rv },
        spec: { holderIdentity: "c" },
      }),
    ).toMatchObject({
      status: 409,
      body: {
        kind: "Status",
        reason: "Conflict",
        message:
          'Operation cannot be fulfilled on leases.coordination.k8s.io "raw": the object has been modified; please apply your changes to the latest version and try again',
        code: 409,
      },
    });
    expect(
      await call("PUT", `${L}/raw`, {
        metadata: { name: "raw" },
        spec: { renewTime: "2026-03-01T12:00:00.000Z" },
      }),
    ).toMatchObject({ status: 400, body: { kind: "Status", reason: "BadRequest" } });
    expect(
      await call("PUT", `${L}/raw`, { metadata: { name: "raw" }, spec: { leaseDurationSeconds: 0 } }),
    ).toMatchObject({
      status: 422,
      body: { reason: "Invalid", details: { causes: [{ field: "spec.leaseDurationSeconds" }] } },
    });
    expect(await call("GET", `${L}/missing`)).toMatchObject({
      status: 404,
      body: { kind: "Status", reason: "NotFound", message: 'leases.coordination.k8s.io "missing" not found' },
    });
    expect(await call("GET", `${L}/raw`, undefined, "")).toMatchObject({
      status: 401,
      body: { kind: "Status", reason: "Unauthorized", message: "Unauthorized", code: 401 },
    });
  });
});
