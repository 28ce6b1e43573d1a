/**
 * The `gs://BUCKET/OBJECT` lease: one Cloud Storage object, through the real
 * `@google-cloud/storage` client, with the JSON API's preconditions as compare-and-swap
 * (https://cloud.google.com/storage/docs/json_api/v1/objects and
 * https://cloud.google.com/storage/docs/request-preconditions):
 * - acquire: objects.insert with `ifGenerationMatch=0`, which only succeeds when no live
 *   object exists (GCS answers 412 conditionNotMet otherwise);
 * - renew, take over and release: objects.patch of the object's custom metadata with
 *   `ifGenerationMatch=<generation>` and `ifMetagenerationMatch=<metageneration>` as
 *   read. Every metadata update increments the metageneration, so of two writers that
 *   read the same version exactly one succeeds and the other gets 412.
 * The record (holder, term, renew time, duration) lives in the object's custom metadata,
 * so one objects.get reads it; the object's content only says what the object is.
 *
 * The client's own retries are off: the elector retries every renew interval and must
 * see a failed renewal at once, not after the client's backoff on its real-time timers.
 */
import type { Storage } from "@google-cloud/storage";
import {
  LeaseConflictError,
  LeaseError,
  type LeaseRecord,
  type LeaseStore,
  type Versioned,
} from "./types.ts";

/**
 * GCS_LEASE_ROLE is the predefined role that grants what the store calls need on the
 * lease's bucket: storage.objects.get (objects.get), .create (objects.insert) and
 * .update (objects.patch) (https://cloud.google.com/storage/docs/access-control/iam-roles).
 */
export const GCS_LEASE_ROLE = "roles/storage.objectUser";

/** Options of {@link GcsLeaseStore}. */
export interface GcsLeaseStoreOptions {
  readonly bucket: string;
  /** The object name, e.g. `capstan/staging/lease`. */
  readonly object: string;
  /** A client made by {@link gcsClient}. */
  readonly storage: Storage;
}

/** The custom metadata keys of the record (GCS custom metadata values are strings). */
const KEYS = [
  "holderIdentity",
  "leaseDurationSeconds",
  "acquireTime",
  "renewTime",
  "leaseTransitions",
] as const;

interface ObjectMetadata {
  readonly generation?: string | number;
  readonly metageneration?: string | number;
  readonly metadata?: Record<string, string | number | boolean | null>;
}

/** ApiError as the storage client raises it: HTTP status in `code`, GCS's `errors[]`. */
interface StorageApiError {
  readonly code?: number | string;
  readonly message?: string;
  readonly errors?: readonly { readonly reason?: string; readonly message?: string }[];
}

/**
 * gcsClient makes the storage client: Application Default Credentials against Google,
 * or, against a custom endpoint (the simulator), that endpoint with a placeholder
 * bearer token. The client sends no credentials to a custom endpoint unless told to
 * (`useAuthWithCustomEndpoint`), and the simulator, like GCS, refuses calls without one.
 */
export async function gcsClient(options: {
  endpoint?: string | undefined;
  token?: string;
}): Promise<Storage> {
  const { Storage } = await import("@google-cloud/storage");
  const retryOptions = { autoRetry: false };
  if (!options.endpoint) return new Storage({ retryOptions });
  const { OAuth2Client } = await import("google-auth-library");
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: options.token ?? "capstan-sim-token" });
  return new Storage({
    apiEndpoint: options.endpoint.replace(/\/$/, ""),
    useAuthWithCustomEndpoint: true,
    authClient: auth,
    projectId: "capstan-sim",
    retryOptions,
  });
}

/** GcsLeaseStore is the Cloud Storage object store described in this module's comment. */
export class GcsLeaseStore implements LeaseStore {
  readonly url: string;
  readonly #o: GcsLeaseStoreOptions;

  constructor(options: GcsLeaseStoreOptions) {
    this.#o = options;
    this.url = `gs://${options.bucket}/${options.object}`;
  }

  #file() {
    return this.#o.storage.bucket(this.#o.bucket).file(this.#o.object);
  }

  async get(): Promise<Versioned | undefined> {
    try {
      const [md] = (await this.#file().getMetadata()) as unknown as [ObjectMetadata];
      return this.#versioned(md);
    } catch (err) {
      const e = err as StorageApiError;
      if (Number(e.code) === 404 && !bucketMissing(e)) return undefined;
      throw this.#error("read", err);
    }
  }

  async create(record: LeaseRecord): Promise<string> {
    const file = this.#file();
    try {
      await file.save(
        `${JSON.stringify({ kind: "capstan.dev/lease/v1", note: "the lease record is this object's custom metadata" })}\n`,
        {
          resumable: false,
          contentType: "application/json",
          metadata: { metadata: toMetadata(record) },
          preconditionOpts: { ifGenerationMatch: 0 },
        },
      );
    } catch (err) {
      if (Number((err as StorageApiError).code) === 412) {
        throw new LeaseConflictError(`${this.url} exists already`, { cause: err });
      }
      throw this.#error("create", err);
    }
    return this.#versioned(file.metadata as ObjectMetadata).version;
  }

  async update(record: LeaseRecord, version: string): Promise<string> {
    const [generation, metageneration] = version.split("/");
    try {
      const [md] = (await this.#file().setMetadata(
        { metadata: toMetadata(record) },
        { ifGenerationMatch: generation, ifMetagenerationMatch: metageneration },
      )) as unknown as [ObjectMetadata];
      return this.#versioned(md).version;
    } catch (err) {
      const code = Number((err as StorageApiError).code);
      // 404: the object was deleted since it was read; that is a conflict too.
      if (code === 412 || (code === 404 && !bucketMissing(err as StorageApiError))) {
        throw new LeaseConflictError(`${this.url} changed since it was read`, { cause: err });
      }
      throw this.#error("update", err);
    }
  }

  #versioned(md: ObjectMetadata): Versioned {
    const m = md.metadata ?? {};
    const num = (v: unknown) => (Number.isFinite(Number(v)) ? Number(v) : 0);
    return {
      record: {
        holderIdentity: String(m["holderIdentity"] ?? ""),
        leaseDurationSeconds: num(m["leaseDurationSeconds"]),
        acquireTime: String(m["acquireTime"] ?? ""),
        renewTime: String(m["renewTime"] ?? ""),
        leaseTransitions: num(m["leaseTransitions"]),
      },
      version: `${md.generation}/${md.metageneration}`,
    };
  }

  #error(what: string, err: unknown): LeaseError {
    const e = err as StorageApiError;
    const code = Number(e.code);
    const detail = e.message ?? String(err);
    const hint =
      code === 401
        ? "capstan has no valid credentials: run `gcloud auth application-default login`, or give its runtime a service account"
        : code === 403
          ? `grant capstan's service account ${GCS_LEASE_ROLE} on gs://${this.#o.bucket} (deploy/iam.md)`
          : code === 404
            ? `create the bucket first: gcloud storage buckets create gs://${this.#o.bucket}`
            : code === 429
              ? "Cloud Storage throttled the lease object's writes; it is retried at the next renewal"
              : "it is retried at the next renewal";
    return new LeaseError(`could not ${what} the lease ${this.url}: ${detail}; ${hint}`, { cause: err });
  }
}

function bucketMissing(e: StorageApiError): boolean {
  return (
    /bucket does not exist/i.test(e.message ?? "") ||
    (e.errors ?? []).some((x) => /bucket/i.test(x.message ?? ""))
  );
}

function toMetadata(record: LeaseRecord): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of KEYS) out[k] = String(record[k]);
  return out;
}
