import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Clock } from "../clock/index.ts";
import {
  type Lease,
  LeaseConflictError,
  LeaseLostError,
  type LeaseRecord,
  type LeaseStatus,
  type LeaseStore,
  type Versioned,
} from "./types.ts";

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  readonly store: LeaseStore;
  readonly clock: Clock;
  /**
   * This process's identity, unique per process start.
   * @default `${hostname}-${pid}-${random}`
   */
  readonly identity?: string;
  /**
   * How long a record may go unrenewed before a candidate takes it over, in clock ms
   * (client-go's LeaseDuration, default 15 s).
   * @default 15_000
   */
  readonly leaseDurationMs?: number;
  /**
   * How long after its last confirmed renewal the leader still writes, in clock ms
   * (client-go's RenewDeadline, default 10 s). The gap to the lease duration is the
   * safety margin that covers the write in flight and clock-rate differences: a
   * candidate takes over no sooner than a lease duration after it saw the last renewal,
   * which was sent after the time the leader counts from.
   * @default two thirds of leaseDurationMs
   */
  readonly renewDeadlineMs?: number;
  /**
   * Longest wait for one call to the store, in clock ms.
   * @default a third of leaseDurationMs
   */
  readonly callTimeoutMs?: number;
}

function positive(name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0)
    throw new TypeError(`Expected \`${name}\` to be a finite number > 0, got \`${v}\``);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** defaultIdentity is `${hostname}-${pid}-${random}`: unique per process start, readable in logs. */
export function defaultIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/**
 * LeaderElector is client-go's leader election (k8s.io/client-go/tools/leaderelection,
 * `tryAcquireOrRenew`, `release`) over any {@link LeaseStore}, plus fencing:
 * - the leader renews with the version it last wrote (the fast path); on a conflict it
 *   reads the record again;
 * - a candidate never compares the record's renewTime with its own clock (clocks differ
 *   between hosts): it notes when it last saw the record change and deems it expired a
 *   record duration later, by its own clock;
 * - taking over (or taking a released lease) increments leaseTransitions, the term, and
 *   is an update conditioned on the version seen expiring, so of two candidates one wins;
 * - the leader keeps writing only while its last confirmed renewal (counted from
 *   before the renewal was sent) is younger than the renew deadline. A leader that cannot
 *   renew (partitioned from the store) stops before any candidate can take over.
 */
export class LeaderElector implements Lease {
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly #store: LeaseStore;
  readonly #clock: Clock;
  readonly #callTimeoutMs: number;
  #held = false;
  /** The record last seen or written, and when (own clock) it was first seen so. */
  #observed: Versioned | undefined;
  #observedAt = 0;
  /** Own clock time before the last successful write of this process's hold. */
  #confirmedAt: number | undefined;
  #term: number | undefined;
  #lost: { at: string; term: number; reason: string } | undefined;
  #error: string | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.identity = options.identity ?? defaultIdentity();
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? (this.leaseDurationMs * 2) / 3;
    this.#callTimeoutMs = options.callTimeoutMs ?? this.leaseDurationMs / 3;
    positive("leaseDurationMs", this.leaseDurationMs);
    positive("renewDeadlineMs", this.renewDeadlineMs);
    positive("callTimeoutMs", this.#callTimeoutMs);
    if (this.renewDeadlineMs >= this.leaseDurationMs) {
      throw new TypeError(
        `Expected \`renewDeadlineMs\` (${this.renewDeadlineMs}) to be shorter than \`leaseDurationMs\` (${this.leaseDurationMs})`,
      );
    }
    if (!this.identity) throw new TypeError("Expected `identity` to be a non-empty string");
  }

  get url(): string {
    return this.#store.url;
  }

  get held(): boolean {
    return this.#held;
  }

  get term(): number | undefined {
    return this.#held ? this.#term : undefined;
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const started = this.#clock.now();
    try {
      const held = await this.#round(started);
      this.#error = undefined;
      return held;
    } catch (err) {
      this.#error = messageOf(err);
      // A leader that cannot reach the store keeps its hold until the renew deadline
      // (client-go retries until RenewDeadline), then gives it up.
      if (this.#held) this.#checkDeadline();
      return this.#held;
    }
  }

  async #round(started: number): Promise<boolean> {
    const now = this.#iso(started);
    // 1. The fast path: the leader renews optimistically with the version it wrote.
    if (this.#held && this.#observed) {
      const rec: LeaseRecord = {
        ...this.#observed.record,
        renewTime: now,
        leaseDurationSeconds: this.leaseDurationMs / 1000,
      };
      try {
        const version = await this.#call((s) => this.#store.update(rec, this.#observed!.version, s));
        this.#confirm(rec, version, started);
        return true;
      } catch (err) {
        if (!(err instanceof LeaseConflictError)) throw err;
        // Someone wrote the record: read it and decide afresh (the slow path).
      }
    }
    // 2. Read the record, or create it.
    const cur = await this.#call((s) => this.#store.get(s));
    if (!cur) {
      const rec = this.#fresh(now, (this.#observed?.record.leaseTransitions ?? -1) + 1);
      try {
        const version = await this.#call((s) => this.#store.create(rec, s));
        this.#confirm(rec, version, started);
        return true;
      } catch (err) {
        if (err instanceof LeaseConflictError) return this.#lose("another instance created the lease first");
        throw err;
      }
    }
    if (cur.version !== this.#observed?.version) {
      this.#observed = cur;
      this.#observedAt = this.#clock.now();
    }
    const rec = cur.record;
    const mine = rec.holderIdentity === this.identity;
    if (!mine && rec.holderIdentity !== "" && !this.#expired(cur)) {
      return this.#lose(`${rec.holderIdentity} holds it (term ${rec.leaseTransitions})`);
    }
    // 3. Free, expired, or ours: write our hold with the version just read.
    const next: LeaseRecord = mine
      ? { ...rec, renewTime: now, leaseDurationSeconds: this.leaseDurationMs / 1000 }
      : this.#fresh(now, rec.leaseTransitions + 1);
    try {
      const version = await this.#call((s) => this.#store.update(next, cur.version, s));
      this.#confirm(next, version, started);
      return true;
    } catch (err) {
      if (err instanceof LeaseConflictError) return this.#lose("another instance wrote the lease first");
      throw err;
    }
  }

  fence(): number {
    if (!this.#held || this.#term === undefined) {
      throw new LeaseLostError(
        this.#lost
          ? `lost the lease (term ${this.#lost.term}): ${this.#lost.reason}; not writing`
          : "this instance does not hold the lease; not writing",
      );
    }
    this.#checkDeadline();
    if (!this.#held) return this.fence();
    return this.#term;
  }

  async verify(signal?: AbortSignal): Promise<number> {
    const term = this.fence();
    let cur: Versioned | undefined;
    try {
      cur = await this.#call((s) => this.#store.get(signal ? AbortSignal.any([s, signal]) : s));
    } catch (err) {
      // Not knowing is not enough to write something disruptive.
      throw new LeaseLostError(`could not re-read the lease before a disruptive write: ${messageOf(err)}`, {
        cause: err,
      });
    }
    const rec = cur?.record;
    if (rec?.holderIdentity !== this.identity || rec.leaseTransitions !== term) {
      this.#lose(
        rec?.holderIdentity
          ? `${rec.holderIdentity} took it over (term ${rec.leaseTransitions})`
          : "the lease was deleted or released",
      );
    }
    // Throws when lost above, or when the re-read outlasted the renew deadline.
    return this.fence();
  }

  expiresInMs(): number | undefined {
    const seen = this.#observed;
    if (this.#held || !seen || !seen.record.holderIdentity) return undefined;
    // Just past the expiry, so the round that follows finds it expired.
    return Math.max(0, this.#observedAt + seen.record.leaseDurationSeconds * 1000 - this.#clock.now()) + 1;
  }

  async release(): Promise<void> {
    if (!this.#held || !this.#observed) return;
    const observed = this.#observed;
    this.#held = false;
    this.#term = undefined;
    // client-go's release: an empty holder, a 1-second duration, the same transitions.
    const rec: LeaseRecord = {
      ...observed.record,
      holderIdentity: "",
      leaseDurationSeconds: 1,
      renewTime: this.#iso(this.#clock.now()),
    };
    try {
      const version = await this.#call((s) => this.#store.update(rec, observed.version, s));
      this.#observed = { record: rec, version };
    } catch (err) {
      // Someone took it already, or the store is unreachable: it expires on its own.
      if (!(err instanceof LeaseConflictError)) throw err;
    }
  }

  status(): LeaseStatus {
    const rec = this.#observed?.record;
    return {
      url: this.url,
      state: this.#held ? "leader" : this.#lost ? "lost" : "standby",
      holder: this.#held ? this.identity : rec?.holderIdentity || undefined,
      term: this.#held ? this.#term : rec?.leaseTransitions,
      renewedAt: this.#held && this.#confirmedAt !== undefined ? this.#iso(this.#confirmedAt) : undefined,
      lost: this.#lost,
      error: this.#error,
    };
  }

  async close(): Promise<void> {
    await this.#store.close?.();
  }

  #fresh(now: string, transitions: number): LeaseRecord {
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: transitions,
    };
  }

  #confirm(rec: LeaseRecord, version: string, started: number): void {
    this.#observed = { record: rec, version };
    this.#observedAt = this.#clock.now();
    this.#confirmedAt = started;
    this.#term = rec.leaseTransitions;
    this.#held = true;
    this.#lost = undefined;
  }

  /** Gives the hold up (remembering why, while it was held) and returns false. */
  #lose(reason: string): false {
    if (this.#held && this.#term !== undefined) {
      this.#lost = { at: this.#iso(this.#clock.now()), term: this.#term, reason };
    }
    this.#held = false;
    this.#term = undefined;
    return false;
  }

  #checkDeadline(): void {
    if (this.#confirmedAt === undefined) return;
    const age = this.#clock.now() - this.#confirmedAt;
    if (age >= this.renewDeadlineMs) {
      this.#lose(
        `not renewed for ${Math.round(age / 100) / 10}s (renew deadline ${this.renewDeadlineMs / 1000}s)${this.#error ? `: ${this.#error}` : ""}`,
      );
    }
  }

  #expired(cur: Versioned): boolean {
    const alive = this.#store.holderAlive?.(cur);
    if (alive !== undefined) return !alive;
    return this.#clock.now() - this.#observedAt >= cur.record.leaseDurationSeconds * 1000;
  }

  #iso(ms: number): string {
    return new Date(ms).toISOString();
  }

  /** Runs one store call, abandoning it after the call timeout (clock time). */
  async #call<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const timer = new AbortController();
    const timeout = this.#clock.sleep(this.#callTimeoutMs, timer.signal).then(
      () => {
        const err = new Error(`the lease store did not answer within ${this.#callTimeoutMs / 1000}s`);
        abort.abort(err);
        throw err;
      },
      () => new Promise<never>(() => {}),
    );
    try {
      return await Promise.race([fn(abort.signal), timeout]);
    } finally {
      timer.abort();
    }
  }
}
