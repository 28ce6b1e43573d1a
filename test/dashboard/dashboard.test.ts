import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GateHistoryCache } from "../../src/apply/gate-history.ts";
import { StatusServer } from "../../src/controller/http.ts";
import { Dashboard, DashboardFeed } from "../../src/dashboard/index.ts";
import { renderDashboard } from "../../src/dashboard/page.ts";
import { buildDashboard, type DashboardDoc } from "../../src/dashboard/view.ts";
import { gcpAccess } from "../../src/gcp/access.ts";
import { GcpCaller } from "../../src/gcp/call.ts";
import { RateLimiter } from "../../src/gcp/ratelimit.ts";
import { RECONCILERS } from "../../src/reconcilers/index.ts";
import { type Fixture, loadFixture } from "../../src/sim/index.ts";
import { compileSchema } from "../../src/spec/validate.ts";
import { controllerFor, type RunningController, tempDir } from "../controller/harness.ts";
import { type SimHarness, startSim } from "../helpers/sim.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** A literal someone pasted into the live service's env where the spec names a Secret Manager secret. */
const PASTED_SECRET = "hunter2-pasted-in-the-console";

const schema = (file: string) => compileSchema(JSON.parse(readFileSync(join(ROOT, "schemas", file), "utf8")));
const validateDashboard = schema("dashboard.schema.json");
const validateEvents = schema("events.schema.json");

function expectValid(validate: ReturnType<typeof compileSchema>, doc: unknown): void {
  const ok = validate(doc);
  expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
  expect(ok).toBe(true);
}

/** The degraded staging fixture, with DB_PASSWORD pasted into the live service as a literal. */
async function fixture(): Promise<Fixture> {
  const f = structuredClone(await loadFixture(join(ROOT, "fixtures/staging-degraded.yaml"))) as {
    run: { services: { template: { containers: { env: { name: string; value?: string }[] }[] } }[] };
  };
  const env = f.run.services[0]!.template.containers[0]!.env;
  const i = env.findIndex((e) => e.name === "DB_PASSWORD");
  env[i] = { name: "DB_PASSWORD", value: PASTED_SECRET };
  return f as unknown as Fixture;
}

/** An SSE client on a real connection: the raw text it has received so far. */
function sse(url: string, headers: Record<string, string> = {}) {
  const abort = new AbortController();
  let text = "";
  const done = fetch(url, { headers, signal: abort.signal })
    .then(async (res) => {
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
      }
    })
    .catch(() => {});
  return {
    text: () => text,
    ids: () => [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])),
    async close() {
      abort.abort();
      await done;
    },
  };
}

describe("the dashboard of capstan run (in-process, on the simulator)", () => {
  let h: SimHarness;
  let c: RunningController;
  let server: StatusServer;
  let base: string;
  let cleanup: () => Promise<void>;
  let feed: DashboardFeed;
  const running: DashboardDoc[] = [];
  const runningPages: string[] = [];

  beforeAll(async () => {
    h = await startSim(await fixture(), { timeScale: 1000 });
    const t = await tempDir("capstan-dashboard-");
    cleanup = t.remove;
    const clock = h.sim.clock;
    feed = new DashboardFeed({ clock });
    c = controllerFor(h, {
      specsDir: join(ROOT, "specs/staging"),
      stateDir: t.dir,
      reconcilers: RECONCILERS,
      observer: feed.observer,
    });
    // What the page sees while the rollout runs: taken at each step's start, exactly.
    feed.subscribe((change) => {
      if (change.event?.type === "step" && change.event.message.includes("started")) {
        const doc = buildDashboard(c.controller.status(), feed, undefined, clock.now());
        running.push(doc);
        runningPages.push(renderDashboard(doc, feed, undefined, clock.now()));
      }
    });
    const limiter = new RateLimiter({ clock });
    const gcp = gcpAccess(h.gcp, new GcpCaller({ clock, limiter }));
    const dashboard = new Dashboard({
      feed,
      status: () => c.controller.status(),
      history: new GateHistoryCache({ gcp, clock }),
      clock,
      budgets: () => limiter.stats(),
    });
    server = new StatusServer({ source: c.controller, port: 0, host: "127.0.0.1", routes: dashboard });
    base = `http://127.0.0.1:${await server.listen()}`;
  });
  afterAll(async () => {
    await server?.close();
    await c?.controller.stop();
    await h?.close();
    await cleanup?.();
  });

  it("follows a rollout live over SSE, serves JSON that follows its schemas, and shows no secret value", async () => {
    const stream = sse(`${base}/events/stream`);
    expect(await c.controller.settleLease()).toBe(true);
    const summary = await c.controller.pass();
    expect(summary.outcome).not.toBe("failed");

    // While it ran: step i of n, what it waited for, the steps before done.
    expect(running.length).toBeGreaterThanOrEqual(3);
    for (const [i, doc] of running.entries()) {
      expectValid(validateDashboard, JSON.parse(JSON.stringify(doc)));
      const r = doc.rollouts[0]!;
      expect(r.state).toBe("running");
      expect(r.steps.slice(0, r.step - 1).every((s) => s.state === "done")).toBe(true);
      expect(r.steps[r.step - 1]!.state).toBe("running");
      if (i > 0) expect(r.step).toBeGreaterThan(running[i - 1]!.rollouts[0]!.step);
    }

    const doc = (await (await fetch(`${base}/api/dashboard`)).json()) as DashboardDoc;
    expectValid(validateDashboard, doc);
    const policy = doc.groups.find((g) => g.policy === "CapacityPolicy/backend-capacity")!;
    expect(policy.resources.map((r) => r.address).sort()).toEqual([
      "CloudRunService/backend",
      "SqlInstance/staging-db",
      "VpcConnector/staging-egress",
    ]);
    expect(policy.invariants.map((i) => i.id)).toContain("db-connections");
    const rollout = doc.rollouts.find((r) => r.steps.length === 4)!;
    expect(rollout.steps.map((s) => s.state)).toEqual(["done", "done", "done", "done"]);
    for (const s of rollout.steps) {
      expect(Date.parse(s.endedAt!)).toBeGreaterThan(Date.parse(s.startedAt!));
      expect(s.waits.map((w) => w.kind)).toContain("operation");
      expect(s.waits.map((w) => w.kind)).toContain("settle");
    }
    const sql = policy.resources.find((r) => r.kind === "SqlInstance")!;
    expect(sql.consoleUrl).toBe(
      "https://console.cloud.google.com/sql/instances/staging-db/overview?project=acme-staging",
    );
    expect(doc.gates.series.length).toBe(4);
    for (const s of doc.gates.series) expect(s.points.length).toBeGreaterThan(10);

    const events = (await (await fetch(`${base}/events`)).json()) as {
      latest: number;
      events: { seq: number; type: string }[];
    };
    expectValid(validateEvents, events);
    const types = events.events.map((e) => e.type);
    for (const t of ["lease", "step", "applied", "rollout", "pass"]) expect(types).toContain(t);
    // Every event reached the SSE client, in order, with its seq as id.
    await expect.poll(() => stream.ids().at(-1)).toBe(events.latest);
    expect(stream.ids()).toEqual(events.events.map((e) => e.seq));
    expect(stream.text()).toContain("event: state");

    // Nothing served shows the pasted value; the Secret Manager reference shows its name.
    const pages = await Promise.all(
      ["/", "/api/dashboard", "/events", "/status"].map(async (p) => (await fetch(`${base}${p}`)).text()),
    );
    for (const text of [...pages, ...runningPages, stream.text()]) expect(text).not.toContain(PASTED_SECRET);
    // While the change was pending, the page showed it: the secret by name and version.
    expect(runningPages[0]).toContain(
      "DB_PASSWORD].secret.name</code>: <code>(unset)</code> → <code>&quot;projects/acme-staging/secrets/db-password&quot;</code>",
    );
    await stream.close();
  });

  it("reports drift in the events, and a stream resumes after its Last-Event-ID", async () => {
    // Until every resource has been applied once, a live difference is not drift.
    for (let i = 0; i < 3 && c.controller.status().resources.some((r) => !r.lastApplied); i++) {
      await c.controller.pass();
    }
    expect(
      c.controller
        .status()
        .resources.filter((r) => !r.lastApplied)
        .map((r) => r.address),
    ).toEqual([]);
    h.sim.edit("compute", {
      kind: "backendService",
      name: "projects/acme-staging/global/backendServices/backend-bs",
      patch: { logConfig: { enable: true, sampleRate: 0.1 } },
    });
    await c.controller.pass();
    const { events, latest } = (await (await fetch(`${base}/events?since=${feed.latestSeq - 5}`)).json()) as {
      latest: number;
      events: { seq: number; type: string; address?: string }[];
    };
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5].map((i) => latest - 5 + i));
    const all = feed.events();
    expect(all.some((e) => e.type === "drift" && e.address === "BackendService/backend-bs")).toBe(true);
    const resumed = sse(`${base}/events/stream`, { "last-event-id": String(latest - 3) });
    await expect.poll(() => resumed.ids()).toEqual([latest - 2, latest - 1, latest]);
    await resumed.close();
  });

  it("is read-only and loads its scripts from this origin only", async () => {
    expect((await fetch(`${base}/`, { method: "POST" })).status).toBe(405);
    const page = await fetch(`${base}/`);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const uplot = await fetch(`${base}/assets/uplot.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.headers.get("content-type")).toContain("javascript");
    expect(await uplot.text()).toContain("uPlot");
    expect((await fetch(`${base}/assets/dashboard.js`)).status).toBe(200);
    expect((await fetch(`${base}/events?since=x`)).status).toBe(400);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });
});
