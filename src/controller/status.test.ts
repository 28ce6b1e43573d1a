import { describe, expect, it } from "vitest";
import { answer, type StatusSource } from "./http.ts";
import { ControllerMetrics } from "./metrics.ts";
import { type ControllerStatus, renderStatus, setConditions } from "./status.ts";

const T0 = "2026-03-01T12:00:00.000Z";
const T1 = "2026-03-01T12:05:00.000Z";

const STATUS: ControllerStatus = {
  kind: "capstan.dev/run-status/v1",
  now: T1,
  instance: {
    identity: "host-1-42-abc",
    role: "leader",
    lease: {
      url: "gs://capstan-leases/staging/lease",
      state: "leader",
      holder: "host-1-42-abc",
      term: 3,
      renewedAt: T1,
      lost: undefined,
      error: undefined,
    },
  },
  source: {
    type: "git",
    location: "https://example.com/infra.git",
    ref: "main",
    commit: "0123456789abcdef",
    revision: "ffff",
    problems: [],
  },
  ready: true,
  lastPass: {
    id: 4,
    startedAt: T0,
    finishedAt: T0,
    outcome: "partial",
    message: "1 of 2 resource(s) up to date",
    calls: 5,
  },
  passes: 4,
  resources: [
    {
      id: "SqlInstance:projects/p/instances/main-db",
      address: "SqlInstance/main-db",
      kind: "SqlInstance",
      name: "main-db",
      gcpName: "projects/p/instances/main-db",
      specHash: "abcdef0123",
      onDrift: "correct",
      suspended: false,
      conditions: setConditions(
        [],
        {
          ready: true,
          reconciling: false,
          stalled: false,
          reason: "DriftCorrected",
          message: "put back tier",
        },
        T0,
      ),
      lastApplied: { specHash: "abcdef0123", commit: "0123456789abcdef", at: T0 },
      pendingChanges: [],
      lastError: undefined,
      failures: 0,
      nextAttemptAt: undefined,
      driftCount: 1,
      reconcileId: "4.1",
    },
    {
      id: "VpcConnector:projects/p/locations/r/connectors/vpc-main",
      address: "VpcConnector/vpc-main",
      kind: "VpcConnector",
      name: "vpc-main",
      gcpName: "projects/p/locations/r/connectors/vpc-main",
      specHash: "9999999",
      onDrift: "correct",
      suspended: false,
      conditions: setConditions(
        [],
        {
          ready: false,
          reconciling: false,
          stalled: true,
          reason: "ApplyFailed",
          message: "boom; retrying in 5ms",
        },
        T0,
      ),
      lastApplied: undefined,
      pendingChanges: ["maxInstances"],
      lastError: { message: "9 FAILED_PRECONDITION: boom", at: T0 },
      failures: 1,
      nextAttemptAt: undefined,
      driftCount: 0,
      reconcileId: "4.2",
    },
  ],
};

describe("setConditions", () => {
  it("keeps a condition's transition time while its status stays, and moves it when it flips", () => {
    const a = setConditions(
      [],
      { ready: false, reconciling: true, stalled: false, reason: "Progressing", message: "" },
      T0,
    );
    const b = setConditions(
      a,
      { ready: true, reconciling: false, stalled: false, reason: "UpToDate", message: "" },
      T1,
    );
    expect(b.find((c) => c.type === "Ready")).toMatchObject({
      status: "True",
      lastTransitionTime: T1,
      reason: "UpToDate",
    });
    expect(b.find((c) => c.type === "Stalled")).toMatchObject({ status: "False", lastTransitionTime: T0 });
  });
});

describe("renderStatus", () => {
  it("prints the instance, its source commit and one line per resource with its applied hash and commit", () => {
    const text = renderStatus(STATUS);
    const lines = text.split("\n");
    expect(lines[0]).toBe(
      "capstan run leader host-1-42-abc, lease gs://capstan-leases/staging/lease term 3, git https://example.com/infra.git (main) at 0123456",
    );
    expect(lines[1]).toBe("pass 4 partial, 5m ago: 1 of 2 resource(s) up to date");
    expect(lines[3]).toMatch(/^KIND\s+NAME\s+READY\s+STATUS\s+REASON\s+APPLIED\s+COMMIT\s+AGE\s+MESSAGE$/);
    expect(lines[4]).toMatch(
      /^SqlInstance\s+main-db\s+True\s+Current\s+DriftCorrected\s+abcdef0\s+0123456\s+5m\s+put back tier$/,
    );
    expect(lines[5]).toMatch(
      /^VpcConnector\s+vpc-main\s+False\s+Stalled\s+ApplyFailed\s+-\s+-\s+5m\s+9 FAILED_PRECONDITION: boom$/,
    );
  });
});

describe("the status endpoint", () => {
  const source = (ready: boolean): StatusSource => ({
    healthy: () => true,
    ready: () => ready,
    status: () => STATUS,
    metrics: new ControllerMetrics({ processMetrics: false }),
  });

  it("answers /healthz, /readyz by readiness, /status as JSON and /metrics in Prometheus format", async () => {
    expect((await answer(source(false), "GET", "/healthz")).status).toBe(200);
    expect((await answer(source(false), "GET", "/readyz")).status).toBe(503);
    expect((await answer(source(true), "GET", "/readyz")).status).toBe(200);
    const status = await answer(source(true), "GET", "/status");
    expect(status.contentType).toContain("application/json");
    expect(JSON.parse(status.body)).toEqual(JSON.parse(JSON.stringify(STATUS)));
    const metrics = await answer(source(true), "GET", "/metrics?x=1");
    expect(metrics.contentType).toContain("text/plain");
    expect(metrics.body).toContain("# TYPE capstan_passes_total counter");
    expect(metrics.body).toContain("# TYPE capstan_queue_depth gauge");
  });

  it("refuses other methods and paths", async () => {
    expect((await answer(source(true), "POST", "/status")).status).toBe(405);
    expect((await answer(source(true), "GET", "/nope")).status).toBe(404);
  });
});
