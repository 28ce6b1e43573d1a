import { afterEach, describe, expect, it } from "vitest";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const FIXTURE = {
  secretmanager: {
    secrets: [{ name: "projects/p1/secrets/s1", versions: [{ state: "ENABLED" as const }] }],
  },
};

describe("simulator core", () => {
  let h: SimHarness;
  afterEach(async () => {
    await h.close();
  });

  it("answers calls beyond the per-minute read quota with 429 RESOURCE_EXHAUSTED and ErrorInfo naming the quota", async () => {
    // Real time: at the harness's default 1000× a minute is 60 ms, which a loaded machine
    // can spend between two calls, and the window would pass before the third.
    h = await startSim(
      { ...FIXTURE, quotas: { "secretmanager.googleapis.com": { readPerMinute: 2 } } },
      { timeScale: 1 },
    );
    await h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" });
    await h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" });
    const err = await h.gcp.secretManager
      .getSecret({ name: "projects/p1/secrets/s1" }, { retry: null })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 8,
      reason: "RATE_LIMIT_EXCEEDED",
      errorInfoMetadata: { quota_limit_value: "2", service: "secretmanager.googleapis.com" },
    });
    // A rate quota answer carries no RetryInfo: the quota refills at the next minute.
    const details = (err as { statusDetails?: { retryDelay?: unknown }[] }).statusDetails ?? [];
    expect(details.some((d) => d.retryDelay !== undefined)).toBe(false);
    expect(h.sim.requests().map((r) => r.status)).toEqual([200, 200, 429]);
  });

  it("lets calls through again once the minute window has passed", async () => {
    h = await startSim(
      { ...FIXTURE, quotas: { "secretmanager.googleapis.com": { readPerMinute: 1 } } },
      { timeScale: 60_000 },
    );
    await h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" });
    await h.sim.clock.sleep(61_000);
    await expect(h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" })).resolves.toBeDefined();
  });

  it("fails the next N matching calls with an injected fault, then serves normally", async () => {
    h = await startSim(FIXTURE);
    h.sim.faults.add({
      match: { rpc: "GetSecret" },
      times: 2,
      error: { status: "UNAVAILABLE", message: "boom" },
    });
    const opts = { retry: null } as const;
    await expect(
      h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" }, opts),
    ).rejects.toMatchObject({
      code: 14,
    });
    await expect(
      h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" }, opts),
    ).rejects.toMatchObject({
      code: 14,
    });
    await expect(
      h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" }, opts),
    ).resolves.toBeDefined();
    expect(h.sim.faults.list()).toHaveLength(0);
  });

  it("rejects an unknown field in a request body with 400 INVALID_ARGUMENT naming the field", async () => {
    h = await startSim(FIXTURE);
    const answer = await h.sim.handle(
      "POST",
      "/v1/projects/p1/secrets?secretId=x",
      "Bearer t",
      JSON.stringify({ replication: { automatic: {} }, bogusField: 1 }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toContain('Unknown name \\"bogusField\\"');
  });

  it("encodes enums as numbers when the client asks for enum-encoding=int and as names otherwise", async () => {
    h = await startSim(FIXTURE);
    const path = "/v1/projects/p1/secrets/s1/versions/1";
    const asInt = await h.sim.handle("GET", `${path}?$alt=json%3Benum-encoding=int`, "Bearer t", "");
    const asName = await h.sim.handle("GET", path, "Bearer t", "");
    expect(asInt.body).toMatchObject({ state: 1 });
    expect(asName.body).toMatchObject({ state: "ENABLED" });
  });

  it("answers an unknown path with 404 and logs every API call but not control calls", async () => {
    h = await startSim(FIXTURE);
    const answer = await h.sim.handle("GET", "/v9/nothing/here", "Bearer t", "");
    expect(answer.status).toBe(404);
    await h.sim.handle("GET", "/__sim/state", undefined, "");
    expect(h.sim.requests()).toMatchObject([{ method: "GET", path: "/v9/nothing/here", status: 404 }]);
  });

  it("serves the control API over HTTP: faults, quotas, time and the request log", async () => {
    h = await startSim(FIXTURE);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${h.endpoint}${path}`, {
        method,
        ...(body ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    expect((await call("POST", "/__sim/faults", { match: { rpc: "GetSecret" }, latencyMs: 10 })).status).toBe(
      200,
    );
    expect((await call("GET", "/__sim/faults")).body["faults"]).toHaveLength(1);
    expect(
      (await call("PUT", "/__sim/quotas", { "run.googleapis.com": { writePerMinute: 5 } })).body,
    ).toMatchObject({
      "run.googleapis.com": { writePerMinute: 5 },
    });
    expect((await call("PUT", "/__sim/time", { scale: 50 })).body).toMatchObject({ scale: 50 });
    await h.gcp.secretManager.getSecret({ name: "projects/p1/secrets/s1" });
    const log = await call("GET", "/__sim/requests");
    expect(log.body["requests"]).toMatchObject([
      { rpc: "google.cloud.secretmanager.v1.SecretManagerService.GetSecret" },
    ]);
    const bad = await call("POST", "/__sim/faults", { match: {} });
    expect(bad.status).toBe(400);
    const state = await call("GET", "/__sim/state");
    expect(state.body["secretmanager"]).toMatchObject({ secrets: [{ name: "projects/p1/secrets/s1" }] });
  });
});
