import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { FileLease, type LeaseRecord } from "./lease.ts";

describe("FileLease", () => {
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
    new FileLease({
      path,
      clock,
      pid,
      identity: `proc-${pid}${extra.hostname ? `@${extra.hostname}` : ""}`,
      hostname: extra.hostname ?? "host-a",
      isAlive: extra.isAlive ?? (() => true),
      leaseDurationMs: 15_000,
    });

  it("lets exactly one of many processes starting together take it", async () => {
    const contenders = Array.from({ length: 8 }, (_, i) => lease(1000 + i));
    const won = await Promise.all(contenders.map((l) => l.tryAcquireOrRenew()));
    expect(won.filter(Boolean)).toHaveLength(1);
    const rec = JSON.parse(await readFile(path, "utf8")) as LeaseRecord;
    expect(rec.holderIdentity).toBe(contenders[won.indexOf(true)]!.identity);
    expect(rec).toMatchObject({ hostname: "host-a", leaseDurationSeconds: 15 });
  });

  it("renews while held and never lets a live process on the same host be taken over", async () => {
    const a = lease(1);
    const b = lease(2);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    const first = (await a.read())!.renewTime;
    clock.advance(60_000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(60_000);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect((await a.read())!.renewTime > first).toBe(true);
  });

  it("is taken over at once when its holder's pid is gone on this host", async () => {
    const dead = new Set([1]);
    const a = lease(1);
    const b = lease(2, { isAlive: (pid) => !dead.has(pid) });
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(true);
    const rec = (await b.read())!;
    expect(rec.holderIdentity).toBe("proc-2");
    expect(rec.leaseTransitions).toBe(1);
    // The old holder finds out before writing.
    expect(await a.verify()).toBe(false);
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
    clock.advance(14_999);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.advance(1);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it("is free for the next process once released", async () => {
    const a = lease(1);
    const b = lease(2);
    await a.tryAcquireOrRenew();
    await a.release();
    expect(a.held).toBe(false);
    expect(await b.tryAcquireOrRenew()).toBe(true);
    // Releasing a lease one does not hold leaves it alone.
    await a.release();
    expect((await b.read())!.holderIdentity).toBe("proc-2");
  });

  it("replaces a lease file nobody can read instead of waiting on it forever", async () => {
    const a = lease(1);
    await a.tryAcquireOrRenew();
    await writeFile(path, "{ not json");
    const b = lease(2);
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
