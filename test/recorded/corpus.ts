import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";

/** RECORDED_DIR holds the corpus of responses recorded against real GCP. */
export const RECORDED_DIR = join(import.meta.dirname, "..", "fixtures", "recorded");

/** Recorded is one recorded exchange of the corpus, placeholders filled. */
export interface Recorded {
  /** The file, relative to the corpus folder, e.g. `sql/instance-postgres.json`. */
  readonly file: string;
  readonly source: { readonly repository: string; readonly path: string; readonly commit: string };
  readonly method: string;
  /** The request path as capstan's clients send it (API versions mapped, see README). */
  readonly path: string;
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: recorded JSON bodies are dynamic.
  readonly body: any;
}

/**
 * PLACEHOLDERS are the values the corpus's `${name}` placeholders are filled with, one
 * per name, consistently across files (README.md in the corpus folder). Any other
 * placeholder becomes its name in lowercase.
 */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  projectId: "example-project",
  projectNumber: "123456789012",
  uniqueId: "abc123",
  networkID: "default",
  subnetworkID: "connector-subnet",
};

function fill(text: string): string {
  return text.replace(/\$\{([A-Za-z]+)\}/g, (_, name: string) => PLACEHOLDERS[name] ?? name.toLowerCase());
}

/**
 * API_VERSIONS maps the API versions Config Connector called to the ones capstan's
 * clients call: Cloud SQL Admin v1beta4 and Serverless VPC Access v1beta1 answer the same
 * JSON for these resources as v1 (the v1 protos carry every field the recordings hold).
 */
const API_VERSIONS: readonly [RegExp, string][] = [
  [/^\/sql\/v1beta4\//, "/v1/"],
  [/^\/v1beta1\/(projects\/[^/]+\/locations\/[^/]+\/(connectors|operations))/, "/v1/$1"],
];

/** loadCorpus reads every recorded file, placeholders filled. */
export function loadCorpus(): Recorded[] {
  const out: Recorded[] = [];
  for (const dir of readdirSync(RECORDED_DIR, { withFileTypes: true })) {
    if (!dir.isDirectory()) continue;
    for (const f of readdirSync(join(RECORDED_DIR, dir.name)).sort()) {
      if (!f.endsWith(".json")) continue;
      const file = `${dir.name}/${f}`;
      const doc = JSON.parse(fill(readFileSync(join(RECORDED_DIR, file), "utf8")));
      let path = new URL(doc.request.url).pathname;
      for (const [re, to] of API_VERSIONS) path = path.replace(re, to);
      out.push({
        file,
        source: doc.source,
        method: doc.request.method,
        path,
        status: doc.status,
        body: doc.body,
      });
    }
  }
  return out;
}

/** LIST_KEYS names the repeated field of each list answer, by the collection a list path ends in. */
const LIST_KEYS: Readonly<Record<string, string>> = {
  instances: "items",
  backendServices: "items",
  healthChecks: "items",
  networkEndpointGroups: "items",
  connectors: "connectors",
  services: "services",
  operations: "items",
};

/**
 * RecordedServer answers GETs with the recorded bodies, as GCP answered them, so the real
 * client libraries decode them as they would from GCP: a recorded path gets its body, a
 * collection path lists the recorded resources under it, anything else is a 404 in
 * Google's error format.
 */
export class RecordedServer {
  readonly #bodies = new Map<string, Recorded>();
  #server: Server | undefined;
  /** Paths asked for, in order. */
  readonly requests: string[] = [];

  constructor(recorded: readonly Recorded[]) {
    for (const r of recorded) if (r.status === 200) this.#bodies.set(r.path, r);
  }

  /** listen serves on an ephemeral loopback port and returns the endpoint. */
  async listen(): Promise<string> {
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.requests.push(`${req.method} ${url.pathname}`);
      const [status, body] = this.#answer(req.method ?? "GET", url.pathname);
      const text = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
      res.end(text);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const s = this.#server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  #answer(method: string, path: string): [number, unknown] {
    if (method !== "GET")
      return [405, { error: { code: 405, message: "read-only", status: "UNIMPLEMENTED" } }];
    const hit = this.#bodies.get(path);
    if (hit) return [200, hit.body];
    const collection = path.split("/").at(-1) ?? "";
    const key = LIST_KEYS[collection];
    if (key) {
      const items = [...this.#bodies.values()]
        .filter((r) => r.path.startsWith(`${path}/`) && !r.path.slice(path.length + 1).includes("/"))
        .map((r) => r.body);
      return [200, items.length ? { [key]: items } : {}];
    }
    return [404, { error: { code: 404, message: `${path} was not recorded`, status: "NOT_FOUND" } }];
  }
}

/**
 * fieldPaths lists the field paths of a JSON value: objects by key, array elements as
 * `[]`, with empty objects and arrays as leaves of their own, so `logConfig: {}` and an
 * absent `logConfig` differ. Values are ignored.
 */
export function fieldPaths(v: unknown, at = ""): Set<string> {
  const out = new Set<string>();
  const walk = (x: unknown, p: string) => {
    if (Array.isArray(x)) {
      if (x.length === 0) out.add(`${p}[]`);
      for (const e of x) walk(e, `${p}[]`);
    } else if (x !== null && typeof x === "object") {
      const keys = Object.keys(x);
      if (keys.length === 0) out.add(`${p}{}`);
      for (const k of keys) walk((x as Record<string, unknown>)[k], p ? `${p}.${k}` : k);
    } else {
      out.add(p);
    }
  };
  walk(v, at);
  return out;
}
