import { createHash } from "node:crypto";
import type protobuf from "protobufjs";
import { computeUrl } from "../../gcp/compute.ts";
import { rejectUnknownFields } from "../core/codec.ts";
import { SimError, type Status } from "../core/errors.ts";
import { paginate } from "../core/paging.ts";
import type { JsonObject, SimContext, SimRequest } from "../core/types.ts";
import { compileFilter } from "./filter.ts";

const STATUS_OF_HTTP: Readonly<Record<number, Status>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  412: "FAILED_PRECONDITION",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

/**
 * ComputeError is an error in Compute Engine's own format: `{error: {code, message,
 * errors: [{message, domain: "global", reason}]}}`, without `status` and without an
 * ErrorInfo detail, as Compute answers validation, not-found and precondition errors
 * (recorded responses: https://github.com/hashicorp/terraform-provider-google/issues/7311,
 * https://github.com/GoogleCloudPlatform/gke-autoneg-controller/issues/4). The client
 * therefore derives `err.code` from the HTTP status and leaves `err.reason` unset;
 * `err.httpStatusCode` carries the HTTP status.
 */
export class ComputeError extends SimError {
  /** The legacy `errors[].reason`, e.g. `notFound`, `invalid`, `conditionNotMet`. */
  readonly reason: string;

  constructor(httpCode: number, reason: string, message: string) {
    super(message, { status: STATUS_OF_HTTP[httpCode] ?? "UNKNOWN", httpCode, reason, legacy: true });
    this.name = "ComputeError";
    this.reason = reason;
  }

  override toJSON(): Record<string, unknown> {
    // A failed precondition names what it failed on: real GCP answers 412 conditionNotMet
    // with `location: "If-Match", locationType: "header"`
    // (test/fixtures/recorded/compute/error-412-backend-service-in-use-vcr.json).
    const where = this.reason === "conditionNotMet" ? { location: "If-Match", locationType: "header" } : {};
    return {
      error: {
        code: this.httpCode,
        message: this.message,
        errors: [{ message: this.message, domain: "global", reason: this.reason, ...where }],
      },
    };
  }
}

/** resourceNotFound is Compute's 404 for a relative resource name. */
export function resourceNotFound(relativeName: string): ComputeError {
  return new ComputeError(404, "notFound", `The resource '${relativeName}' was not found`);
}

/** invalid is Compute's 400 with legacy reason `invalid`. */
export function invalid(message: string): ComputeError {
  return new ComputeError(400, "invalid", message);
}

/**
 * resourceNotReady is the 400 Compute answers when a resource is written while an
 * operation on it is still running (seen from the API as "The resource '...' is not
 * ready", reason `resourceNotReady`).
 */
export function resourceNotReady(relativeName: string): ComputeError {
  return new ComputeError(400, "resourceNotReady", `The resource '${relativeName}' is not ready`);
}

/**
 * numericId derives a stable uint64 id (decimal string, as proto3 JSON carries uint64)
 * from a seed, so ids look like Compute's 19-digit ones and repeat across runs.
 */
export function numericId(seed: string): string {
  const h = createHash("sha256").update(seed).digest();
  return (h.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn).toString();
}

/**
 * newFingerprint returns a fresh fingerprint in Compute's form, 8 bytes in base64
 * (e.g. `abcdef0123A=`), deterministic per simulator run.
 */
export function newFingerprint(ctx: SimContext): string {
  return createHash("sha256")
    .update(ctx.nextId("compute-fingerprint-"))
    .digest()
    .subarray(0, 8)
    .toString("base64");
}

/**
 * field reads a request field under its camelCase name or its proto (snake_case) name:
 * the core fills path parameters and the HTTP body under the names the rule spells.
 */
export function field(body: JsonObject, camel: string, snake: string): unknown {
  return body[camel] ?? body[snake];
}

/** requiredString reads a path parameter, which the REST rule guarantees is present. */
export function requiredString(body: JsonObject, camel: string, snake: string): string {
  const v = field(body, camel, snake);
  if (typeof v !== "string" || v === "") throw invalid(`Required field '${camel}' not specified`);
  return v;
}

/**
 * resourceBody returns the resource carried in a write's HTTP body, refusing names the
 * resource type does not know with the ESF's 400 (the core cannot find a snake_case body
 * field among the camelCase ones the compute protos declare, so it is checked here).
 */
export function resourceBody(req: SimRequest, camel: string, snake: string, type: protobuf.Type): JsonObject {
  const v = field(req.body, camel, snake);
  if (v === undefined || v === null || typeof v !== "object" || Array.isArray(v)) {
    throw invalid(`Required field 'resource' not specified`);
  }
  rejectUnknownFields(type, v, snake);
  return v as JsonObject;
}

/** clone deep-copies proto3 JSON. */
export function clone<T>(v: T): T {
  return structuredClone(v);
}

/**
 * mergePatch applies a JSON merge patch (RFC 7386), which Compute's patch methods use:
 * "This method supports PATCH semantics and uses the JSON merge patch format and
 * processing rules" (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices/patch).
 * Objects merge member by member, arrays and scalars replace, null removes.
 */
export function mergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = clone(target);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (typeof v === "object" && !Array.isArray(v)) {
      const cur = out[k];
      out[k] = mergePatch(cur && typeof cur === "object" && !Array.isArray(cur) ? cur : {}, v as JsonObject);
    } else out[k] = clone(v);
  }
  return out;
}

/** OUTPUT_ONLY are the fields the server owns; a write that sends them is not changing them. */
export const OUTPUT_ONLY = [
  "kind",
  "id",
  "creationTimestamp",
  "selfLink",
  "fingerprint",
  "name",
  "region",
] as const;

/** withoutOutputOnly drops the server-owned fields from a request resource. */
export function withoutOutputOnly(resource: JsonObject): JsonObject {
  const out = clone(resource);
  for (const k of OUTPUT_ONLY) delete out[k];
  return out;
}

/** ListOptions describe one Compute list response. */
export interface ListOptions {
  /** e.g. `compute#backendServiceList`. */
  readonly kind: string;
  /** The collection's relative name, e.g. `projects/p/global/backendServices`. */
  readonly collection: string;
}

/**
 * listPage answers a Compute list call: `filter` as Compute evaluates it, `orderBy`
 * (only `name` and `creationTimestamp desc` are supported, as the API documents),
 * `maxResults` 0–500 with 500 the default, and an opaque `pageToken`
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices/list).
 */
export function listPage(items: readonly JsonObject[], req: SimRequest, options: ListOptions): JsonObject {
  const filter = field(req.body, "filter", "filter");
  const orderBy = field(req.body, "orderBy", "order_by");
  const maxResults = Number(field(req.body, "maxResults", "max_results") ?? 0);
  if (!Number.isInteger(maxResults) || maxResults < 0) {
    throw invalid(
      `Invalid value for field 'maxResults': '${maxResults}'. Must be greater than or equal to 0`,
    );
  }
  if (maxResults > 500) {
    throw invalid(`Invalid value for field 'maxResults': '${maxResults}'. Must be less than or equal to 500`);
  }
  const matches = typeof filter === "string" && filter.trim() !== "" ? compileFilter(filter) : () => true;
  const selected = items.filter(matches);
  if (orderBy === "creationTimestamp desc") {
    selected.sort((a, b) => String(b["creationTimestamp"]).localeCompare(String(a["creationTimestamp"])));
  } else {
    selected.sort((a, b) => String(a["name"]).localeCompare(String(b["name"])));
  }
  let page: { items: JsonObject[]; nextPageToken: string | undefined };
  try {
    page = paginate(selected, maxResults, field(req.body, "pageToken", "page_token") as string | undefined, {
      defaultSize: 500,
      maxSize: 500,
    });
  } catch {
    throw invalid("Invalid value for field 'pageToken'. Invalid page token.");
  }
  return {
    kind: options.kind,
    id: options.collection,
    selfLink: computeUrl(options.collection),
    ...(page.items.length > 0 ? { items: page.items } : {}),
    ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}),
  };
}
