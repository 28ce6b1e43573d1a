/**
 * The simulated Cloud Storage JSON API (storage.googleapis.com), objects and buckets as
 * far as a lease needs them: objects.insert (media and multipart uploads), get (metadata
 * or `alt=media`), list, patch, update and delete, with preconditions; buckets.get.
 * Paths as https://cloud.google.com/storage/docs/json_api/v1/objects lists them
 * (`/storage/v1/b/{bucket}/o/{object}`, uploads under `/upload/storage/v1/...`). The
 * client library builds these URLs itself (no protos describe this API), so the
 * service routes by hand. Buckets are declared in the fixture:
 * `storage: {buckets: [{name: capstan-leases}], objects: [...]}`.
 */
import type { SimError } from "../core/errors.ts";
import type {
  HttpAnswer,
  HttpCall,
  HttpRoute,
  JsonObject,
  SimService,
  SimServiceFactory,
} from "../core/types.ts";
import { ObjectStore, type Preconditions, StorageError, type StoredObject } from "./objects.ts";

const OBJECT = /^\/(storage|download)\/v1\/b\/([^/]+)\/o\/(.+)$/;
const OBJECTS = /^\/storage\/v1\/b\/([^/]+)\/o$/;
const UPLOAD = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;
const BUCKET = /^\/storage\/v1\/b\/([^/]+)$/;

function preconditions(q: URLSearchParams): Preconditions {
  return {
    ifGenerationMatch: q.get("ifGenerationMatch"),
    ifGenerationNotMatch: q.get("ifGenerationNotMatch"),
    ifMetagenerationMatch: q.get("ifMetagenerationMatch"),
    ifMetagenerationNotMatch: q.get("ifMetagenerationNotMatch"),
  };
}

function json(body: string): JsonObject {
  try {
    return body ? (JSON.parse(body) as JsonObject) : {};
  } catch {
    throw new StorageError(400, "parseError", "Parse Error");
  }
}

/**
 * multipart splits a `multipart/related` upload into its metadata (the first part, JSON)
 * and media (the second part), as https://cloud.google.com/storage/docs/uploading-objects
 * (multipart upload) describes.
 */
function multipart(call: HttpCall): {
  metadata: JsonObject;
  content: string;
  contentType: string | undefined;
} {
  const boundary = /boundary="?([^";]+)"?/i.exec(call.headers["content-type"] ?? "")?.[1];
  if (!boundary) throw new StorageError(400, "invalid", "Missing boundary in multipart body.");
  const parts = call.body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((p) => {
      const text = p.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
      const sep = text.search(/\r?\n\r?\n/);
      const head = sep < 0 ? "" : text.slice(0, sep);
      const body = sep < 0 ? text : text.slice(sep).replace(/^\r?\n\r?\n/, "");
      return { type: /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim(), body };
    });
  if (parts.length !== 2) {
    throw new StorageError(400, "invalid", "A multipart upload has exactly two parts: metadata and media.");
  }
  return { metadata: json(parts[0]!.body), content: parts[1]!.body, contentType: parts[1]!.type };
}

/** reasonOf maps a canonical status to the JSON API's legacy reason. */
function reasonOf(err: SimError): { reason: string; domain: string } {
  switch (err.options.status) {
    case "RESOURCE_EXHAUSTED":
      return { reason: "rateLimitExceeded", domain: "usageLimits" };
    case "UNAUTHENTICATED":
      return { reason: "required", domain: "global" };
    case "PERMISSION_DENIED":
      return { reason: "forbidden", domain: "global" };
    case "NOT_FOUND":
      return { reason: "notFound", domain: "global" };
    case "UNAVAILABLE":
    case "INTERNAL":
    case "UNKNOWN":
      return { reason: "backendError", domain: "global" };
    default:
      return { reason: "invalid", domain: "global" };
  }
}

/** storage is the simulated Cloud Storage JSON API. */
export const storage: SimServiceFactory = (ctx) => {
  const store = new ObjectStore(ctx);
  const answer = (o: StoredObject): HttpAnswer => ({ status: 200, body: store.resource(o) });
  const route = (rpc: string, write: boolean, serve: (call: HttpCall) => HttpAnswer): HttpRoute => ({
    rpc: `storage.${rpc}`,
    write,
    serve: (call) => {
      try {
        return serve(call);
      } catch (err) {
        if (err instanceof StorageError) return err.answer();
        throw err;
      }
    },
  });
  const service: SimService = {
    api: "storage.googleapis.com",
    key: "storage",
    rpcs: [],
    handlers: {},
    route(method, path) {
      let m = UPLOAD.exec(path);
      if (m && method === "POST") {
        const bucket = decodeURIComponent(m[1]!);
        return route("objects.insert", true, (call) => {
          const type = call.query.get("uploadType");
          const upload =
            type === "multipart"
              ? multipart(call)
              : type === "media"
                ? { metadata: {}, content: call.body, contentType: call.headers["content-type"] }
                : undefined;
          if (!upload) {
            throw new StorageError(
              400,
              "invalidParameter",
              `The simulator serves uploadType=media and multipart, not \`${type}\`.`,
            );
          }
          const name = call.query.get("name") ?? String(upload.metadata["name"] ?? "");
          return answer(
            store.insert(
              bucket,
              name,
              {
                content: upload.content,
                metadata: upload.metadata,
                ...(upload.contentType ? { contentType: upload.contentType } : {}),
              },
              preconditions(call.query),
            ),
          );
        });
      }
      m = OBJECT.exec(path);
      if (m) {
        const media = m[1] === "download";
        const bucket = decodeURIComponent(m[2]!);
        const name = decodeURIComponent(m[3]!);
        switch (method) {
          case "GET":
            return route("objects.get", false, (call) => {
              const o = store.get(bucket, name, preconditions(call.query), call.query.get("generation"));
              if (media || call.query.get("alt") === "media") {
                return { status: 200, body: undefined, text: o.content, contentType: o.contentType };
              }
              return answer(o);
            });
          case "PATCH":
          case "PUT":
            return route(method === "PATCH" ? "objects.patch" : "objects.update", true, (call) =>
              answer(store.patch(bucket, name, json(call.body), preconditions(call.query), method === "PUT")),
            );
          case "DELETE":
            return route("objects.delete", true, (call) => {
              store.delete(bucket, name, preconditions(call.query));
              return { status: 204, body: undefined, text: "" };
            });
        }
        return undefined;
      }
      m = OBJECTS.exec(path);
      if (m && method === "GET") {
        const bucket = decodeURIComponent(m[1]!);
        return route("objects.list", false, (call) => {
          const items = store.list(bucket, call.query.get("prefix") ?? "").map((o) => store.resource(o));
          return { status: 200, body: { kind: "storage#objects", ...(items.length ? { items } : {}) } };
        });
      }
      m = BUCKET.exec(path);
      if (m && method === "GET") {
        const bucket = decodeURIComponent(m[1]!);
        return route("buckets.get", false, () => ({ status: 200, body: store.bucket(bucket) }));
      }
      return undefined;
    },
    renderError(err) {
      const { reason, domain } = reasonOf(err);
      // An injected fault may name the JSON API's own reason (lowerCamel, e.g. backendError).
      const own = err.options.reason && /^[a-z]/.test(err.options.reason) ? err.options.reason : undefined;
      return new StorageError(err.httpCode, own ?? reason, err.message, { domain }).answer();
    },
    load(section) {
      store.clear();
      store.configure(
        section?.["objectMutationsPerSecond"] !== undefined
          ? { mutationsPerSecond: Number(section["objectMutationsPerSecond"]) }
          : {},
      );
      for (const b of (section?.["buckets"] as JsonObject[] | undefined) ?? []) {
        const name = String(b["name"]);
        store.buckets.set(name, {
          kind: "storage#bucket",
          id: name,
          name,
          location: String(b["location"] ?? "US"),
          storageClass: "STANDARD",
          ...(b["project"] ? { projectNumber: String(b["projectNumber"] ?? "0") } : {}),
        });
      }
      for (const o of (section?.["objects"] as JsonObject[] | undefined) ?? []) {
        if (!store.buckets.has(String(o["bucket"]))) {
          throw new TypeError(
            `storage.objects: bucket \`${o["bucket"]}\` is not declared in storage.buckets`,
          );
        }
        store.restore(o);
      }
    },
    dump() {
      return {
        buckets: [...store.buckets.values()].map((b) => ({ name: b["name"], location: b["location"] })),
        objects: store.dump(),
      };
    },
  };
  return service;
};
