import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Clock } from "../clock/index.ts";
import { LeaderElector } from "./elector.ts";
import { FileLeaseStore } from "./file.ts";
import { LeaseError, type LeaseStore } from "./types.ts";

/** LeaseLocation is a parsed `--lease` URL. */
export type LeaseLocation =
  | { readonly scheme: "file"; readonly path: string }
  | { readonly scheme: "gs"; readonly bucket: string; readonly object: string }
  | { readonly scheme: "k8s"; readonly namespace: string; readonly name: string };

const EXPECTED = "expected gs://BUCKET/OBJECT, k8s://NAMESPACE/NAME or file://PATH (a plain path is a file)";

/**
 * parseLeaseUrl reads a `--lease` value. Bucket names follow
 * https://cloud.google.com/storage/docs/buckets#naming, namespaces and Lease names
 * Kubernetes' DNS-1123 rules (https://kubernetes.io/docs/concepts/overview/working-with-objects/names/).
 */
export function parseLeaseUrl(value: string, cwd = process.cwd()): LeaseLocation {
  if (!/^[a-z0-9]+:\/\//i.test(value)) return { scheme: "file", path: resolve(cwd, value) };
  const scheme = value.slice(0, value.indexOf(":")).toLowerCase();
  const rest = value.slice(scheme.length + 3);
  if (scheme === "file") {
    const path = fileURLToPath(new URL(value));
    return { scheme: "file", path: isAbsolute(path) ? path : resolve(cwd, path) };
  }
  if (scheme === "gs") {
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const object = slash < 0 ? "" : rest.slice(slash + 1);
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) {
      throw new LeaseError(`--lease ${value}: \`${bucket}\` is not a Cloud Storage bucket name; ${EXPECTED}`);
    }
    if (!object || object.endsWith("/") || object.length > 1024) {
      throw new LeaseError(`--lease ${value}: name the lease object after the bucket; ${EXPECTED}`);
    }
    return { scheme: "gs", bucket, object };
  }
  if (scheme === "k8s") {
    const parts = rest.split("/");
    const dns = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
    const sub = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
    if (
      parts.length !== 2 ||
      !dns.test(parts[0]!) ||
      parts[0]!.length > 63 ||
      !sub.test(parts[1]!) ||
      parts[1]!.length > 253
    ) {
      throw new LeaseError(
        `--lease ${value}: a Kubernetes lease is k8s://NAMESPACE/NAME with lowercase DNS names, e.g. k8s://capstan/capstan-leader`,
      );
    }
    return { scheme: "k8s", namespace: parts[0]!, name: parts[1]! };
  }
  throw new LeaseError(`--lease ${value}: unknown scheme \`${scheme}\`; ${EXPECTED}`);
}

/**
 * shardLease gives shard `index` its own lease beside the named one: `-<index>` after the
 * last path segment (before a file's extension): gs://b/capstan/lease → gs://b/capstan/lease-2,
 * k8s://ns/capstan → k8s://ns/capstan-2, .capstan/lease.json → .capstan/lease-2.json.
 */
export function shardLease(loc: LeaseLocation, index: number): LeaseLocation {
  switch (loc.scheme) {
    case "file": {
      const m = /^(.*?)(\.[^./\\]+)?$/.exec(loc.path)!;
      return { scheme: "file", path: `${m[1]}-${index}${m[2] ?? ""}` };
    }
    case "gs":
      return { ...loc, object: `${loc.object}-${index}` };
    case "k8s":
      return { ...loc, name: `${loc.name}-${index}` };
  }
}

/** Options of {@link openLease}. */
export interface OpenLeaseOptions {
  readonly clock: Clock;
  readonly identity?: string;
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  /**
   * For gs://: a custom Cloud Storage endpoint (capstan's simulator), reached with a
   * placeholder token; Google with Application Default Credentials when undefined.
   */
  readonly gcsEndpoint?: string | undefined;
  /** The placeholder bearer token sent to a custom endpoint. */
  readonly gcsToken?: string;
}

/**
 * openLease builds the leader election over the store a location names. The Cloud
 * Storage and Kubernetes clients are loaded only when their scheme is used: neither is
 * small, and a process uses one lease.
 */
export async function openLease(loc: LeaseLocation, options: OpenLeaseOptions): Promise<LeaderElector> {
  let store: LeaseStore;
  switch (loc.scheme) {
    case "file":
      store = new FileLeaseStore({ path: loc.path });
      break;
    case "gs": {
      const { GcsLeaseStore, gcsClient } = await import("./gcs.ts");
      const storage = await gcsClient({
        endpoint: options.gcsEndpoint,
        ...(options.gcsToken ? { token: options.gcsToken } : {}),
      });
      store = new GcsLeaseStore({ bucket: loc.bucket, object: loc.object, storage });
      break;
    }
    case "k8s": {
      const { K8sLeaseStore, k8sClient } = await import("./k8s.ts");
      const { api, microTime } = await k8sClient();
      store = new K8sLeaseStore({ namespace: loc.namespace, name: loc.name, api, microTime });
      break;
    }
  }
  return new LeaderElector({
    store,
    clock: options.clock,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.leaseDurationMs !== undefined ? { leaseDurationMs: options.leaseDurationMs } : {}),
    ...(options.renewDeadlineMs !== undefined ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
  });
}
