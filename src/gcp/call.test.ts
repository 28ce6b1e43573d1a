import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { Code, GcpCaller, gaxCallOptions, withDeadline } from "./call.ts";
import { RateLimiter } from "./ratelimit.ts";

/** hanging returns a promise that never settles, with a gax-style `cancel` that counts. */
function hanging<T>(): { promise: Promise<T>; cancels: () => number } {
  let cancels = 0;
  const promise = Object.assign(new Promise<T>(() => {}), {
    cancel: () => {
      cancels++;
    },
  });
  return { promise, cancels: () => cancels };
}

describe("withDeadline", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("abandons a call that does not answer in time: cancels it and fails with DEADLINE_EXCEEDED", async () => {
    const { promise, cancels } = hanging<string>();
    const out = withDeadline(promise, 60_000, "services.list");
    const seen = out.catch((err: unknown) => err);
    vi.advanceTimersByTime(59_999);
    expect(cancels()).toBe(0);
    vi.advanceTimersByTime(1);
    const err = (await seen) as Error & { code: number };
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(err.message).toBe("services.list did not answer within 60 s");
    expect(cancels()).toBe(1);
  });

  it("leaves no timer behind once the call settles, either way", async () => {
    await expect(withDeadline(Promise.resolve("ok"), 60_000, "get")).resolves.toBe("ok");
    await expect(withDeadline(Promise.reject(new Error("no")), 60_000, "get")).rejects.toThrow("no");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("retries through GcpCaller an attempt that hung past its deadline", async () => {
    const clock = new ManualClock(0);
    const codes: number[] = [];
    const caller = new GcpCaller({
      clock,
      limiter: new RateLimiter({ clock }),
      backoffMs: 1_000,
      random: () => 0.5,
      observer: (_meta, { code }) => codes.push(code),
    });
    let attempts = 0;
    const first = hanging<string>();
    const work = caller.call(
      {
        api: "sqladmin.googleapis.com",
        method: "instances.list",
        write: false,
        location: "global",
        deadlineMs: 5_000,
      },
      () => (++attempts === 1 ? first.promise : Promise.resolve("answer")),
    );
    let done = false;
    void work.finally(() => {
      done = true;
    });
    while (!done) {
      await new Promise((r) => setImmediate(r));
      vi.advanceTimersByTime(5_000);
      clock.advanceToNext();
    }
    await expect(work).resolves.toBe("answer");
    expect(attempts).toBe(2);
    expect(first.cancels()).toBe(1);
    expect(codes).toEqual([Code.DEADLINE_EXCEEDED, Code.OK]);
  });
});

describe("gaxCallOptions", () => {
  it("is a fresh object per call, with the libraries' retries and deadline off", () => {
    const a = gaxCallOptions();
    const b = gaxCallOptions();
    expect(a).not.toBe(b);
    expect(a).toEqual({ retry: null, timeout: Number.POSITIVE_INFINITY });
  });
});
