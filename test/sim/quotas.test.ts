import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseLimits } from "../../src/cli/runtime.ts";
import { ManualClock } from "../../src/clock/index.ts";
import { createClients } from "../../src/gcp/clients.ts";
import { classify, errorFacts } from "../../src/gcp/errors.ts";
import { API_QUOTAS, limitOf } from "../../src/gcp/quotas.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { Quotas } from "../../src/sim/core/quotas.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const P = "acme-staging";
const fail = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe("GCP's rate quotas, one table for capstan and the simulator", () => {
  it("gives capstan's budgets and the simulator's limits the same figures, category by category", () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ clock });
    const quotas = new Quotas();
    for (const [api, q] of Object.entries(API_QUOTAS)) {
      for (const [name, category] of Object.entries(q.categories)) {
        expect(limitOf(category, name, undefined)).toBe(category.perMinute);
        expect(category.source).toMatch(/^https:\/\/cloud\.google\.com\//);
        const rpcFor = {
          get: "X.Get",
          list: "X.List",
          mutate: "X.Patch",
          operationGet: "GlobalOperations.Get",
          read: "X.Get",
          write: "X.Patch",
        }[name]!;
        expect(
          quotas.describe({ api, rpc: rpcFor, write: category.write, project: P, location: "europe-west1" }),
        ).toEqual({
          category,
          limit: category.perMinute,
        });
      }
    }
    void limiter;
  });

  it("reads --limit into overrides of one category or of every read or write one, and names the valid ones", () => {
    expect(
      parseLimits([
        "sqladmin.googleapis.com:mutate=60",
        "run.googleapis.com:write=180",
        "compute.googleapis.com:read=900",
      ]),
    ).toEqual({
      "sqladmin.googleapis.com": { perMinute: { mutate: 60 } },
      "run.googleapis.com": { writePerMinute: 180 },
      "compute.googleapis.com": { readPerMinute: 900 },
    });
    expect(() => parseLimits(["sqladmin.googleapis.com:writes=60"])).toThrow(
      "(for sqladmin.googleapis.com: read, write, get, list, mutate)",
    );
  });
});

describe("the simulator answers a rate quota as each API does", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  it("Compute: 403 with the legacy rateLimitExceeded, per group of methods", async () => {
    h = await startSim(
      {
        compute: {
          project: P,
          healthChecks: [{ name: "hc", checkIntervalSec: 5, httpHealthCheck: { port: 80 } }],
        },
        quotas: { "compute.googleapis.com": { perMinute: { list: 1 } } },
      },
      { timeScale: 1 },
    );
    await h.gcp.compute.healthChecks.list({ project: P }, { retry: null, autoPaginate: false });
    // Get requests are another group: not refused.
    await h.gcp.compute.healthChecks.get({ project: P, healthCheck: "hc" }, { retry: null });
    const err = await fail(
      h.gcp.compute.healthChecks.list({ project: P }, { retry: null, autoPaginate: false }),
    );
    expect(classify(err)).toBe("throttled");
    expect(errorFacts(err)).toMatchObject({
      httpStatus: 403,
      status: undefined,
      legacyReasons: ["rateLimitExceeded"],
    });
    expect(errorFacts(err).message).toMatch(
      /^Quota exceeded for quota metric 'List requests' and limit 'List requests per minute' of service 'compute\.googleapis\.com' for consumer 'project_number:\d+'\.$/,
    );
  });

  it("Cloud SQL: 429 with ErrorInfo and the legacy reason, per user and per instance region", async () => {
    const instance = (name: string, region: string) => ({
      project: P,
      name,
      region,
      databaseVersion: "POSTGRES_16",
      settings: { tier: "db-custom-1-3840" },
    });
    h = await startSim(
      {
        sql: { instances: [instance("eu", "europe-west1"), instance("us", "us-central1")] },
        quotas: { "sqladmin.googleapis.com": { perMinute: { get: 1 } } },
        access: {
          identities: { "capstan-sim-token": "user:a@example.com", "other-token": "user:b@example.com" },
        },
      },
      { timeScale: 1 },
    );
    await h.gcp.sql.instances.get({ project: P, instance: "eu" }, { retry: null });
    // Another region, and another user: each its own count.
    await h.gcp.sql.instances.get({ project: P, instance: "us" }, { retry: null });
    const other = createClients({ endpoint: h.endpoint, placeholderToken: "other-token" });
    await other.sql.instances.get({ project: P, instance: "eu" }, { retry: null });
    await other.close();
    const err = await fail(h.gcp.sql.instances.get({ project: P, instance: "eu" }, { retry: null }));
    expect(classify(err)).toBe("throttled");
    expect(errorFacts(err)).toMatchObject({
      httpStatus: 429,
      status: "RESOURCE_EXHAUSTED",
      reason: "RATE_LIMIT_EXCEEDED",
      legacyReasons: ["rateLimitExceeded"],
      metadata: {
        quota_limit: "Get requests per minute per user per region",
        quota_limit_value: "1",
        quota_location: "europe-west1",
      },
    });
  });

  it("Cloud Run: 429 RESOURCE_EXHAUSTED with ErrorInfo naming the region, no legacy errors", async () => {
    h = await startSim(
      { run: { services: [] }, quotas: { "run.googleapis.com": { readPerMinute: 1 } } },
      { timeScale: 1 },
    );
    const parent = `projects/${P}/locations/europe-west1`;
    await h.gcp.run.services.listServices({ parent }, { retry: null, autoPaginate: false });
    await h.gcp.run.services.listServices(
      { parent: `projects/${P}/locations/us-central1` },
      { retry: null, autoPaginate: false },
    );
    const err = await fail(h.gcp.run.services.listServices({ parent }, { retry: null, autoPaginate: false }));
    expect(errorFacts(err)).toMatchObject({
      httpStatus: 429,
      status: "RESOURCE_EXHAUSTED",
      reason: "RATE_LIMIT_EXCEEDED",
      legacyReasons: [],
      metadata: { quota_limit: "Read requests per minute per region", quota_location: "europe-west1" },
    });
  });
});

describe("capstan sim --time-scale", () => {
  it("runs the simulator at the scale given, long option or short", async () => {
    for (const flag of ["--time-scale", "-t"]) {
      const child = spawn(process.execPath, ["src/cli/capstan.ts", "sim", "--port", "0", flag, "250"], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const line = await new Promise<string>((resolve) => {
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d;
          if (out.includes("\n")) resolve(out.split("\n")[0]!);
        });
      });
      child.kill("SIGTERM");
      await new Promise((r) => child.on("close", r));
      expect(line).toMatch(
        /^capstan sim: serving simulated GCP at http:\/\/127\.0\.0\.1:\d+ \(time scale 250\)$/,
      );
    }
  });
});
