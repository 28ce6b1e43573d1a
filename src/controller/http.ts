import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ControllerMetrics } from "./metrics.ts";
import type { ControllerStatus } from "./status.ts";

/** StatusSource is what the endpoint reads: the controller, or anything shaped like it. */
export interface StatusSource {
  healthy(): boolean;
  ready(): boolean;
  status(): ControllerStatus;
  readonly metrics: ControllerMetrics;
}

/** HttpAnswer is a response in transport-neutral form, so routes are testable without a port. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  /** Further response headers. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  readonly body: string;
}

/**
 * ExtraRoutes are routes served beside the built-in ones on the same port (the dashboard,
 * src/dashboard). They are asked first.
 */
export interface ExtraRoutes {
  /** answer returns the answer for a path it serves, or undefined to leave it to the built-in routes. */
  answer(method: string, url: string): Promise<HttpAnswer | undefined>;
  /** stream takes over a long-lived response (Server-Sent Events) and returns true, or returns false. */
  stream?(req: IncomingMessage, res: ServerResponse): boolean;
  /** close ends long-lived responses, before the server closes. */
  close?(): void;
}

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/**
 * answer serves one request of the `capstan run` endpoint:
 * - `/healthz`: 200 while the loops run (liveness);
 * - `/readyz`: 200 once the first pass finished, 503 before and while stopping (readiness);
 * - `/status`: the status document (ControllerStatus) as JSON;
 * - `/metrics`: Prometheus text format.
 */
export async function answer(source: StatusSource, method: string, url: string): Promise<HttpAnswer> {
  if (method !== "GET" && method !== "HEAD")
    return { status: 405, contentType: TEXT, body: "method not allowed\n" };
  const path = new URL(url, "http://capstan").pathname;
  switch (path) {
    case "/healthz":
      return source.healthy()
        ? { status: 200, contentType: TEXT, body: "ok\n" }
        : { status: 503, contentType: TEXT, body: "stopping\n" };
    case "/readyz":
      return source.ready()
        ? { status: 200, contentType: TEXT, body: "ok\n" }
        : { status: 503, contentType: TEXT, body: "not ready: no pass finished yet, or stopping\n" };
    case "/status":
      return { status: 200, contentType: JSON_TYPE, body: `${JSON.stringify(source.status(), null, 2)}\n` };
    case "/metrics":
      return { status: 200, contentType: source.metrics.contentType, body: await source.metrics.text() };
    default:
      return {
        status: 404,
        contentType: TEXT,
        body: "not found: try /, /healthz, /readyz, /status or /metrics\n",
      };
  }
}

/** Options of {@link StatusServer}. */
export interface StatusServerOptions {
  readonly source: StatusSource;
  /**
   * Port to listen on; 0 picks a free one.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Address to listen on. All interfaces by default, so a kubelet or Cloud Run probe reaches it.
   * @default "0.0.0.0"
   */
  readonly host?: string;
  /** Routes served beside the built-in ones, asked first. @default none */
  readonly routes?: ExtraRoutes | undefined;
}

/** StatusServer serves {@link answer} over HTTP. */
export class StatusServer {
  readonly #source: StatusSource;
  readonly #port: number;
  readonly #host: string;
  readonly #routes: ExtraRoutes | undefined;
  #server: Server | undefined;

  constructor(options: StatusServerOptions) {
    this.#source = options.source;
    this.#port = options.port ?? 8080;
    this.#host = options.host ?? "0.0.0.0";
    this.#routes = options.routes;
    if (!Number.isInteger(this.#port) || this.#port < 0 || this.#port > 65535) {
      throw new TypeError(`Expected \`port\` to be an integer from 0 to 65535, got \`${options.port}\``);
    }
  }

  /** listen starts serving and returns the port it listens on. */
  async listen(): Promise<number> {
    const server = createServer((req, res) => {
      if (this.#routes?.stream?.(req, res)) return;
      const method = req.method ?? "GET";
      const url = req.url ?? "/";
      Promise.resolve(this.#routes?.answer(method, url))
        .then((a) => a ?? answer(this.#source, method, url))
        .then(
          (a) => {
            res.writeHead(a.status, {
              ...a.headers,
              "content-type": a.contentType,
              "content-length": Buffer.byteLength(a.body),
            });
            res.end(req.method === "HEAD" ? undefined : a.body);
          },
          (err: unknown) => {
            res.writeHead(500, { "content-type": TEXT });
            res.end(`${err instanceof Error ? err.message : String(err)}\n`);
          },
        );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, this.#host, () => resolve());
    });
    this.#server = server;
    return (server.address() as AddressInfo).port;
  }

  /** close stops serving and drops open connections. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    this.#routes?.close?.();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
