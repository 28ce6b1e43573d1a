/**
 * What the three lease backends (file://, gs://, k8s://) share: the record they store,
 * the compare-and-swap store each implements, and the errors they raise.
 *
 * The record is Kubernetes' coordination.k8s.io/v1 LeaseSpec
 * (https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/lease-v1/):
 * holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions. The
 * protocol on top of it is client-go's leader election
 * (k8s.io/client-go/tools/leaderelection, `tryAcquireOrRenew`): a store only has to get
 * the record with a version and create or update it only if that version is still the
 * current one.
 */

/** LeaseRecord is the lease as every backend stores it. */
export interface LeaseRecord {
  /** Who holds it; empty once released (client-go's release writes an empty holder). */
  readonly holderIdentity: string;
  /** How long the holder may go without renewing before a candidate takes over. */
  readonly leaseDurationSeconds: number;
  /** When the holder took it (RFC 3339), for people. */
  readonly acquireTime: string;
  /** The holder's last renewal (RFC 3339), for people: candidates never compare it with their clock. */
  readonly renewTime: string;
  /**
   * How many times the lease changed hands: the term. Every new holder gets a higher one,
   * so a write's log line and `/status` say under which term it was made.
   */
  readonly leaseTransitions: number;
}

/** Versioned is a record with the store's version of it (generation, resourceVersion, content hash). */
export interface Versioned {
  readonly record: LeaseRecord;
  /** Opaque: only compared for equality and handed back to `update`. */
  readonly version: string;
}

/**
 * LeaseStore is one backend: a single record with compare-and-swap. `create` and
 * `update` fail with {@link LeaseConflictError} when the record is not (or no longer)
 * as expected, and with {@link LeaseError} when the store cannot be reached or refuses.
 */
export interface LeaseStore {
  /** The lease's URL, e.g. `gs://capstan-leases/staging/lease`. */
  readonly url: string;
  /** get reads the record; undefined when there is none. */
  get(signal: AbortSignal): Promise<Versioned | undefined>;
  /** create writes the first record, only if there is none; returns its version. */
  create(record: LeaseRecord, signal: AbortSignal): Promise<string>;
  /** update replaces the record, only if its version is still `version`; returns the new version. */
  update(record: LeaseRecord, version: string, signal: AbortSignal): Promise<string>;
  /**
   * holderAlive says whether the record's holder lives, when the store can tell for sure
   * (the file store asks the OS about a holder's pid on the same host): `false` is taken
   * over at once, `true` never; undefined (or no such method) leaves it to the lease
   * duration. Optional.
   */
  holderAlive?(versioned: Versioned): boolean | undefined;
  /** close releases connections. Optional. */
  close?(): Promise<void>;
}

/** LeaseConflictError is a create or update whose precondition did not hold: someone else wrote first. */
export class LeaseConflictError extends Error {
  readonly code = "LEASE_CONFLICT";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "LeaseConflictError";
  }
}

/** LeaseError is a lease store that cannot be read or written (unreachable, no permission, bad URL). */
export class LeaseError extends Error {
  readonly code = "LEASE_ERROR";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "LeaseError";
  }
}

/** LeaseLostError is a write refused by fencing: this process no longer holds the lease for its term. */
export class LeaseLostError extends Error {
  readonly code = "LEASE_LOST";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "LeaseLostError";
  }
}

/** LeaseStatus is the lease as `/status` shows it. */
export interface LeaseStatus {
  readonly url: string;
  /** `leader`: held and fresh; `standby`: another holds it (or nobody yet); `lost`: held until `lost.at`. */
  readonly state: "leader" | "standby" | "lost";
  /** The holder last seen (this process when leader). */
  readonly holder: string | undefined;
  /** The term of the record last seen; this process's own term while leader. */
  readonly term: number | undefined;
  /** When this process last confirmed its hold (RFC 3339, its own clock). */
  readonly renewedAt: string | undefined;
  /** Why and when this process stopped leading, while it has not led again since. */
  readonly lost: { readonly at: string; readonly term: number; readonly reason: string } | undefined;
  /** The last error talking to the store, while it lasts. */
  readonly error: string | undefined;
}

/**
 * Lease is what the controller uses: the leader election over one store, with fencing.
 * `fence` is the cheap check before each write (no I/O); `verify` re-reads the store and
 * is for disruptive writes.
 */
export interface Lease {
  readonly identity: string;
  readonly url: string;
  readonly leaseDurationMs: number;
  /** held says whether this process leads, as of its last round or fence. */
  readonly held: boolean;
  /** term is this process's term while it leads. */
  readonly term: number | undefined;
  /** tryAcquireOrRenew runs one round of the election and says whether this process leads. */
  tryAcquireOrRenew(): Promise<boolean>;
  /**
   * fence returns the term when this process may write now: it leads, and its last
   * confirmed renewal is younger than the renew deadline. Otherwise it gives the
   * lease up and throws {@link LeaseLostError}. No I/O.
   */
  fence(): number;
  /** verify re-reads the store and returns the term when this process still holds it; else like fence. */
  verify(signal?: AbortSignal): Promise<number>;
  /**
   * expiresInMs says, for a standby, how long until the record it last saw expires by
   * its own clock (0 once expired), so it can look again right then; undefined while it
   * leads or has seen no record.
   */
  expiresInMs(): number | undefined;
  /** release gives the lease up, so a standby takes over at once. */
  release(): Promise<void>;
  /** status is the lease as `/status` shows it. */
  status(): LeaseStatus;
  /** close releases the store's connections. */
  close(): Promise<void>;
}
