/**
 * Cloud Storage objects, as the JSON API serves them
 * (https://cloud.google.com/storage/docs/json_api/v1/objects):
 * - `generation` identifies the object's data: a new one (microseconds, increasing) on
 *   every insert; `metageneration` starts at 1 and increases on every metadata update
 *   of that generation (https://cloud.google.com/storage/docs/metadata#generation-number);
 * - preconditions `ifGenerationMatch` (0: no live object may exist),
 *   `ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch` on
 *   insert, get, patch, update and delete; a failed one is 412 `conditionNotMet`, except
 *   a `NotMatch` on a read, which is 304 Not Modified
 *   (https://cloud.google.com/storage/docs/request-preconditions);
 * - patch merges, and a custom metadata key set to null is removed; update replaces
 *   the writable metadata (https://cloud.google.com/storage/docs/json_api/v1/objects/patch,
 *   .../objects/update);
 * - more than one mutation of one object name per second is throttled with 429
 *   `rateLimitExceeded` (https://cloud.google.com/storage/quotas#objects: "one write per
 *   second" to the same object name). GCS tolerates short bursts, so a few are allowed.
 * Errors are the JSON API's own format: `{"error": {"code", "message", "errors": [{"message",
 * "domain", "reason"}]}}` (https://cloud.google.com/storage/docs/json_api/v1/status-codes).
 */
import { createHash } from "node:crypto";
import type { HttpAnswer, JsonObject, SimContext } from "../core/types.ts";

/** StorageError is a Cloud Storage JSON API error. */
export class StorageError extends Error {
  readonly httpCode: number;
  readonly reason: string;
  readonly domain: string;
  readonly extra: Readonly<Record<string, string>>;

  constructor(
    httpCode: number,
    reason: string,
    message: string,
    options: { domain?: string; extra?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "StorageError";
    this.httpCode = httpCode;
    this.reason = reason;
    this.domain = options.domain ?? "global";
    this.extra = options.extra ?? {};
  }

  /** answer renders the error as GCS sends it. */
  answer(): HttpAnswer {
    return {
      status: this.httpCode,
      body: {
        error: {
          code: this.httpCode,
          message: this.message,
          errors: [{ message: this.message, domain: this.domain, reason: this.reason, ...this.extra }],
        },
      },
    };
  }
}

const PRECONDITION = "At least one of the pre-conditions you specified did not hold.";

/** StoredObject is one live object. */
export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  generation: string;
  metageneration: number;
  contentType: string;
  content: string;
  metadata: Record<string, string>;
  /** Other writable metadata (cacheControl, contentDisposition, ...), as sent. */
  extra: Record<string, unknown>;
  timeCreated: string;
  updated: string;
}

/** Writable object metadata (the resource's fields that patch and update accept). */
const WRITABLE = new Set([
  "cacheControl",
  "contentDisposition",
  "contentEncoding",
  "contentLanguage",
  "customTime",
  "eventBasedHold",
  "temporaryHold",
]);

/** Preconditions of a call, as query parameters. */
export interface Preconditions {
  readonly ifGenerationMatch?: string | null;
  readonly ifGenerationNotMatch?: string | null;
  readonly ifMetagenerationMatch?: string | null;
  readonly ifMetagenerationNotMatch?: string | null;
}

/** Options of {@link ObjectStore}. */
export interface ObjectStoreOptions {
  /** Sustained mutations per second of one object name. @default 1 */
  readonly mutationsPerSecond?: number;
  /** Mutations of one object name allowed at once above that rate. @default 5 */
  readonly burst?: number;
}

/** ObjectStore holds the buckets and their live objects (no versioning: a new generation replaces the old). */
export class ObjectStore {
  readonly #ctx: SimContext;
  readonly buckets = new Map<string, JsonObject>();
  readonly #objects = new Map<string, StoredObject>();
  #lastGeneration = 0;
  #rate: { perSecond: number; burst: number };
  /** Token buckets of the per-object mutation limit. */
  readonly #tokens = new Map<string, { tokens: number; at: number }>();

  constructor(ctx: SimContext, options: ObjectStoreOptions = {}) {
    this.#ctx = ctx;
    this.#rate = { perSecond: options.mutationsPerSecond ?? 1, burst: options.burst ?? 5 };
  }

  /** configure sets the per-object mutation rate. */
  configure(options: ObjectStoreOptions): void {
    this.#rate = { perSecond: options.mutationsPerSecond ?? 1, burst: options.burst ?? 5 };
    this.#tokens.clear();
  }

  clear(): void {
    this.buckets.clear();
    this.#objects.clear();
    this.#tokens.clear();
  }

  bucket(name: string): JsonObject {
    const b = this.buckets.get(name);
    if (!b) throw new StorageError(404, "notFound", "The specified bucket does not exist.");
    return b;
  }

  /** get returns the live object, checking the preconditions of a read. */
  get(bucket: string, name: string, pre: Preconditions, generation?: string | null): StoredObject {
    this.bucket(bucket);
    const o = this.#objects.get(key(bucket, name));
    if (!o || (generation && generation !== o.generation)) {
      throw new StorageError(404, "notFound", `No such object: ${bucket}/${name}`);
    }
    this.#check(o, pre, true);
    return o;
  }

  list(bucket: string, prefix: string): StoredObject[] {
    this.bucket(bucket);
    return [...this.#objects.values()]
      .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** insert writes a new generation of an object. */
  insert(
    bucket: string,
    name: string,
    input: { content: string; contentType?: string; metadata?: JsonObject },
    pre: Preconditions,
  ): StoredObject {
    this.bucket(bucket);
    if (!name) throw new StorageError(400, "required", "Required");
    const current = this.#objects.get(key(bucket, name));
    if (pre.ifGenerationMatch === "0" && current) throw preconditionFailed();
    if (current) this.#check(current, pre, false);
    else if (pre.ifGenerationMatch != null && pre.ifGenerationMatch !== "0") throw preconditionFailed();
    this.#throttle(bucket, name);
    const now = this.#ctx.nowIso();
    const md = input.metadata ?? {};
    const o: StoredObject = {
      bucket,
      name,
      generation: this.#nextGeneration(),
      metageneration: 1,
      contentType: input.contentType || String(md["contentType"] ?? "") || "application/octet-stream",
      content: input.content,
      metadata: customMetadata({}, md["metadata"], true),
      extra: pick(md),
      timeCreated: now,
      updated: now,
    };
    this.#objects.set(key(bucket, name), o);
    return o;
  }

  /** patch merges metadata into the live object (`replace`: objects.update semantics). */
  patch(bucket: string, name: string, body: JsonObject, pre: Preconditions, replace: boolean): StoredObject {
    const o = this.get(bucket, name, {}, undefined);
    this.#check(o, pre, false);
    this.#throttle(bucket, name);
    if (replace) {
      o.metadata = customMetadata({}, body["metadata"], true);
      o.extra = pick(body);
      if (body["contentType"] !== undefined) o.contentType = String(body["contentType"]);
    } else {
      o.metadata = customMetadata(o.metadata, body["metadata"], false);
      o.extra = { ...o.extra, ...pick(body) };
      if (body["contentType"] !== undefined) o.contentType = String(body["contentType"]);
    }
    o.metageneration += 1;
    o.updated = this.#ctx.nowIso();
    return o;
  }

  delete(bucket: string, name: string, pre: Preconditions): void {
    const o = this.get(bucket, name, {}, undefined);
    this.#check(o, pre, false);
    this.#throttle(bucket, name);
    this.#objects.delete(key(bucket, name));
  }

  /** resource renders an object as the JSON API's Object resource. */
  resource(o: StoredObject): JsonObject {
    const path = `b/${o.bucket}/o/${encodeURIComponent(o.name)}`;
    const md5 = createHash("md5").update(o.content).digest("base64");
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `https://www.googleapis.com/storage/v1/${path}`,
      mediaLink: `https://storage.googleapis.com/download/storage/v1/${path}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: String(o.metageneration),
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(Buffer.byteLength(o.content)),
      md5Hash: md5,
      crc32c: crc32c(o.content),
      etag: Buffer.from(`${o.generation}/${o.metageneration}`).toString("base64"),
      timeCreated: o.timeCreated,
      updated: o.updated,
      timeStorageClassUpdated: o.timeCreated,
      ...o.extra,
      ...(Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
    };
  }

  /** dump lists the live objects in fixture form. */
  dump(): JsonObject[] {
    return [...this.#objects.values()].map((o) => ({
      bucket: o.bucket,
      name: o.name,
      generation: o.generation,
      metageneration: o.metageneration,
      contentType: o.contentType,
      content: o.content,
      ...(Object.keys(o.metadata).length ? { metadata: o.metadata } : {}),
    }));
  }

  /** restore puts a dumped object back as it was. */
  restore(o: JsonObject): void {
    const now = this.#ctx.nowIso();
    const generation = String(o["generation"] ?? this.#nextGeneration());
    this.#lastGeneration = Math.max(this.#lastGeneration, Number(generation));
    this.#objects.set(key(String(o["bucket"]), String(o["name"])), {
      bucket: String(o["bucket"]),
      name: String(o["name"]),
      generation,
      metageneration: Number(o["metageneration"] ?? 1),
      contentType: String(o["contentType"] ?? "application/octet-stream"),
      content: String(o["content"] ?? ""),
      metadata: customMetadata({}, o["metadata"], true),
      extra: {},
      timeCreated: now,
      updated: now,
    });
  }

  #nextGeneration(): string {
    // GCS generations are microsecond timestamps in practice; only their order matters.
    this.#lastGeneration = Math.max(this.#lastGeneration + 1, Math.floor(this.#ctx.now() * 1000));
    return String(this.#lastGeneration);
  }

  #check(o: StoredObject, pre: Preconditions, read: boolean): void {
    const notModified = () =>
      read ? new StorageError(304, "notModified", "Not Modified") : preconditionFailed();
    if (pre.ifGenerationMatch != null && pre.ifGenerationMatch !== o.generation) throw preconditionFailed();
    if (pre.ifMetagenerationMatch != null && pre.ifMetagenerationMatch !== String(o.metageneration)) {
      throw preconditionFailed();
    }
    if (pre.ifGenerationNotMatch != null && pre.ifGenerationNotMatch === o.generation) throw notModified();
    if (pre.ifMetagenerationNotMatch != null && pre.ifMetagenerationNotMatch === String(o.metageneration)) {
      throw notModified();
    }
  }

  #throttle(bucket: string, name: string): void {
    const k = key(bucket, name);
    const now = this.#ctx.now();
    const { perSecond, burst } = this.#rate;
    const t = this.#tokens.get(k) ?? { tokens: burst, at: now };
    t.tokens = Math.min(burst, t.tokens + ((now - t.at) / 1000) * perSecond);
    t.at = now;
    if (t.tokens < 1) {
      this.#tokens.set(k, t);
      throw new StorageError(
        429,
        "rateLimitExceeded",
        `The object ${bucket}/${name} exceeded the rate limit for object mutation operations (create, update, and delete). Please reduce your request rate. See https://cloud.google.com/storage/docs/gcs429.`,
        { domain: "usageLimits" },
      );
    }
    t.tokens -= 1;
    this.#tokens.set(k, t);
  }
}

function key(bucket: string, name: string): string {
  return `${bucket}\u0000${name}`;
}

function preconditionFailed(): StorageError {
  return new StorageError(412, "conditionNotMet", PRECONDITION, {
    extra: { locationType: "header", location: "If-Match" },
  });
}

function pick(body: JsonObject): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (WRITABLE.has(k) && v !== null) out[k] = v;
  return out;
}

/** Custom metadata values are strings; on patch a null value removes its key. */
function customMetadata(
  base: Record<string, string>,
  patch: unknown,
  replace: boolean,
): Record<string, string> {
  const out: Record<string, string> = replace ? {} : { ...base };
  if (patch && typeof patch === "object") {
    for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
      if (v === null) delete out[k];
      else out[k] = String(v);
    }
  }
  return out;
}

let CRC_TABLE: Uint32Array | undefined;

/** crc32c is the Castagnoli CRC of the content, big-endian, base64, as GCS reports it. */
export function crc32c(content: string): string {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of Buffer.from(content)) crc = CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}
