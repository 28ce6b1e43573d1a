import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { GcpCaller } from "./call.ts";
import { RateLimiter } from "./ratelimit.ts";

/** settle runs `work` while moving a manual clock from sleeper to sleeper until it is done. */
async function settle<T>(clock: ManualClock, work: Promise<T>): Promise<T> {
  let done = false;
  const result = work.finally(() => {
    done = true;
  });
  // Mark the rejection handled now; the caller still sees it through the returned promise.
  result.catch(() => {});
  while (!done) {
    await new Promise((r) => setImmediate(r));
    if (!done && !clock.advanceToNext()) await new Promise((r) => setImmediate(r));
  }
  return result;
}

const W = {
  api: "run.googleapis.com",
  write: true,
  location: "europe-west1",
  method: "services.update",
} as const;

describe("RateLimiter", () => {
  it("admits at most the per-minute limit in any sliding minute", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ clock, limits: { "run.googleapis.com": { writePerMinute: 2 } } });
    const starts: number[] = [];
    const calls = Array.from({ length: 5 }, () =>
      limiter.run(W, async () => {
        starts.push(clock.now());
      }),
    );
    await settle(clock, Promise.all(calls));
    // Each admission counts for a minute plus a one-second guard against clock skew with GCP.
    expect(starts).toEqual([0, 0, 61_000, 61_000, 122_000]);
  });

  it("counts per-region budgets separately where GCP counts per region", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ clock, limits: { "run.googleapis.com": { writePerMinute: 1 } } });
    const starts: number[] = [];
    const calls = ["a", "b", "a"].map((location) =>
      limiter.run({ ...W, location }, async () => {
        starts.push(clock.now());
      }),
    );
    await settle(clock, Promise.all(calls));
    expect(starts).toEqual([0, 0, 61_000]);
  });

  it("rejects a limit below one call per minute with the option's name", () => {
    expect(
      () =>
        new RateLimiter({ clock: new ManualClock(), limits: { "x.googleapis.com": { readPerMinute: 0 } } }),
    ).toThrow('Expected `limits["x.googleapis.com"].readPerMinute` to be a number >= 1, got `0`');
  });
});

describe("GcpCaller", () => {
  const quotaError = (seconds: number) =>
    Object.assign(new Error("Quota exceeded"), {
      code: 8,
      statusDetails: [{ retryDelay: { seconds, nanos: 0 } }],
    });

  it("waits the RetryInfo delay after a 429, halves the budget, and then succeeds", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ clock, limits: { "run.googleapis.com": { writePerMinute: 100 } } });
    const caller = new GcpCaller({ clock, limiter, random: () => 0.5 });
    const attempts: number[] = [];
    const result = await settle(
      clock,
      caller.call(W, async () => {
        attempts.push(clock.now());
        if (attempts.length === 1) throw quotaError(7);
        return "ok";
      }),
    );
    expect(result).toBe("ok");
    expect(attempts).toEqual([0, 7_000]);
    expect(limiter.stats()[0]).toMatchObject({ throttled: 1, current: 50 });
  });

  it("retries a transient error with backoff but not a permanent one", async () => {
    const clock = new ManualClock(0);
    const caller = new GcpCaller({
      clock,
      limiter: new RateLimiter({ clock }),
      backoffMs: 1000,
      random: () => 0.5,
    });
    const times: number[] = [];
    await settle(
      clock,
      caller.call(W, async () => {
        times.push(clock.now());
        if (times.length < 3) throw Object.assign(new Error("unavailable"), { code: 14 });
      }),
    );
    expect(times).toEqual([0, 1000, 3000]);
    let n = 0;
    await expect(
      settle(
        clock,
        caller.call(W, async () => {
          n++;
          throw Object.assign(new Error("bad"), { code: 3 });
        }),
      ),
    ).rejects.toThrow("bad");
    expect(n).toBe(1);
  });

  it("gives up after maxAttempts and reports every attempt to the observer", async () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    const caller = new GcpCaller({
      clock,
      limiter: new RateLimiter({ clock }),
      maxAttempts: 3,
      random: () => 0.5,
      observer: (_m, o) => seen.push(o.code),
    });
    await expect(
      settle(
        clock,
        caller.call(W, async () => {
          throw quotaError(1);
        }),
      ),
    ).rejects.toThrow("Quota exceeded");
    expect(seen).toEqual([8, 8, 8]);
  });
});
