import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import { GcpCaller } from "./call.ts";
import { GcpCallError } from "./errors.ts";
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

describe("budgets per quota category, as GCP counts them", () => {
  it("keeps Cloud SQL's get, list and mutate budgets apart, per region, operations.get counting as a get", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({
      clock,
      limits: { "sqladmin.googleapis.com": { perMinute: { get: 2, list: 1, mutate: 1 } } },
    });
    const starts: Record<string, number[]> = {};
    const call = (method: string, write: boolean, location: string) =>
      limiter.run({ api: "sqladmin.googleapis.com", method, write, location }, async () => {
        const key = `${method}@${location}`;
        starts[key] = [...(starts[key] ?? []), clock.now()];
      });
    await settle(
      clock,
      Promise.all([
        call("instances.get", false, "europe-west1"),
        call("operations.get", false, "europe-west1"),
        // The third get of the region waits for the minute; the other region's does not.
        call("instances.get", false, "europe-west1"),
        call("instances.get", false, "us-central1"),
        call("instances.list", false, "global"),
        call("instances.patch", true, "europe-west1"),
      ]),
    );
    expect(starts).toEqual({
      "instances.get@europe-west1": [0, 61_000],
      "operations.get@europe-west1": [0],
      "instances.get@us-central1": [0],
      "instances.list@global": [0],
      "instances.patch@europe-west1": [0],
    });
    expect(limiter.stats().map((s) => [s.key, s.limit])).toEqual(
      expect.arrayContaining([
        ["sqladmin.googleapis.com|get|europe-west1", 2],
        ["sqladmin.googleapis.com|list|global", 1],
        ["sqladmin.googleapis.com|mutate|europe-west1", 1],
      ]),
    );
  });

  it("budgets GCP's documented defaults out of the box, one Compute budget per project-wide group", () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ clock });
    const keys = [
      { api: "compute.googleapis.com", method: "backendServices.list", write: false },
      { api: "compute.googleapis.com", method: "backendServices.get", write: false },
      { api: "compute.googleapis.com", method: "globalOperations.wait", write: false },
      { api: "compute.googleapis.com", method: "backendServices.patch", write: true },
      { api: "sqladmin.googleapis.com", method: "instances.patch", write: true, location: "europe-west1" },
      { api: "run.googleapis.com", method: "services.update", write: true, location: "europe-west1" },
    ];
    for (const k of keys) void limiter.run(k, async () => {});
    expect(limiter.stats().map((s) => [s.key, s.limit])).toEqual([
      ["compute.googleapis.com|list|", 1500],
      ["compute.googleapis.com|get|", 1500],
      ["compute.googleapis.com|operationGet|", 1500],
      ["compute.googleapis.com|mutate|", 1500],
      ["sqladmin.googleapis.com|mutate|europe-west1", 180],
      ["run.googleapis.com|write|europe-west1", 60],
    ]);
  });

  it("refuses an override naming a category the API does not have, listing the ones it has", () => {
    expect(
      () =>
        new RateLimiter({
          clock: new ManualClock(),
          limits: { "sqladmin.googleapis.com": { perMinute: { writes: 5 } } },
        }),
    ).toThrow(
      'Expected `limits["sqladmin.googleapis.com"].perMinute` to name one of get, list, mutate, got `writes`',
    );
  });
});

describe("GcpCaller and throttling however the API signals it", () => {
  it("waits for the next minute after Compute's 403 rateLimitExceeded (no RetryInfo) and slows the budget", async () => {
    const clock = new ManualClock(10_000);
    const limiter = new RateLimiter({ clock });
    const caller = new GcpCaller({ clock, limiter });
    const attempts: number[] = [];
    const computeThrottle = Object.assign(new Error("Quota exceeded for quota metric 'Queries'"), {
      code: 7,
      httpStatusCode: 403,
      [Symbol.for("google-gax.rawHttpResponsePayload")]: JSON.stringify({
        error: {
          code: 403,
          message: "Quota exceeded",
          errors: [{ domain: "usageLimits", reason: "rateLimitExceeded" }],
        },
      }),
    });
    const meta = { api: "compute.googleapis.com", method: "backendServices.list", write: false } as const;
    const result = await settle(
      clock,
      caller.call(meta, async () => {
        attempts.push(clock.now());
        if (attempts.length === 1) throw computeThrottle;
        return "ok";
      }),
    );
    expect(result).toBe("ok");
    // GCP refills at the start of the next minute (plus a second for clock skew).
    expect(attempts).toEqual([10_000, 61_000]);
    expect(limiter.stats()[0]).toMatchObject({ throttled: 1, current: 750 });
  });

  it("gives up on a permission error at once, as a GcpCallError naming the call", async () => {
    const clock = new ManualClock(0);
    const caller = new GcpCaller({ clock, limiter: new RateLimiter({ clock }) });
    let n = 0;
    const err = await settle(
      clock,
      caller.call({ ...W, resource: "projects/p/locations/europe-west1/services/api" }, async () => {
        n++;
        throw Object.assign(new Error("denied"), {
          code: 7,
          httpStatusCode: 403,
          reason: "IAM_PERMISSION_DENIED",
        });
      }),
    ).catch((e: unknown) => e);
    expect(n).toBe(1);
    expect(err).toBeInstanceOf(GcpCallError);
    expect(err).toMatchObject({
      failure: "permission-denied",
      code: 7,
      attempts: 1,
      call: {
        api: "run.googleapis.com",
        method: "services.update",
        resource: "projects/p/locations/europe-west1/services/api",
      },
    });
  });
});
