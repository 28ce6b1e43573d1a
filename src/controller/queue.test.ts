import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { WorkQueue } from "./queue.ts";

describe("WorkQueue", () => {
  it("backs a failing resource off 5 ms, 10 ms, 20 ms … up to 1000 s, as client-go's default does", () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    const delays = Array.from({ length: 22 }, () => q.failed("SqlInstance/db"));
    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 80]);
    expect(delays.at(-1)).toBe(1_000_000);
    expect(Math.max(...delays)).toBe(1_000_000);
    expect(q.failures("SqlInstance/db")).toBe(22);
  });

  it("holds a backing-off resource back until its delay has passed, and lets the others through", () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock, baseDelayMs: 1000 });
    q.failed("a");
    q.failed("a");
    const first = q.admit(["a", "b"]);
    expect(first.admitted).toEqual(["b"]);
    expect(first.deferred.get("a")).toEqual({ at: clock.now() + 2000, why: "backoff" });
    q.done("b");
    clock.advance(1999);
    expect(q.admit(["a"]).admitted).toEqual([]);
    clock.advance(1);
    expect(q.admit(["a"]).admitted).toEqual(["a"]);
  });

  it("forgets failures after a success, so the next failure starts from the base delay again", () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    q.failed("a");
    q.failed("a");
    q.forget("a");
    expect(q.failures("a")).toBe(0);
    expect(q.failed("a")).toBe(5);
  });

  it("never admits a resource twice at once", () => {
    const q = new WorkQueue({ clock: new ManualClock() });
    expect(q.admit(["a"]).admitted).toEqual(["a"]);
    expect(q.admit(["a"]).deferred.get("a")?.why).toBe("busy");
    q.done("a");
    expect(q.admit(["a"]).admitted).toEqual(["a"]);
  });

  it("lets a burst through, then only the overall rate", () => {
    const clock = new ManualClock();
    const q = new WorkQueue({ clock, qps: 10, burst: 3 });
    const keys = ["a", "b", "c", "d", "e"];
    const first = q.admit(keys);
    expect(first.admitted).toEqual(["a", "b", "c"]);
    // One token every 100 ms: d at +100, e at +200.
    expect(first.deferred.get("d")).toEqual({ at: clock.now() + 100, why: "rate" });
    expect(first.deferred.get("e")).toEqual({ at: clock.now() + 200, why: "rate" });
    for (const k of first.admitted) q.done(k);
    clock.advance(100);
    expect(q.admit(["d", "e"]).admitted).toEqual(["d"]);
  });

  it("rejects options that make no sense, saying what it expected", () => {
    const clock = new ManualClock();
    expect(() => new WorkQueue({ clock, baseDelayMs: 0 })).toThrow(
      "Expected `baseDelayMs` to be a finite number > 0, got `0`",
    );
    expect(() => new WorkQueue({ clock, burst: 0.5 })).toThrow(
      "Expected `burst` to be an integer >= 1, got `0.5`",
    );
  });
});
