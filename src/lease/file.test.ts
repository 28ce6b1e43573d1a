import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { LeaderElector } from "./elector.ts";
import { type FileLeaseRecord, FileLeaseStore } from "./file.ts";
import { LeaseLostError } from "./types.ts";

describe("the file:// lease", () => {
  let dir: string;
  let path: string;
  const clock = new ManualClock();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "capstan-lease-"));
    path = join(dir, ".capstan", "lease.json");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const lease = (pid: number, extra: { hostname?: string; isAlive?: (pid: number) => boolean } = {}) =>
    new LeaderElector({
      store: new FileLeaseStore({
        path,
        pid,
        hostname: extra.hostname ?? "host-a",
        isAlive: extra.isAlive ?? (() => true),
      }),
      clock,
      identity: `proc-${pid}${extra.hostname ? `@${extra.hostname}` : ""}`,
      leaseDurationMs: 15_000,
    });
  const record = async () => JSON.parse(await readFile(path, "utf8")) as FileLeaseRecord;

  it("lets exactly one of many processes starting together take it", async () => {
    const contenders = Array.from({ length: 8 }, (_, i) => lease(1000 + i));
    const won = await Promise.all(contenders.map((l) => l.tryAcquireOrRenew()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const winner = contenders[won.indexOf(true)]!;
    expect(await record()).toMatchObject({
      holderIdentity: winner.identity,
      hostname: "host-a",
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    expect(winner.fence()).toBe(0);
    expect(() => contenders[won.indexOf(false)]!.fence()).toThrow(LeaseLostError);
  });

  it("renews while held, and never lets a live process on the same host be taken over", async () => {
    const a = lease(1);
    const b = lease(2);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    const first = (await record()).renewTime;
    clock.advance(5_000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect((await record()).renewTime > first).toBe(true);
    clock.advance(60_000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(b.status()).toMatchObject({ state: "standby", holder: "proc-1", term: 0 });
  });

  it("is taken over at once when its holder's pid is gone on this host, in a new term", async () => {
    const dead = new Set([1]);
    const a = lease(1);
    const b = lease(2, { isAlive: (pid) => !dead.has(pid) });
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(await record()).toMatchObject({ holderIdentity: "proc-2", leaseTransitions: 1, pid: 2 });
    expect(b.fence()).toBe(1);
    // The old holder's cheap check still passes (it has not looked), its re-read does not.
    expect(a.fence()).toBe(0);
    await expect(a.verify()).rejects.toThrow(/proc-2 took it over \(term 1\)/);
    expect(a.status()).toMatchObject({ state: "lost", lost: { term: 0 } });
  });

  it("is taken over from another host only after it went unrenewed for the lease duration of the candidate's own clock", async () => {
    const a = lease(1, { hostname: "host-a" });
    const b = lease(1, { hostname: "host-b" });
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(10_000);
    await a.tryAcquireOrRenew();
    // Renewed: the candidate's observation starts again.
    expect(await b.tryAcquireOrRenew()).toBe(false);
    // The standby knows when to look again: right after the record would expire.
    expect(b.expiresInMs()).toBe(15_001);
    expect(a.expiresInMs()).toBeUndefined();
    clock.advance(14_999);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(b.expiresInMs()).toBe(2);
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(await a.tryAcquireOrRenew()).toBe(false);
    expect(a.status().lost?.reason).toMatch(/host-b holds it/);
  });

  it("stops its holder writing once the renew deadline passed without a renewal", async () => {
    const a = lease(1);
    await a.tryAcquireOrRenew();
    clock.advance(9_999);
    expect(a.fence()).toBe(0);
    clock.advance(1);
    expect(() => a.fence()).toThrow(/not renewed for 10s \(renew deadline 10s\)/);
    expect(a.held).toBe(false);
  });

  it("is free for the next process once released, and keeps counting terms", async () => {
    const a = lease(1);
    const b = lease(2);
    await a.tryAcquireOrRenew();
    await a.release();
    expect(a.held).toBe(false);
    expect(await record()).toMatchObject({ holderIdentity: "", leaseTransitions: 0 });
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(b.term).toBe(1);
    // Releasing a lease one does not hold leaves it alone.
    await a.release();
    expect((await record()).holderIdentity).toBe("proc-2");
  });

  it("replaces a lease file nobody can read instead of waiting on it forever", async () => {
    const a = lease(1);
    await a.tryAcquireOrRenew();
    await writeFile(path, "{ not json");
    const b = lease(2);
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
