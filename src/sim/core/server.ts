import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ScaledClock } from "../../clock/index.ts";
import { permissionForRpc } from "../../gcp/permissions.ts";
import { Access, type AccessFixture } from "./access.ts";
import { Encoded, encode, fieldByJsonName, rejectUnknownFields, setField } from "./codec.ts";
import { SimError } from "./errors.ts";
import { type FaultInput, type FaultRule, Faults } from "./faults.ts";
import {
  consumerInvalid,
  type FaultCall,
  faultError,
  permissionDenied,
  serviceDisabled,
  throttled,
  unauthenticated,
} from "./gcp-errors.ts";
import { type CompiledRoute, compileRule } from "./protos.ts";
import { type QuotaLimit, Quotas } from "./quotas.ts";
import type {
  EditRequest,
  HttpAnswer,
  HttpRoute,
  JsonObject,
  SimContext,
  SimRequest,
  SimService,
  SimServiceFactory,
} from "./types.ts";

/** RequestLogEntry is one API call as the simulator saw it. Control-API calls are not logged. */
export interface RequestLogEntry {
  /** Sequence number, from 1. */
  readonly seq: number;
  /** Simulated time, epoch ms. */
  readonly time: number;
  readonly method: string;
  /** Path without the query string. */
  readonly path: string;
  /** The query string, without `$alt` and `$prettyPrint`. */
  readonly query: string;
  readonly api: string;
  readonly rpc: string;
  readonly status: number;
  readonly write: boolean;
  /**
   * Who called, as GCP's audit logs name a principal: the simulator does not check
   * tokens, so the bearer token capstan sends a custom endpoint (`capstan-sim-token`,
   * or one naming the instance) is the caller. Any other token is shown only as a
   * hash prefix, never in full.
   */
  readonly principal?: string | undefined;
  readonly location?: string | undefined;
  /** The request body as received, for writes. */
  readonly body?: JsonObject | undefined;
  /** The response body, when the simulator was made with `captureResponses` (golden logs). */
  readonly response?: unknown;
}

/** Fixture is the simulator's state file: one section per service plus settings. */
export interface Fixture {
  /** Clock-time multiplier. @default 1 */
  readonly timeScale?: number;
  /** Quota overrides by API name. */
  readonly quotas?: Record<string, QuotaLimit>;
  /** Operation durations in seconds by operation type, e.g. `sql.restart: 180`. */
  readonly durations?: Record<string, number>;
  /** Identities, projects, enabled APIs and IAM grants (see AccessFixture); absent: everything open. */
  readonly access?: AccessFixture;
  readonly [service: string]: unknown;
}

/** Options of {@link Simulator}. */
export interface SimulatorOptions {
  /** The services to serve. */
  readonly services: readonly SimServiceFactory[];
  /** Initial state. */
  readonly fixture?: Fixture;
  /**
   * Clock-time multiplier; overrides the fixture's.
   * @default fixture.timeScale ?? 1
   */
  readonly timeScale?: number;
  /**
   * Keep at most this many request log entries (oldest dropped).
   * @default 100000
   */
  readonly requestLogLimit?: number;
  /**
   * Keep response bodies in the request log, for golden HTTP logs. Off by default so a
   * long-running simulator's log stays small.
   * @default false
   */
  readonly captureResponses?: boolean;
}

/**
 * StateChange is a moment the simulator's state may have changed: an API write was
 * served (`write`), a scheduled event ran (`event`: an operation finished, a revision
 * became ready) or an out-of-band edit was made (`edit`). Observers (the chaos suite's
 * oracle) read the state at each one, so no intermediate state goes unseen.
 */
export interface StateChange {
  readonly cause: "write" | "event" | "edit";
  /** Simulated time, epoch ms. */
  readonly time: number;
  /** The RPC full name of a write. */
  readonly rpc?: string | undefined;
}

export type { HttpAnswer } from "./types.ts";

const SETTINGS_KEYS = new Set(["timeScale", "quotas", "durations", "access"]);

/**
 * Simulator serves simulated GCP APIs over HTTP, in the REST shapes the Google client
 * libraries speak, plus a control API under `/__sim/`. It can also be called in-process
 * through {@link Simulator.handle}.
 */
export class Simulator {
  readonly clock: ScaledClock;
  readonly faults = new Faults();
  readonly quotas = new Quotas();
  /** Who may call what (the fixture's `access:` section). */
  readonly access = new Access();
  readonly context: SimContext;
  readonly #services: SimService[];
  readonly #routes: { route: CompiledRoute; service: SimService }[] = [];
  #events: { at: number; seq: number; fn: () => void }[] = [];
  #eventSeq = 0;
  #ids = new Map<string, number>();
  #durations: Record<string, number> = {};
  #log: RequestLogEntry[] = [];
  #logSeq = 0;
  readonly #logLimit: number;
  readonly #captureResponses: boolean;
  #server: Server | undefined;
  #observers: ((change: StateChange) => void)[] = [];

  constructor(options: SimulatorOptions) {
    const scale = options.timeScale ?? options.fixture?.timeScale ?? 1;
    this.clock = new ScaledClock({ scale });
    this.#logLimit = options.requestLogLimit ?? 100_000;
    this.#captureResponses = options.captureResponses ?? false;
    this.context = {
      clock: this.clock,
      now: () => this.clock.now(),
      nowIso: () => new Date(this.clock.now()).toISOString(),
      at: (at, fn) => this.#schedule(at, fn),
      after: (seconds, fn) => this.#schedule(this.clock.now() + seconds * 1000, fn),
      nextId: (prefix) => {
        const n = (this.#ids.get(prefix) ?? 0) + 1;
        this.#ids.set(prefix, n);
        return `${prefix}${n.toString(16).padStart(8, "0")}`;
      },
      durationOf: (type, fallback) => this.#durations[type] ?? fallback,
      access: this.access,
    };
    this.#services = options.services.map((f) => f(this.context));
    for (const service of this.#services) {
      for (const rpc of service.rpcs) {
        for (const rule of rpc.rules) this.#routes.push({ route: compileRule(rule, rpc), service });
      }
    }
    this.load(options.fixture ?? {});
    // The option wins over the fixture's `timeScale`, which load() has just applied.
    if (options.timeScale !== undefined) this.clock.setScale(options.timeScale);
  }

  /** load replaces all state and settings with a fixture's. */
  load(fixture: Fixture): void {
    this.#events = [];
    this.#durations = { ...(fixture.durations ?? {}) };
    if (fixture.quotas) this.quotas.set(fixture.quotas);
    if (fixture.timeScale !== undefined) this.clock.setScale(fixture.timeScale);
    this.access.load(fixture.access);
    const known = new Set(this.#services.map((s) => s.key));
    for (const key of Object.keys(fixture)) {
      if (!SETTINGS_KEYS.has(key) && !known.has(key)) {
        throw new TypeError(
          `Unknown fixture section \`${key}\`; expected one of ${[...known, ...SETTINGS_KEYS].join(", ")}`,
        );
      }
    }
    for (const service of this.#services) service.load(fixture[service.key] as JsonObject | undefined);
  }

  /** dump returns the current state in fixture form. */
  dump(): Fixture {
    this.tick();
    const out: Record<string, unknown> = { timeScale: this.clock.scale, durations: this.#durations };
    const access = this.access.dump();
    if (Object.keys(access).length > 0) out["access"] = access;
    for (const s of this.#services) out[s.key] = s.dump();
    return out;
  }

  /** service returns a served service by key, for tests that inspect state directly. */
  service<T extends SimService = SimService>(key: string): T {
    const s = this.#services.find((x) => x.key === key);
    if (!s) throw new TypeError(`no simulated service \`${key}\``);
    return s as T;
  }

  /** requests returns the request log entries after sequence number `since`. */
  requests(since = 0): readonly RequestLogEntry[] {
    return since === 0 ? [...this.#log] : this.#log.filter((e) => e.seq > since);
  }

  /** clearRequests empties the request log. */
  clearRequests(): void {
    this.#log = [];
  }

  /** edit applies an out-of-band change to a resource of the named service. */
  edit(serviceKey: string, req: EditRequest): JsonObject {
    this.tick();
    const s = this.service(serviceKey);
    if (!s.edit) throw new TypeError(`service \`${serviceKey}\` does not support out-of-band edits`);
    const out = s.edit(req);
    this.#changed({ cause: "edit", time: this.clock.now() });
    return out;
  }

  /**
   * observe calls `listener` after every accepted write, every simulated event and every
   * out-of-band edit, synchronously, before anything else can change the state; it
   * returns a function that stops the calls. A listener reads state (`service(key).dump()`)
   * and must neither throw nor change it.
   */
  observe(listener: (change: StateChange) => void): () => void {
    this.#observers.push(listener);
    return () => {
      this.#observers = this.#observers.filter((l) => l !== listener);
    };
  }

  #changed(change: StateChange): void {
    for (const l of this.#observers) l(change);
  }

  /** tick runs every simulated event whose time has come, in time order. */
  tick(): void {
    const now = this.clock.now();
    for (;;) {
      const next = this.#events[0];
      if (!next || next.at > now) return;
      this.#events.shift();
      next.fn();
      this.#changed({ cause: "event", time: next.at });
    }
  }

  #schedule(at: number, fn: () => void): void {
    const ev = { at, seq: ++this.#eventSeq, fn };
    let i = this.#events.length;
    while (
      i > 0 &&
      (this.#events[i - 1]!.at > at || (this.#events[i - 1]!.at === at && this.#events[i - 1]!.seq > ev.seq))
    )
      i--;
    this.#events.splice(i, 0, ev);
  }

  /** listen serves on loopback; port 0 picks a free one. Returns the endpoint URL. */
  async listen(port = 0, host = "127.0.0.1"): Promise<string> {
    const server = createServer((req, res) => {
      void this.#serveNode(req, res);
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.#server = server;
    const addr = server.address() as AddressInfo;
    return `http://${host}:${addr.port}`;
  }

  /** close stops serving. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #serveNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    const answer = await this.handle(
      req.method ?? "GET",
      req.url ?? "/",
      req.headers.authorization,
      Buffer.concat(chunks).toString("utf8"),
      headers,
    );
    const text = answer.text ?? JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      "content-type": answer.contentType ?? "application/json; charset=UTF-8",
      "content-length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  /**
   * handle serves one HTTP request in-process. `url` is a path with query string;
   * `authorization` is the Authorization header; `headers` the others (lower-cased).
   */
  async handle(
    method: string,
    url: string,
    authorization: string | undefined,
    bodyText: string,
    headers: Readonly<Record<string, string | undefined>> = {},
  ): Promise<HttpAnswer> {
    const u = new URL(url, "http://sim");
    if (u.pathname.startsWith("/__sim/")) return this.#control(method, u, bodyText);
    if (u.pathname === TOKENINFO_PATH) return this.#tokenInfo(authorization, bodyText);
    this.tick();
    const http = this.#matchHttp(method, u.pathname);
    const matched = http ? undefined : this.#match(method, u.pathname);
    const owner = http?.service ?? matched?.service;
    const api = owner?.api ?? "unknown";
    const rpcName = http?.route.rpc ?? matched?.route.rpc.fullName ?? "unknown";
    const location = /\/(?:locations|regions|zones)\/([^/]+)/.exec(u.pathname)?.[1];
    const write = http ? http.route.write : method !== "GET";
    const principal = principalOf(authorization);
    let body: JsonObject | undefined;
    const answer = await (async (): Promise<HttpAnswer> => {
      try {
        // Auth is checked first, as GCP's front end does: a request without a token
        // never reaches the API (https://cloud.google.com/docs/authentication/rest).
        if (!principal) throw unauthenticated(api, rpcName, "CREDENTIALS_MISSING");
        if (!matched && !http) {
          throw new SimError(`The requested URL ${u.pathname} was not found on this server.`, {
            status: "NOT_FOUND",
          });
        }
        const contentType = headers["content-type"] ?? "";
        if (http && bodyText && /json/.test(contentType)) body = parseJson(bodyText);
        else if (!http) body = bodyText ? parseJson(bodyText) : undefined;
        const request = matched ? this.#decode(matched.route, u, body) : {};
        // The IAM principal of the token (the fixture's `access.identities`).
        const caller = this.access.principal(/^Bearer (\S+)/.exec(authorization ?? "")?.[1]);
        const projectRef = /\/projects\/([^/:]+)/.exec(u.pathname)?.[1];
        // The front end checks the consumer project and that the API is enabled in it,
        // then quota; the API itself checks IAM. Resource Manager and Service Usage are
        // about the project itself: they answer for a missing one themselves.
        const denial =
          !matched || matched.service.checksProjects
            ? undefined
            : this.access.check(api, rpcName, projectRef, caller);
        if (denial?.kind === "CONSUMER_INVALID") throw consumerInvalid(api, denial.project);
        if (denial?.kind === "SERVICE_DISABLED") throw serviceDisabled(api, denial.project.number);
        const project = projectRef === undefined ? undefined : this.access.project(projectRef);
        const quotaCall = {
          api,
          rpc: rpcName,
          write,
          project: project?.id,
          // Cloud SQL counts a call in its instance's region, which its path does not name.
          location: matched?.service.quotaLocation?.(rpcName, request) ?? location,
          user: caller,
        };
        const quota = this.quotas.check(quotaCall, this.clock.now());
        if (!quota.ok) {
          throw throttled(api, {
            category: quota.category,
            limit: quota.limit,
            location: quota.location,
            projectNumber: project?.number ?? "0",
          });
        }
        const resource = resourceOf(u.pathname);
        if (denial?.kind === "IAM_PERMISSION_DENIED")
          throw permissionDenied(api, denial.permission, resource);
        const call = { api, method, rpc: rpcName, path: u.pathname, principal };
        const slow = this.faults.take("latencyMs", call);
        if (slow?.latencyMs) await this.clock.sleep(slow.latencyMs);
        const failing = this.faults.take("error", call);
        if (failing?.error?.type) {
          const faultCall: FaultCall = {
            api,
            rpc: rpcName,
            resource,
            project: project?.id ?? projectRef ?? "unknown",
            projectNumber: project?.number ?? "0",
            permission: permissionForRpc(api, rpcName),
            location: quotaCall.location,
            quota: this.quotas.describe(quotaCall),
          };
          throw faultError(failing.error.type, faultCall, {
            ...(failing.error.permission ? { permission: failing.error.permission } : {}),
            ...(failing.error.message ? { message: failing.error.message } : {}),
          });
        }
        if (failing?.error) {
          throw new SimError(failing.error.message ?? `Injected fault ${failing.id}`, {
            status: failing.error.status ?? "INTERNAL",
            ...(failing.error.httpCode ? { httpCode: failing.error.httpCode } : {}),
            ...(failing.error.reason ? { reason: failing.error.reason } : {}),
          });
        }
        if (http) {
          const answer = await http.route.serve({
            method,
            path: u.pathname,
            query: u.searchParams,
            headers,
            body: bodyText,
            ctx: this.context,
          });
          if (write && answer.status < 300)
            this.#changed({ cause: "write", time: this.clock.now(), rpc: rpcName });
          return answer;
        }
        const { route, service } = matched!;
        const handler = service.handlers[route.rpc.fullName];
        if (!handler) {
          throw new SimError(`Method ${route.rpc.fullName} is not implemented by the simulator.`, {
            status: "UNIMPLEMENTED",
          });
        }
        const simReq: SimRequest = {
          rpc: route.rpc.fullName,
          body: request,
          method,
          path: u.pathname,
          location,
          ctx: this.context,
          caller,
          takeOperationFault: (): FaultRule | undefined => this.faults.take("failOperation", call),
        };
        const result = await handler(simReq);
        if (write) this.#changed({ cause: "write", time: this.clock.now(), rpc: route.rpc.fullName });
        this.tick();
        const alt = u.searchParams.get("$alt") ?? "";
        return {
          status: 200,
          body:
            result instanceof Encoded
              ? result.render(alt.includes("enum-encoding=int"))
              : encode(route.rpc.responseType, result, alt.includes("enum-encoding=int")),
        };
      } catch (err) {
        if (err instanceof SimError) {
          return owner?.renderError ? owner.renderError(err) : { status: err.httpCode, body: err.toJSON() };
        }
        const message = err instanceof Error ? err.message : String(err);
        return {
          status: 500,
          body: new SimError(`Internal simulator error: ${message}`, { status: "INTERNAL" }).toJSON(),
        };
      }
    })();
    this.#record({
      method,
      path: u.pathname,
      query: stripSystemParams(u.searchParams),
      api,
      rpc: rpcName,
      status: answer.status,
      write,
      principal,
      location,
      body: write ? body : undefined,
      ...(this.#captureResponses ? { response: answer.body } : {}),
    });
    return answer;
  }

  /**
   * #tokenInfo answers `POST /tokeninfo` as https://oauth2.googleapis.com/tokeninfo does
   * (what google-auth-library's OAuth2Client.getTokenInfo calls): who the bearer token
   * belongs to, or 400 `invalid_token`.
   */
  #tokenInfo(authorization: string | undefined, bodyText: string): HttpAnswer {
    const token =
      /^Bearer (\S+)/.exec(authorization ?? "")?.[1] ?? new URLSearchParams(bodyText).get("access_token");
    if (!token) return { status: 400, body: { error: "invalid_token", error_description: "Invalid Value" } };
    const principal = this.access.principal(token);
    const email = principal.slice(principal.indexOf(":") + 1);
    return {
      status: 200,
      body: {
        azp: "capstan-sim",
        aud: "capstan-sim",
        sub: email,
        scope:
          "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid",
        exp: String(Math.floor(this.clock.now() / 1000) + 3599),
        expires_in: "3599",
        email,
        email_verified: "true",
        access_type: "online",
      },
    };
  }

  #record(e: Omit<RequestLogEntry, "seq" | "time">): void {
    this.#log.push({ seq: ++this.#logSeq, time: this.clock.now(), ...e });
    if (this.#log.length > this.#logLimit) this.#log.splice(0, this.#log.length - this.#logLimit);
  }

  #matchHttp(method: string, path: string): { route: HttpRoute; service: SimService } | undefined {
    for (const service of this.#services) {
      const route = service.route?.(method, path);
      if (route) return { route, service };
    }
    return undefined;
  }

  #match(method: string, path: string): { route: CompiledRoute; service: SimService } | undefined {
    for (const r of this.#routes) {
      if (r.route.method === method && r.route.regex.test(path)) return r;
    }
    return undefined;
  }

  #decode(route: CompiledRoute, u: URL, body: JsonObject | undefined): JsonObject {
    const type = route.rpc.requestType;
    const request: JsonObject = {};
    // Path parameters are written into the request message; keep the logged body as sent.
    body = body === undefined ? undefined : structuredClone(body);
    if (body !== undefined) {
      if (route.body === "*") {
        rejectUnknownFields(type, body, "");
        Object.assign(request, body);
      } else if (route.body) {
        const field = fieldByJsonName(type, route.body);
        field?.resolve();
        const t = field?.resolvedType;
        const key = field?.name ?? route.body;
        if (t && "fieldsArray" in t) rejectUnknownFields(t, body, key);
        request[key] = body;
      }
    }
    const m = route.regex.exec(u.pathname)!;
    route.fields.forEach((f, i) => {
      setField(type, request, f, decodeURIComponent(m[i + 1]!), false);
    });
    const seen = new Set<string>();
    for (const [k, v] of u.searchParams) {
      if (k.startsWith("$") || k === "alt" || k === "prettyPrint" || k === "key" || k === "fields") continue;
      setField(type, request, k, v, seen.has(k));
      seen.add(k);
    }
    return request;
  }

  async #control(method: string, u: URL, bodyText: string): Promise<HttpAnswer> {
    try {
      const body = bodyText ? (parseJson(bodyText) as JsonObject) : {};
      const route = `${method} ${u.pathname}`;
      switch (route) {
        case "GET /__sim/state":
          return { status: 200, body: this.dump() };
        case "PUT /__sim/state":
          this.load(body as Fixture);
          return { status: 200, body: { ok: true } };
        case "GET /__sim/faults":
          return { status: 200, body: { faults: this.faults.list() } };
        case "POST /__sim/faults":
          return { status: 200, body: this.faults.add(body as FaultInput) };
        case "DELETE /__sim/faults":
          this.faults.clear();
          return { status: 200, body: { ok: true } };
        case "POST /__sim/edit": {
          const { service, ...req } = body as EditRequest & { service: string };
          return { status: 200, body: this.edit(service, req) };
        }
        case "GET /__sim/quotas":
          return { status: 200, body: this.quotas.limits };
        case "PUT /__sim/quotas":
          this.quotas.set(body as Record<string, QuotaLimit>);
          return { status: 200, body: this.quotas.limits };
        case "GET /__sim/time":
          return { status: 200, body: { now: this.clock.now(), scale: this.clock.scale } };
        case "PUT /__sim/time":
          this.clock.setScale(Number((body as { scale: number }).scale));
          return { status: 200, body: { now: this.clock.now(), scale: this.clock.scale } };
        case "GET /__sim/requests":
          return { status: 200, body: { requests: this.requests(Number(u.searchParams.get("since") ?? 0)) } };
        case "DELETE /__sim/requests":
          this.clearRequests();
          return { status: 200, body: { ok: true } };
        default: {
          const key = /^\/__sim\/services\/([^/]+)\/(.+)$/.exec(u.pathname);
          const svc = key ? this.#services.find((s) => s.key === key[1]) : undefined;
          const control = svc as
            | (SimService & { control?: (m: string, p: string, b: JsonObject) => unknown })
            | undefined;
          if (control?.control && key) return { status: 200, body: control.control(method, key[2]!, body) };
          return { status: 404, body: { error: { code: 404, message: `no control route ${route}` } } };
        }
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return { status: 400, body: { error: { code: 400, message } } };
    }
  }
}

/** principalOf names the caller of a bearer token (see RequestLogEntry.principal); undefined without one. */
function principalOf(authorization: string | undefined): string | undefined {
  const token = /^Bearer (\S+)/.exec(authorization ?? "")?.[1];
  if (!token) return undefined;
  if (token.startsWith("capstan-sim-token")) return token;
  return `sha256:${createHash("sha256").update(token).digest("hex").slice(0, 12)}`;
}

function parseJson(text: string): JsonObject {
  try {
    return JSON.parse(text) as JsonObject;
  } catch (err) {
    throw new SimError(`Invalid JSON payload received. ${(err as Error).message}`, {
      status: "INVALID_ARGUMENT",
    });
  }
}

/** TOKENINFO_PATH is where the simulator answers tokeninfo, as oauth2.googleapis.com does. */
export const TOKENINFO_PATH = "/tokeninfo";

/** resourceOf is a request path as a resource name: without the API version and the custom verb. */
function resourceOf(path: string): string {
  return path
    .replace(/^\/(?:compute\/)?v\d+[a-z0-9]*\//, "")
    .replace(/:[A-Za-z]+$/, "")
    .replace(/^\//, "");
}

function stripSystemParams(params: URLSearchParams): string {
  const kept = new URLSearchParams();
  for (const [k, v] of params) if (!k.startsWith("$")) kept.append(k, v);
  return kept.toString();
}
