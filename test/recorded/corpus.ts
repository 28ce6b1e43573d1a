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
  /**
   * What the file is evidence of (README.md in the corpus folder): `vcr` is a raw
   * interaction of a VCR cassette recorded against real GCP; `log` an `_http.log` golden
   * entry, which Config Connector's tooling rewrites from its mock; `mock` such an entry
   * shown to be the mock's output (`writtenByMock` in the file says why).
   */
  readonly origin: "vcr" | "log" | "mock";
  readonly method: string;
  /** The request path as capstan's clients send it (API versions mapped, see README). */
  readonly path: string;
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: recorded JSON bodies are dynamic.
  readonly body: any;
  /**
   * The request body that created (or last replaced) the resource, from an earlier entry
   * of the same recording (`sentBefore` in the file), when the corpus holds it: what the
   * simulator is seeded with, so its server-side defaults are compared with GCP's.
   */
  readonly sent: Record<string, unknown> | undefined;
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
 * JSON for these resources as v1 (the v1 protos carry every field the recordings hold),
 * and so does Compute beta for the fields of the cassettes' backend services and health
 * checks.
 */
const API_VERSIONS: readonly [RegExp, string][] = [
  [/^\/compute\/beta\//, "/compute/v1/"],
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
        origin: doc.source.path.includes("/_vcr_cassettes/") ? "vcr" : doc.writtenByMock ? "mock" : "log",
        method: doc.request.method,
        path,
        status: doc.status,
        body: doc.body,
        sent: doc.sentBefore?.body,
      });
    }
  }
  return out;
}

/**
 * ListShape is how one API answers a list call: the repeated field that holds the items
 * and the envelope fields around them.
 */
interface ListShape {
  readonly key: string;
  readonly envelope: (path: string) => Record<string, unknown>;
}

/**
 * Compute list answers (BackendServiceList, HealthCheckList, NetworkEndpointGroupList,
 * OperationList) carry `kind`, `id`, `items`, `nextPageToken` and `selfLink`
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices/list, "Response
 * body"); recorded/compute/list-addresses.json shows the same envelope on a real list.
 */
function computeList(kind: string): ListShape {
  return {
    key: "items",
    envelope: (path) => ({
      kind,
      id: path.replace(/^\/compute\/v1\//, ""),
      selfLink: `https://www.googleapis.com${path}`,
    }),
  };
}

/**
 * LISTS says how each API answers a list of the collection a path ends in: Cloud SQL's
 * InstancesListResponse `{kind: "sql#instancesList", items, nextPageToken}`
 * (https://cloud.google.com/sql/docs/postgres/admin-api/rest/v1/instances/list; the
 * recorded sql/list-users.json shows the same `kind`/`items` style), Cloud Run v2's
 * ListServicesResponse `{services, nextPageToken}`
 * (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/list),
 * Serverless VPC Access's ListConnectorsResponse `{connectors, nextPageToken}`
 * (https://cloud.google.com/vpc/docs/reference/vpcaccess/rest/v1/projects.locations.connectors/list),
 * Secret Manager's ListSecretVersionsResponse `{versions, nextPageToken, totalSize}`
 * (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/list),
 * and Compute's (see {@link computeList}).
 */
const LISTS: readonly [RegExp, ListShape][] = [
  [/^\/compute\/v1\/.*\/backendServices$/, computeList("compute#backendServiceList")],
  [/^\/compute\/v1\/.*\/healthChecks$/, computeList("compute#healthCheckList")],
  [/^\/compute\/v1\/.*\/networkEndpointGroups$/, computeList("compute#networkEndpointGroupList")],
  [/^\/compute\/v1\/.*\/operations$/, computeList("compute#operationList")],
  [/^\/v1\/projects\/[^/]+\/instances$/, { key: "items", envelope: () => ({ kind: "sql#instancesList" }) }],
  [/^\/v1\/projects\/[^/]+\/operations$/, { key: "items", envelope: () => ({ kind: "sql#operationsList" }) }],
  [/^\/v2\/projects\/[^/]+\/locations\/[^/]+\/services$/, { key: "services", envelope: () => ({}) }],
  [/^\/v1\/projects\/[^/]+\/locations\/[^/]+\/connectors$/, { key: "connectors", envelope: () => ({}) }],
  [/^\/v1\/projects\/[^/]+\/secrets\/[^/]+\/versions$/, { key: "versions", envelope: () => ({}) }],
];

/** RecordedServerOptions tune a {@link RecordedServer}. */
export interface RecordedServerOptions {
  /**
   * The most items one list page holds, whatever the request asks for: a server may return
   * fewer than asked (https://google.aip.dev/158), so 1 makes every list of two or more
   * resources take several pages and tests that capstan follows `nextPageToken`.
   * @default 1
   */
  readonly pageLimit?: number;
}

/**
 * RecordedServer answers GETs with the recorded bodies, as GCP answered them, so the real
 * client libraries decode them as they would from GCP: a recorded path gets its body, a
 * collection path lists the recorded resources under it in that API's list envelope
 * ({@link LISTS}), page by page, and anything else is a 404 in Google's error format.
 */
export class RecordedServer {
  readonly #bodies = new Map<string, Recorded>();
  readonly #pageLimit: number;
  #server: Server | undefined;
  /** Requests answered, in order, as `METHOD path?query`. */
  readonly requests: string[] = [];

  constructor(recorded: readonly Recorded[], options: RecordedServerOptions = {}) {
    for (const r of recorded) if (r.status === 200 && r.method === "GET") this.#bodies.set(r.path, r);
    this.#pageLimit = options.pageLimit ?? 1;
    if (!Number.isInteger(this.#pageLimit) || this.#pageLimit < 1) {
      throw new TypeError(`Expected \`pageLimit\` to be an integer >= 1, got ${this.#pageLimit}`);
    }
  }

  /** listen serves on an ephemeral loopback port and returns the endpoint. */
  async listen(): Promise<string> {
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      this.requests.push(`${req.method} ${url.pathname}${url.search}`);
      const [status, body] = this.#answer(req.method ?? "GET", url);
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

  #answer(method: string, url: URL): [number, unknown] {
    const path = url.pathname;
    if (method !== "GET")
      return [405, { error: { code: 405, message: "read-only", status: "UNIMPLEMENTED" } }];
    const hit = this.#bodies.get(path);
    if (hit) return [200, hit.body];
    const shape = LISTS.find(([re]) => re.test(path))?.[1];
    if (shape) {
      const items = [...this.#bodies.values()]
        .filter((r) => r.path.startsWith(`${path}/`) && !r.path.slice(path.length + 1).includes("/"))
        .map((r) => r.body);
      const asked = Number(url.searchParams.get("maxResults") ?? url.searchParams.get("pageSize") ?? 0);
      const size = Math.min(asked || this.#pageLimit, this.#pageLimit);
      const start = Number(url.searchParams.get("pageToken") ?? 0);
      const page = items.slice(start, start + size);
      return [
        200,
        {
          ...shape.envelope(path),
          // An empty page leaves the repeated field out, as proto3 JSON prints it.
          ...(page.length ? { [shape.key]: page } : {}),
          ...(start + size < items.length ? { nextPageToken: String(start + size) } : {}),
        },
      ];
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
