/**
 * The `k8s://NAMESPACE/NAME` lease: a coordination.k8s.io/v1 Lease
 * (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/),
 * through the real `@kubernetes/client-node` (its 1.x+ fetch-based generated client),
 * configured the way kubectl is: $KUBECONFIG or ~/.kube/config, else the pod's
 * in-cluster service account.
 *
 * Compare-and-swap is the API server's optimistic concurrency
 * (https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions): a
 * replace carries the `metadata.resourceVersion` that was read, and the server answers
 * 409 with a Status of reason `Conflict` when the Lease changed since; a create of a
 * Lease that exists answers 409 `AlreadyExists`. This is what client-go's
 * `resourcelock.LeaseLock` does. The Role it needs: get, create, update on that Lease
 * (deploy/kubernetes/capstan.yaml).
 */
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import {
  LeaseConflictError,
  LeaseError,
  type LeaseRecord,
  type LeaseStore,
  type Versioned,
} from "./types.ts";

/**
 * K8S_LEASE_VERBS are the RBAC verbs the store's calls need: get (read) and update
 * (replace) on the Lease by name, create on leases (RBAC cannot limit create by name).
 * deploy/kubernetes's Roles grant exactly these (test/deploy/manifests.test.ts).
 */
export const K8S_LEASE_VERBS = { named: ["get", "update"], create: ["create"] } as const;

/** Options of {@link K8sLeaseStore}. */
export interface K8sLeaseStoreOptions {
  readonly namespace: string;
  readonly name: string;
  /** A client made by {@link k8sClient}. */
  readonly api: CoordinationV1Api;
  /** Builds the MicroTime values the API server requires (six fractional digits). */
  readonly microTime: (iso: string) => Date;
}

/** ApiException as the generated client raises it. */
interface K8sApiError {
  readonly code?: number;
  readonly body?: unknown;
}

/** k8sClient makes the Lease client from the default kubeconfig chain (kubectl's). */
export async function k8sClient(): Promise<{ api: CoordinationV1Api; microTime: (iso: string) => Date }> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (err) {
    throw new LeaseError(
      `could not load a Kubernetes configuration: ${(err as Error).message}; set KUBECONFIG, or run in a pod with a service account`,
      { cause: err },
    );
  }
  if (!kc.getCurrentCluster()) {
    throw new LeaseError(
      "no Kubernetes cluster configured for a k8s:// lease: set KUBECONFIG (or ~/.kube/config), or run in a pod with a service account",
    );
  }
  return { api: kc.makeApiClient(k8s.CoordinationV1Api), microTime: (iso) => new k8s.V1MicroTime(iso) };
}

/** K8sLeaseStore is the Kubernetes Lease store described in this module's comment. */
export class K8sLeaseStore implements LeaseStore {
  readonly url: string;
  readonly #o: K8sLeaseStoreOptions;
  /** The Lease last read or written, so a replace keeps its labels and annotations. */
  #last: V1Lease | undefined;

  constructor(options: K8sLeaseStoreOptions) {
    this.#o = options;
    this.url = `k8s://${options.namespace}/${options.name}`;
  }

  async get(): Promise<Versioned | undefined> {
    try {
      const lease = await this.#o.api.readNamespacedLease({
        name: this.#o.name,
        namespace: this.#o.namespace,
      });
      return this.#versioned(lease);
    } catch (err) {
      if ((err as K8sApiError).code === 404) return undefined;
      throw this.#error("read", err);
    }
  }

  async create(record: LeaseRecord): Promise<string> {
    try {
      const lease = await this.#o.api.createNamespacedLease({
        namespace: this.#o.namespace,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: this.#o.name, namespace: this.#o.namespace },
          spec: this.#spec(record),
        },
      });
      return this.#versioned(lease).version;
    } catch (err) {
      if ((err as K8sApiError).code === 409)
        throw new LeaseConflictError(`${this.url} exists already`, { cause: err });
      throw this.#error("create", err);
    }
  }

  async update(record: LeaseRecord, version: string): Promise<string> {
    const meta = this.#last?.metadata ?? {};
    try {
      const lease = await this.#o.api.replaceNamespacedLease({
        name: this.#o.name,
        namespace: this.#o.namespace,
        body: {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { ...meta, name: this.#o.name, namespace: this.#o.namespace, resourceVersion: version },
          spec: this.#spec(record),
        },
      });
      return this.#versioned(lease).version;
    } catch (err) {
      const code = (err as K8sApiError).code;
      // 404: deleted since it was read; a conflict too.
      if (code === 409 || code === 404) {
        throw new LeaseConflictError(`${this.url} changed since it was read`, { cause: err });
      }
      throw this.#error("update", err);
    }
  }

  #spec(r: LeaseRecord) {
    return {
      holderIdentity: r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: this.#o.microTime(r.acquireTime || r.renewTime),
      renewTime: this.#o.microTime(r.renewTime),
      leaseTransitions: r.leaseTransitions,
    };
  }

  #versioned(lease: V1Lease): Versioned {
    this.#last = lease;
    const s = lease.spec ?? {};
    const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : typeof v === "string" ? v : "");
    return {
      record: {
        holderIdentity: s.holderIdentity ?? "",
        leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
        acquireTime: iso(s.acquireTime),
        renewTime: iso(s.renewTime),
        leaseTransitions: s.leaseTransitions ?? 0,
      },
      version: lease.metadata?.resourceVersion ?? "",
    };
  }

  #error(what: string, err: unknown): LeaseError {
    const e = err as K8sApiError;
    const status = (e.body && typeof e.body === "object" ? e.body : {}) as { message?: string };
    const detail = status.message ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
    const hint =
      e.code === 401
        ? "the Kubernetes credentials were refused: check KUBECONFIG or the pod's service account token"
        : e.code === 403
          ? `give capstan's service account a Role with ${[...K8S_LEASE_VERBS.named, ...K8S_LEASE_VERBS.create].join(", ")} on leases.coordination.k8s.io "${this.#o.name}" in namespace ${this.#o.namespace} (deploy/kubernetes/capstan.yaml)`
          : "it is retried at the next renewal";
    return new LeaseError(`could not ${what} the lease ${this.url}: ${detail}; ${hint}`, { cause: err });
  }
}
