/**
 * A simulated Kubernetes API server, as far as a leader-election Lease needs it:
 * coordination.k8s.io/v1 Leases
 * (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/):
 * get, list, create, update (PUT) and delete under
 * `/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}`.
 *
 * What a client can rely on, as the API server does it:
 * - every write gets a new `metadata.resourceVersion` (one counter for the whole server,
 *   like etcd's revision); an update whose body carries an older one is 409 with reason
 *   `Conflict` (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions);
 * - creating a Lease that exists is 409 `AlreadyExists`; reading a missing one is 404
 *   `NotFound`; the name in the body must be the name in the URL (400 `BadRequest`);
 * - `acquireTime` and `renewTime` are MicroTime: RFC 3339 with exactly six fractional
 *   digits (k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go, RFC3339Micro); other
 *   forms are refused as the server's decoder refuses them (400);
 * - `leaseDurationSeconds` must be > 0 and `leaseTransitions` >= 0 (422 `Invalid`,
 *   k8s.io/kubernetes/pkg/apis/coordination/validation);
 * - every error is a `Status` object (kind Status, apiVersion v1, status Failure,
 *   message, reason, details, code).
 * The fixture section `kubernetes: {leases: [...]}` holds Lease objects.
 */
import type { SimError } from "../core/errors.ts";
import type { HttpAnswer, HttpCall, HttpRoute, JsonObject, SimServiceFactory } from "../core/types.ts";

const ITEM = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases\/([^/]+)$/;
const COLLECTION = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases$/;
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const GROUP = "coordination.k8s.io";

/** StatusError is an API server error, rendered as a `Status`. */
class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: JsonObject | undefined;

  constructor(code: number, reason: string, message: string, details?: JsonObject) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  answer(): HttpAnswer {
    return {
      status: this.code,
      body: {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: this.message,
        reason: this.reason,
        ...(this.details ? { details: this.details } : {}),
        code: this.code,
      },
    };
  }
}

/** The Status reason of an HTTP code (k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason). */
const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

function parse(body: string): JsonObject {
  try {
    const doc = JSON.parse(body) as unknown;
    if (doc && typeof doc === "object" && !Array.isArray(doc)) return doc as JsonObject;
  } catch {
    // Falls through to the decoder's refusal.
  }
  throw new StatusError(400, "BadRequest", "the body of the request was in an unknown format");
}

/** kubernetes is the simulated Kubernetes API server (Leases only). */
export const kubernetes: SimServiceFactory = (ctx) => {
  /** Leases by `namespace/name`. */
  const leases = new Map<string, JsonObject>();
  let revision = 0;
  let uid = 0;
  const nextVersion = () => String(++revision);
  const details = (name: string) => ({ name, group: GROUP, kind: "leases" });
  const notFound = (name: string) =>
    new StatusError(404, "NotFound", `leases.${GROUP} "${name}" not found`, details(name));

  /** Checks a Lease body the way the API server's decoder and validation do. */
  const validate = (
    doc: JsonObject,
    ns: string,
    name: string | undefined,
  ): { name: string; spec: JsonObject } => {
    if (doc["kind"] !== undefined && doc["kind"] !== "Lease") {
      throw new StatusError(400, "BadRequest", `Lease in version "v1" cannot be handled as a ${doc["kind"]}`);
    }
    const meta = (doc["metadata"] ?? {}) as JsonObject;
    const bodyName = String(meta["name"] ?? "");
    if (name !== undefined && bodyName && bodyName !== name) {
      throw new StatusError(
        400,
        "BadRequest",
        `the name of the object (${bodyName}) does not match the name on the URL (${name})`,
      );
    }
    if (meta["namespace"] !== undefined && meta["namespace"] !== ns) {
      throw new StatusError(
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    const n = name ?? bodyName;
    if (!n) {
      throw new StatusError(
        422,
        "Invalid",
        `Lease.${GROUP} "" is invalid: metadata.name: Required value: name or generateName is required`,
      );
    }
    const spec = (doc["spec"] ?? {}) as JsonObject;
    for (const f of ["acquireTime", "renewTime"]) {
      const v = spec[f];
      if (v !== undefined && v !== null && (typeof v !== "string" || !MICRO_TIME.test(v))) {
        throw new StatusError(
          400,
          "BadRequest",
          `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
        );
      }
    }
    const causes: JsonObject[] = [];
    const d = spec["leaseDurationSeconds"];
    if (d !== undefined && d !== null && !(Number.isInteger(d) && d > 0)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${d}: must be greater than 0`,
        field: "spec.leaseDurationSeconds",
      });
    }
    const t = spec["leaseTransitions"];
    if (t !== undefined && t !== null && !(Number.isInteger(t) && t >= 0)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${t}: must be greater than or equal to 0`,
        field: "spec.leaseTransitions",
      });
    }
    if (causes.length > 0) {
      throw new StatusError(
        422,
        "Invalid",
        `Lease.${GROUP} "${n}" is invalid: ${causes.map((c) => `${c["field"]}: ${c["message"]}`).join(", ")}`,
        { ...details(n), kind: "Lease", causes },
      );
    }
    return { name: n, spec };
  };

  const route = (rpc: string, write: boolean, serve: (call: HttpCall) => HttpAnswer): HttpRoute => ({
    rpc: `coordination.v1.leases.${rpc}`,
    write,
    serve: (call) => {
      try {
        return serve(call);
      } catch (err) {
        if (err instanceof StatusError) return err.answer();
        throw err;
      }
    },
  });

  return {
    api: "coordination.k8s.io",
    key: "kubernetes",
    rpcs: [],
    handlers: {},
    route(method, path) {
      const item = ITEM.exec(path);
      if (item) {
        const ns = decodeURIComponent(item[1]!);
        const name = decodeURIComponent(item[2]!);
        const key = `${ns}/${name}`;
        switch (method) {
          case "GET":
            return route("get", false, () => {
              const lease = leases.get(key);
              if (!lease) throw notFound(name);
              return { status: 200, body: lease };
            });
          case "PUT":
            return route("update", true, (call) => {
              const doc = parse(call.body);
              const { spec } = validate(doc, ns, name);
              const cur = leases.get(key);
              if (!cur) throw notFound(name);
              const sent = ((doc["metadata"] ?? {}) as JsonObject)["resourceVersion"];
              if (sent !== undefined && sent !== "" && sent !== cur["metadata"]["resourceVersion"]) {
                throw new StatusError(
                  409,
                  "Conflict",
                  `Operation cannot be fulfilled on leases.${GROUP} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
                  details(name),
                );
              }
              const meta = (doc["metadata"] ?? {}) as JsonObject;
              const next: JsonObject = {
                apiVersion: `${GROUP}/v1`,
                kind: "Lease",
                metadata: {
                  ...cur["metadata"],
                  ...(meta["labels"] ? { labels: meta["labels"] } : {}),
                  ...(meta["annotations"] ? { annotations: meta["annotations"] } : {}),
                  resourceVersion: nextVersion(),
                },
                spec,
              };
              leases.set(key, next);
              return { status: 200, body: next };
            });
          case "DELETE":
            return route("delete", true, () => {
              if (!leases.delete(key)) throw notFound(name);
              return {
                status: 200,
                body: {
                  kind: "Status",
                  apiVersion: "v1",
                  metadata: {},
                  status: "Success",
                  details: { ...details(name) },
                },
              };
            });
        }
        return undefined;
      }
      const coll = COLLECTION.exec(path);
      if (coll) {
        const ns = decodeURIComponent(coll[1]!);
        if (method === "GET") {
          return route("list", false, () => ({
            status: 200,
            body: {
              apiVersion: `${GROUP}/v1`,
              kind: "LeaseList",
              metadata: { resourceVersion: String(revision) },
              items: [...leases.entries()].filter(([k]) => k.startsWith(`${ns}/`)).map(([, v]) => v),
            },
          }));
        }
        if (method === "POST") {
          return route("create", true, (call) => {
            const doc = parse(call.body);
            const { name, spec } = validate(doc, ns, undefined);
            const key = `${ns}/${name}`;
            if (leases.has(key)) {
              throw new StatusError(
                409,
                "AlreadyExists",
                `leases.${GROUP} "${name}" already exists`,
                details(name),
              );
            }
            const meta = (doc["metadata"] ?? {}) as JsonObject;
            const lease: JsonObject = {
              apiVersion: `${GROUP}/v1`,
              kind: "Lease",
              metadata: {
                name,
                namespace: ns,
                uid: `00000000-0000-4000-8000-${String(++uid).padStart(12, "0")}`,
                resourceVersion: nextVersion(),
                creationTimestamp: ctx.nowIso().replace(/\.\d+Z$/, "Z"),
                ...(meta["labels"] ? { labels: meta["labels"] } : {}),
                ...(meta["annotations"] ? { annotations: meta["annotations"] } : {}),
              },
              spec,
            };
            leases.set(key, lease);
            return { status: 201, body: lease };
          });
        }
      }
      return undefined;
    },
    renderError(err: SimError) {
      const code = err.httpCode;
      return new StatusError(
        code,
        REASONS[code] ?? "InternalError",
        code === 401 ? "Unauthorized" : err.message,
      ).answer();
    },
    load(section) {
      leases.clear();
      for (const l of (section?.["leases"] as JsonObject[] | undefined) ?? []) {
        const meta = (l["metadata"] ?? {}) as JsonObject;
        const ns = String(meta["namespace"] ?? "default");
        const name = String(meta["name"]);
        leases.set(`${ns}/${name}`, {
          apiVersion: `${GROUP}/v1`,
          kind: "Lease",
          metadata: { ...meta, name, namespace: ns, resourceVersion: nextVersion() },
          spec: l["spec"] ?? {},
        });
      }
    },
    dump() {
      return { leases: [...leases.values()] };
    },
  };
};
