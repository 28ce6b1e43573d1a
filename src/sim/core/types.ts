import type { Clock } from "../../clock/index.ts";
import type { Access, SimProject } from "./access.ts";
import type { SimError } from "./errors.ts";
import type { FaultRule } from "./faults.ts";
import type { RpcDescriptor } from "./protos.ts";

export type { SimProject };

/** JsonObject is a decoded proto3-JSON message. */
// biome-ignore lint/suspicious/noExplicitAny: proto3 JSON messages are dynamic by nature.
export type JsonObject = Record<string, any>;

/**
 * SimRequest is one decoded API call handed to a service's handler. `body` is the full
 * request message in proto3 JSON form: path parameters, query parameters and the HTTP
 * body merged as the REST transcoding rules say.
 */
export interface SimRequest {
  readonly rpc: string;
  readonly body: JsonObject;
  readonly method: string;
  readonly path: string;
  /** Region or zone named in the path (`locations/x`, `regions/x`), if any. */
  readonly location: string | undefined;
  readonly ctx: SimContext;
  /** Who calls: the IAM principal its bearer token belongs to (the fixture's `access.identities`). */
  readonly caller: string;
  /**
   * takeOperationFault returns an injected "fail the operation" fault that matches this
   * call, consuming it; the handler then makes the long-running operation it starts end in
   * that error.
   */
  takeOperationFault(): FaultRule | undefined;
}

/** Handler serves one RPC. It returns the response message in proto3 JSON form. */
export type Handler = (req: SimRequest) => JsonObject | Promise<JsonObject>;

/**
 * SimContext is what every simulated service shares: the clock, the event queue that
 * moves simulated operations forward, and deterministic ids.
 */
export interface SimContext {
  readonly clock: Clock;
  /** now is the simulator's current time in epoch ms. */
  now(): number;
  /** nowIso is `now()` as an RFC 3339 timestamp. */
  nowIso(): string;
  /**
   * at runs `fn` once simulated time reaches `atMs`. Events are processed lazily, in time
   * order, before every request, so the simulator needs no timers and stays deterministic.
   */
  at(atMs: number, fn: () => void): void;
  /** after runs `fn` after `seconds` of GCP time (already in clock time: scaling is the clock's job). */
  after(seconds: number, fn: () => void): void;
  /** nextId returns a deterministic, unique id with the given prefix. */
  nextId(prefix: string): string;
  /** durationOf returns the configured duration (seconds) of an operation type, e.g. `sql.restart`. */
  durationOf(operationType: string, fallbackSeconds: number): number;
  /** Projects, enabled APIs, identities and IAM grants (the fixture's `access:` section). */
  readonly access: Access;
}

/** EditRequest is an out-of-band edit: what a person does in the console. */
export interface EditRequest {
  readonly kind: string;
  readonly name: string;
  /** A deep merge patch in the API's JSON shape. */
  readonly patch: JsonObject;
}

/** HttpAnswer is a response in transport-neutral form. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: unknown;
  /** The body as raw text (a download), instead of JSON. */
  readonly text?: string;
  readonly contentType?: string;
}

/** HttpCall is one request to an HTTP-level service, as received. */
export interface HttpCall {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Request headers, lower-cased names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
  readonly ctx: SimContext;
}

/**
 * HttpRoute is one call an HTTP-level service serves: APIs whose REST shape no client
 * proto describes (the Cloud Storage JSON API, the Kubernetes API) route by hand.
 */
export interface HttpRoute {
  /** The method's name for logs, quotas and fault matching, e.g. `storage.objects.patch`. */
  readonly rpc: string;
  readonly write: boolean;
  serve(call: HttpCall): HttpAnswer | Promise<HttpAnswer>;
}

/**
 * SimService is one simulated GCP API: its routes (from the client library's protos),
 * its handlers and its state.
 */
export interface SimService {
  /** Service name as GCP names it, e.g. `run.googleapis.com`; quotas and logs key on it. */
  readonly api: string;
  /** Key of this service's section in fixtures and state dumps, e.g. `run`. */
  readonly key: string;
  /** The RPCs served, with their HTTP rules. */
  readonly rpcs: readonly RpcDescriptor[];
  /** Handlers by RPC full name. An RPC without a handler answers 501 UNIMPLEMENTED. */
  readonly handlers: Readonly<Record<string, Handler>>;
  /** load replaces the state with the fixture's section for this service. */
  load(section: JsonObject | undefined): void;
  /** dump returns the state in the fixture's shape. */
  dump(): JsonObject;
  /** edit applies an out-of-band change, bumping etags/fingerprints as GCP would. */
  edit?(req: EditRequest): JsonObject;
  /** route matches a call of an HTTP-level service (no protos: `rpcs` is empty). */
  route?(method: string, path: string): HttpRoute | undefined;
  /**
   * renderError renders an error the server raises for this service's calls (no
   * credentials, quota, injected fault) in the API's own error format.
   * @default Google's JSON error format
   */
  renderError?(err: SimError): HttpAnswer;
  /**
   * quotaLocation names the region a call counts in, for an API whose quotas are per
   * region but whose paths do not always name it (Cloud SQL: the instance's region).
   * Undefined: the location in the path.
   */
  quotaLocation?(rpc: string, request: JsonObject): string | undefined;
  /**
   * The service answers for missing projects itself (Resource Manager, Service Usage):
   * the server does not check the project, its enabled APIs or IAM before it.
   */
  readonly checksProjects?: boolean;
}

/** SimServiceFactory builds a service over a shared context. */
export type SimServiceFactory = (ctx: SimContext) => SimService;
