import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { GateHistory, GateHistoryCache } from "../apply/gate-history.ts";
import type { Clock } from "../clock/index.ts";
import type { ExtraRoutes, HttpAnswer } from "../controller/http.ts";
import type { ControllerStatus } from "../controller/status.ts";
import type { BudgetStats } from "../gcp/ratelimit.ts";
import type { DashboardEvent, DashboardFeed } from "./feed.ts";
import { renderDashboard } from "./page.ts";
import { buildDashboard } from "./view.ts";

/** EVENTS_KIND is the version of the `/events` document (schemas/events.schema.json). */
export const EVENTS_KIND = "capstan.dev/events/v1";

/** EventsDoc is the `/events` document: the ring's events after `since`, oldest first. */
export interface EventsDoc {
  readonly kind: typeof EVENTS_KIND;
  /** The newest event's seq: pass it back as `?since=` to get only what follows. */
  readonly latest: number;
  /** How many events the ring keeps. */
  readonly capacity: number;
  readonly events: readonly DashboardEvent[];
}

/** Options of {@link Dashboard}. */
export interface DashboardOptions {
  readonly feed: DashboardFeed;
  /** The controller's status (what `/status` serves). */
  readonly status: () => ControllerStatus;
  /** Where the gate charts' history comes from (cached, within the read budget). */
  readonly history: GateHistoryCache;
  readonly clock: Clock;
  /** The rate limiter's budgets (RateLimiter.stats), to show what waits for API quota. @default none */
  readonly budgets?: (() => readonly BudgetStats[]) | undefined;
  /**
   * Most SSE streams open at once; more are refused with 503 so a runaway client cannot
   * hold the process's memory.
   * @default 32
   */
  readonly maxStreams?: number;
  /**
   * Real milliseconds between keep-alive comments on an idle stream, so proxies do not
   * close it. Real time, not the clock's: it paces a network connection, which a scaled
   * rehearsal does not speed up.
   * @default 15_000
   */
  readonly heartbeatMs?: number;
  /**
   * Bytes a stream may have queued unsent before it is dropped (a client that stopped
   * reading); it reconnects and resumes from its Last-Event-ID.
   * @default 1_048_576
   */
  readonly maxQueuedBytes?: number;
}

/**
 * SECURITY_HEADERS make the pages read-only views that no other site can frame or feed
 * scripts into: scripts only from this origin (uPlot and the dashboard's own, served
 * from node_modules and src/dashboard/assets), no plugins, no referrer to the console.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const require = createRequire(import.meta.url);

/** ASSETS are the files the page loads, from this folder and from node_modules (no CDN). */
const ASSETS: Readonly<Record<string, { readonly file: () => string; readonly type: string }>> = {
  "/assets/dashboard.js": {
    file: () => new URL("./assets/dashboard.js", import.meta.url).pathname,
    type: "text/javascript; charset=utf-8",
  },
  "/assets/uplot.js": {
    file: () => require.resolve("uplot/dist/uPlot.iife.min.js"),
    type: "text/javascript; charset=utf-8",
  },
  "/assets/uplot.css": {
    file: () => require.resolve("uplot/dist/uPlot.min.css"),
    type: "text/css; charset=utf-8",
  },
};

const JSON_TYPE = "application/json; charset=utf-8";

/**
 * Dashboard serves the web views of `capstan run` beside /status on the same port:
 * `/` the page, `/api/dashboard` its data as JSON, `/events` the recent-events ring as
 * JSON and `/events/stream` the same as Server-Sent Events, live. Everything is
 * read-only: only GET and HEAD are answered.
 */
export class Dashboard implements ExtraRoutes {
  readonly #o: DashboardOptions;
  readonly #maxStreams: number;
  readonly #heartbeatMs: number;
  readonly #maxQueued: number;
  readonly #streams = new Set<ServerResponse>();
  readonly #assets = new Map<string, string>();

  constructor(options: DashboardOptions) {
    this.#o = options;
    this.#maxStreams = options.maxStreams ?? 32;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxQueued = options.maxQueuedBytes ?? 1_048_576;
    for (const [name, v, min] of [
      ["maxStreams", this.#maxStreams, 1],
      ["heartbeatMs", this.#heartbeatMs, 1],
      ["maxQueuedBytes", this.#maxQueued, 1],
    ] as const) {
      if (!Number.isFinite(v) || v < min)
        throw new TypeError(`Expected \`${name}\` to be a finite number >= ${min}, got \`${v}\``);
    }
  }

  async #history(): Promise<GateHistory | undefined> {
    const targets = this.#o.feed.plan?.targets ?? [];
    return targets.length ? this.#o.history.get(targets) : undefined;
  }

  /** answer serves the dashboard's plain routes; undefined for a path it does not serve. */
  async answer(method: string, url: string): Promise<HttpAnswer | undefined> {
    if (method !== "GET" && method !== "HEAD") return undefined;
    const u = new URL(url, "http://capstan");
    const now = this.#o.clock.now();
    switch (u.pathname) {
      case "/":
      case "/index.html": {
        const history = await this.#history();
        const doc = buildDashboard(this.#o.status(), this.#o.feed, history, now, this.#o.budgets?.());
        return {
          status: 200,
          contentType: "text/html; charset=utf-8",
          headers: SECURITY_HEADERS,
          body: renderDashboard(doc, this.#o.feed, history, now),
        };
      }
      case "/api/dashboard": {
        const doc = buildDashboard(
          this.#o.status(),
          this.#o.feed,
          await this.#history(),
          now,
          this.#o.budgets?.(),
        );
        return {
          status: 200,
          contentType: JSON_TYPE,
          headers: SECURITY_HEADERS,
          body: `${JSON.stringify(doc)}\n`,
        };
      }
      case "/events": {
        const since = Number(u.searchParams.get("since") ?? 0);
        if (!Number.isInteger(since) || since < 0) {
          return {
            status: 400,
            contentType: "text/plain; charset=utf-8",
            body: `since must be an event seq (an integer >= 0), got \`${u.searchParams.get("since")}\`\n`,
          };
        }
        const doc: EventsDoc = {
          kind: EVENTS_KIND,
          latest: this.#o.feed.latestSeq,
          capacity: this.#o.feed.capacity,
          events: this.#o.feed.events(since),
        };
        return {
          status: 200,
          contentType: JSON_TYPE,
          headers: SECURITY_HEADERS,
          body: `${JSON.stringify(doc)}\n`,
        };
      }
    }
    const asset = ASSETS[u.pathname];
    if (!asset) return undefined;
    let body = this.#assets.get(u.pathname);
    if (!body) {
      body = await readFile(asset.file(), "utf8");
      this.#assets.set(u.pathname, body);
    }
    return {
      status: 200,
      contentType: asset.type,
      headers: { "x-content-type-options": "nosniff", "cache-control": "public, max-age=3600" },
      body,
    };
  }

  /**
   * stream serves `/events/stream` (Server-Sent Events, https://html.spec.whatwg.org/multipage/server-sent-events.html):
   * the ring's events after the client's `Last-Event-ID` (or `?since=`) first, then each
   * new event as `event: event` with its seq as id, and `event: state` whenever the rollout
   * moves without a new event (a step's wait, a gate sample). Returns false for any other path.
   */
  stream(req: IncomingMessage, res: ServerResponse): boolean {
    const u = new URL(req.url ?? "/", "http://capstan");
    if (u.pathname !== "/events/stream" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    if (this.#streams.size >= this.#maxStreams) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "5" });
      res.end(`too many open dashboard streams (${this.#maxStreams}); try again shortly\n`);
      return true;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store, no-transform",
      connection: "keep-alive",
      "x-content-type-options": "nosniff",
      // nginx and Cloud Run's front end: do not buffer the stream.
      "x-accel-buffering": "no",
    });
    if (req.method === "HEAD") {
      res.end();
      return true;
    }
    this.#streams.add(res);
    const feed = this.#o.feed;
    const lastId = Number(req.headers["last-event-id"] ?? u.searchParams.get("since") ?? Number.NaN);
    const send = (text: string) => {
      if (res.writableLength > this.#maxQueued) {
        res.destroy();
        return;
      }
      res.write(text);
    };
    const sendEvent = (e: DashboardEvent) =>
      send(`id: ${e.seq}\nevent: event\ndata: ${JSON.stringify(e)}\n\n`);
    send("retry: 2000\n\n");
    if (Number.isInteger(lastId) && lastId >= 0) for (const e of feed.events(lastId)) sendEvent(e);
    send(`event: state\ndata: {"latest":${feed.latestSeq}}\n\n`);
    const unsubscribe = feed.subscribe((change) => {
      if (change.event) sendEvent(change.event);
      else send(`event: state\ndata: {"latest":${feed.latestSeq}}\n\n`);
    });
    const heartbeat = setInterval(() => send(": keep-alive\n\n"), this.#heartbeatMs);
    heartbeat.unref();
    const cleanup = () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.#streams.delete(res);
    };
    res.on("close", cleanup);
    return true;
  }

  /** close ends every open stream (the server is stopping). */
  close(): void {
    for (const res of this.#streams) res.end();
    this.#streams.clear();
  }
}
