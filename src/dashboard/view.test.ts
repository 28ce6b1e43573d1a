import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock/index.ts";
import type { ControllerStatus, ResourceStatus } from "../controller/status.ts";
import { DashboardFeed } from "./feed.ts";
import { renderDashboard } from "./page.ts";
import { buildDashboard } from "./view.ts";

const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
const resource = (
  address: string,
  reason: ResourceStatus["conditions"][number]["reason"],
): ResourceStatus => ({
  id: `${address}:full`,
  address,
  kind: address.split("/")[0]!,
  name: address.split("/")[1]!,
  gcpName: `projects/p/${address}`,
  specHash: "abc",
  onDrift: "correct",
  suspended: false,
  conditions: [
    {
      type: "Ready",
      status: "False",
      reason,
      message: "waits for the controller's overall reconcile rate",
      lastTransitionTime: new Date(clock.now() - 90_000).toISOString(),
    },
  ],
  lastApplied: undefined,
  pendingChanges: [],
  lastError: undefined,
  failures: 0,
  nextAttemptAt: undefined,
  driftCount: 0,
  reconcileId: undefined,
});
const status: ControllerStatus = {
  kind: "capstan.dev/run-status/v1",
  now: new Date(clock.now()).toISOString(),
  instance: {
    identity: "me",
    role: "leader",
    lease: {
      url: "file:///l",
      state: "leader",
      holder: "me",
      term: 1,
      renewedAt: undefined,
      lost: undefined,
      error: undefined,
    },
  },
  source: {
    type: "dir",
    location: "specs",
    ref: undefined,
    commit: undefined,
    revision: undefined,
    problems: [],
  },
  ready: true,
  lastPass: undefined,
  passes: 1,
  resources: [resource("CloudRunService/api", "QuotaWait"), resource("SqlInstance/db", "Progressing")],
};

describe("what the dashboard says waits for quota", () => {
  it("lists resources held back for quota and the API budgets slowed down by 429s, with how long", () => {
    const feed = new DashboardFeed({ clock });
    const budgets = [
      {
        key: "run.googleapis.com:read:europe-west1",
        limit: 1000,
        current: 250,
        calls: 40,
        throttled: 2,
        waitedMs: 12_000,
      },
      {
        key: "sqladmin.googleapis.com:read",
        limit: 3000,
        current: 3000,
        calls: 9,
        throttled: 0,
        waitedMs: 0,
      },
    ];
    const doc = buildDashboard(status, feed, undefined, clock.now(), budgets);
    expect(doc.quota.resources).toEqual([
      {
        address: "CloudRunService/api",
        since: "2026-01-01T11:58:30.000Z",
        elapsedMs: 90_000,
        message: "waits for the controller's overall reconcile rate",
      },
    ]);
    expect(doc.quota.budgets.map((b) => b.key)).toEqual(["run.googleapis.com:read:europe-west1"]);
    const html = renderDashboard(doc, feed, undefined, clock.now());
    expect(html).toContain("<code>CloudRunService/api</code> waits for quota, for 1m 30s");
    expect(html).toContain(
      "API budget <code>run.googleapis.com:read:europe-west1</code>: 250 of 1000 calls a minute after 2 answer(s) of 429; calls have waited 12s in all",
    );
  });
});
