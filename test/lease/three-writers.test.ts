import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readiness, tempDir, writeSpecs } from "../controller/harness.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";
import {
  CLUSTER_FIXTURE,
  CLUSTER_SPECS,
  Cluster,
  gcpWrites,
  CLUSTER_PROJECT as P,
  Sampler,
  splitBrainWrites,
  terms,
  writerOf,
} from "./cluster.ts";

/**
 * ×10: the lease lasts 30 s simulated (3 s real), renewed every 3 s (0.3 s real); the
 * leader stops writing 20 s after its last renewal (its renew deadline), so 10 s (1 s
 * real) separate its last possible write from the earliest takeover: room for the call
 * in flight and a loaded machine.
 */
const SCALE = 10;
const LEASE_S = 30;
const RENEW_S = 3;

describe.each(["gs", "k8s"] as const)("three capstan run processes with a %s:// lease", (scheme) => {
  let h: SimHarness | undefined;
  let cluster: Cluster | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cluster?.stop();
    await h?.close();
    await cleanup?.();
  });

  it("keep one leader; a killed leader is replaced within lease duration + renew interval without a repeated restart; a partitioned one stops writing before its lease expires", async () => {
    const t = await tempDir(`capstan-three-${scheme}-`);
    cleanup = t.remove;
    const specsDir = join(t.dir, "specs");
    await writeSpecs(specsDir, CLUSTER_SPECS);
    h = await startSim(CLUSTER_FIXTURE, { timeScale: SCALE });
    const sim = h.sim;
    const c = new Cluster({
      sim,
      endpoint: h.endpoint,
      scheme,
      dir: t.dir,
      specsDir,
      timeScale: SCALE,
      leaseDurationS: LEASE_S,
      renewIntervalS: RENEW_S,
      intervalS: 10,
    });
    cluster = c;
    for (let i = 0; i < 3; i++) await c.start();
    const sampler = new Sampler(c);
    const restarts = () =>
      gcpWrites(sim.requests()).filter((r) => r.path.endsWith("/instances/main-db") && r.status === 200);
    const wait = { timeout: 60_000, interval: 20 };

    // 1. One leads and starts the restart; kill -9 it while the restart runs.
    await vi.waitFor(() => expect(restarts()).toHaveLength(1), wait);
    const first = c.members.find((m) => m.identity === writerOf(restarts()[0]!))!;
    first.child.proc.kill("SIGKILL");
    const killedAt = sim.clock.now();
    await first.child.exited;

    // 2. Another takes over within lease duration + renew interval, and converges.
    await vi.waitFor(async () => expect(await c.leaders()).toHaveLength(1), wait);
    const [second] = await c.leaders();
    const takeover = terms(sim.requests()).find((x) => x.holder === second!.identity)!;
    expect(takeover.term).toBe(1);
    // Plus 5 s simulated (0.5 s real) for the processes' own latency on a loaded machine.
    expect(takeover.time - killedAt).toBeLessThanOrEqual((LEASE_S + RENEW_S + 5) * 1000);
    await vi.waitFor(async () => {
      const s = (await c.statuses()).find((x) => x.member === second)!.status;
      for (const r of s.resources) expect(`${r.address} ${readiness(r)}`).toMatch(/True\/UpToDate$/);
    }, wait);
    // The restart went out once: the new leader found it running and waited for it.
    expect(restarts()).toHaveLength(1);
    const flags = (sim.dump()["sql"] as { instances: { settings: { databaseFlags: unknown[] } }[] })
      .instances[0]!.settings.databaseFlags;
    expect(flags).toContainEqual({ name: "max_connections", value: "200" });

    // 3. Partition the leader from the lease (503 on its lease calls only) while drift
    // keeps it busy writing: it stops writing before its lease expires, a standby takes over.
    const partitionedAt = sim.requests().at(-1)!.seq;
    c.partition(second!);
    const third = c.members.find((m) => m !== first && m !== second)!;
    let n = 0;
    await vi.waitFor(
      async () => {
        sim.edit("compute", {
          kind: "healthCheck",
          name: `projects/${P}/global/healthChecks/a-hc`,
          patch: { checkIntervalSec: 7 + (n++ % 2) },
        });
        const s = (await c.statuses()).find((x) => x.member === third)!.status;
        expect(s.instance.role).toBe("leader");
        expect(gcpWrites(sim.requests()).some((w) => writerOf(w) === third.identity)).toBe(true);
      },
      { timeout: 60_000, interval: 500 },
    );
    const log = sim.requests();
    const lastRenewal = log
      .filter(
        (r) =>
          r.seq <= partitionedAt + 1_000_000 &&
          r.principal === second!.leasePrincipal() &&
          r.write &&
          r.status === 200 &&
          (r.api === "storage.googleapis.com" || r.api === "coordination.k8s.io"),
      )
      .at(-1)!;
    const late = gcpWrites(log).filter(
      (w) => writerOf(w) === second!.identity && w.time >= lastRenewal.time + LEASE_S * 1000,
    );
    expect(late).toEqual([]);
    const status = (await c.statuses()).find((x) => x.member === second)!.status;
    expect(status.instance).toMatchObject({ role: "standby", lease: { state: "lost" } });
    expect(status.instance.lease.lost?.reason).toMatch(/renew deadline|took it over|holds it/);

    // Every write's log line names the term it was made under.
    const writeLines = c.members.flatMap((m) => m.child.logs.filter((l) => l["message"] === "write"));
    expect(writeLines.length).toBeGreaterThanOrEqual(2);
    for (const l of writeLines)
      expect(l).toMatchObject({ term: expect.any(Number), fields: expect.any(Array) });
    expect(first.child.logs.find((l) => l["message"] === "write" && l["name"] === "main-db")).toMatchObject({
      term: 0,
      disruptive: true,
    });

    // Throughout: no write by anyone but the holder of the term in force, one leader at a time.
    expect(splitBrainWrites(log)).toEqual([]);
    await sampler.stop();
    expect(sampler.samples).toBeGreaterThan(10);
    expect(sampler.maxLeaders).toBe(1);
  }, 180_000);
});
