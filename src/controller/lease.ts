/**
 * The single-writer lease of `capstan run`.
 *
 * Locally it is a lock file (`lease.json`) holding the holder's id, pid, hostname and
 * renew time, modelled on Kubernetes' coordination.k8s.io/v1 Lease
 * (holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions) and on
 * client-go's leader election (k8s.io/client-go/tools/leaderelection):
 * - acquiring creates the file with O_CREAT|O_EXCL, so of two processes starting together
 *   exactly one gets it;
 * - the holder renews it every `renewInterval` (an atomic write-then-rename);
 * - a candidate never compares the file's renewTime with its own clock (clocks differ
 *   between processes and hosts). Like client-go, it notes when it last saw the record
 *   change and deems it expired after `leaseDuration` of its own clock without a change;
 * - on the same host it also asks the OS: a holder whose pid is gone is dead at once
 *   (the kill -9 case), and one whose pid is alive is never taken over;
 * - a takeover replaces the expired record under a short O_EXCL takeover lock, and only
 *   if the record is still the one seen expiring;
 * - before every write the controller re-reads the file (`verify`), so a holder that was
 *   taken over while paused finds out before it writes, not after.
 *
 * A shared filesystem has no compare-and-swap, so a holder paused for longer than the
 * lease duration between its verify and its write could still write once after a
 * takeover. On a real cluster with several replicas, use what has one: a
 * coordination.k8s.io Lease updated with its resourceVersion as precondition (what
 * controller-runtime's leader election does), or a GCS object written with
 * `ifGenerationMatch`. The protocol is the same: holder identity, renew time, duration,
 * take over only an expired record, and only with the precondition of the version seen.
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { dirname } from "node:path";
import type { Clock } from "../clock/index.ts";

/** LeaseRecord is the content of the lease file. */
export interface LeaseRecord {
  /** The holder's identity, unique per process start. */
  readonly holderIdentity: string;
  readonly pid: number;
  readonly hostname: string;
  /** The holder's clock time when it took the lease (RFC 3339), for people. */
  readonly acquireTime: string;
  /** The holder's clock time of its last renewal (RFC 3339), for people. */
  readonly renewTime: string;
  readonly leaseDurationSeconds: number;
  /** How many times the lease changed hands. */
  readonly leaseTransitions: number;
}

/** Options of {@link FileLease}. */
export interface FileLeaseOptions {
  /** The lease file, e.g. `specs/.capstan/lease.json`. */
  readonly path: string;
  readonly clock: Clock;
  /**
   * This process's identity.
   * @default `${hostname}-${pid}-${random}`
   */
  readonly identity?: string;
  /**
   * How long a record may go unchanged before a candidate on another host (or in the same
   * process) takes it over, in clock ms. client-go's default LeaseDuration is 15 s.
   * @default 15_000
   */
  readonly leaseDurationMs?: number;
  /** @default os.hostname() */
  readonly hostname?: string;
  /** @default process.pid */
  readonly pid?: number;
  /**
   * Whether a pid is alive on this host.
   * @default signal 0 (`process.kill(pid, 0)`): ESRCH means gone
   */
  readonly isAlive?: (pid: number) => boolean;
}

/** LeaseError is a lease file that cannot be read or written. */
export class LeaseError extends Error {
  readonly code = "LEASE_ERROR";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "LeaseError";
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** FileLease is the lock-file lease described in this module's comment. */
export class FileLease {
  readonly path: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly #clock: Clock;
  readonly #hostname: string;
  readonly #pid: number;
  readonly #isAlive: (pid: number) => boolean;
  #held = false;
  #acquireTime: string | undefined;
  #transitions = 0;
  /** The other holder's record as last seen, and when (own clock) it was first seen so. */
  #observed: { key: string; at: number } | undefined;

  constructor(options: FileLeaseOptions) {
    this.path = options.path;
    this.#clock = options.clock;
    this.#hostname = options.hostname ?? osHostname();
    this.#pid = options.pid ?? process.pid;
    this.#isAlive = options.isAlive ?? pidAlive;
    this.identity = options.identity ?? `${this.#hostname}-${this.#pid}-${randomBytes(3).toString("hex")}`;
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    if (!Number.isFinite(this.leaseDurationMs) || this.leaseDurationMs <= 0) {
      throw new TypeError(
        `Expected \`leaseDurationMs\` to be a finite number > 0, got \`${options.leaseDurationMs}\``,
      );
    }
  }

  /** held says whether this process held the lease at its last acquire, renew or verify. */
  get held(): boolean {
    return this.#held;
  }

  /** read returns the record in the lease file, or undefined when there is none (or it is unreadable). */
  async read(): Promise<LeaseRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw new LeaseError(`could not read the lease ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      return JSON.parse(text) as LeaseRecord;
    } catch {
      // A half-written file cannot happen (writes are renames), but a hand-edited one can:
      // treat it as an expired record so it is replaced, not as a holder that lives forever.
      return {
        holderIdentity: "",
        pid: 0,
        hostname: "",
        acquireTime: "",
        renewTime: "",
        leaseDurationSeconds: 0,
        leaseTransitions: 0,
      };
    }
  }

  /**
   * tryAcquireOrRenew takes the lease when it is free or expired, renews it when held,
   * and returns whether this process holds it now (client-go's tryAcquireOrRenew).
   */
  async tryAcquireOrRenew(): Promise<boolean> {
    await mkdir(dirname(this.path), { recursive: true });
    const rec = await this.read();
    if (!rec) {
      this.#held = await this.#create(this.#transitions);
      return this.#held;
    }
    if (rec.holderIdentity === this.identity) {
      await this.#replace({ ...rec, renewTime: this.#nowIso() });
      this.#held = true;
      return true;
    }
    this.#held = false;
    this.#transitions = rec.leaseTransitions;
    if (!this.#expired(rec)) return false;
    this.#held = await this.#takeOver(rec);
    return this.#held;
  }

  /**
   * verify re-reads the file and says whether this process still holds the lease. The
   * controller calls it before every write (fencing by check).
   */
  async verify(): Promise<boolean> {
    const rec = await this.read();
    this.#held = rec?.holderIdentity === this.identity;
    return this.#held;
  }

  /** release deletes the lease file when this process holds it, so a standby takes over at once. */
  async release(): Promise<void> {
    const rec = await this.read().catch(() => undefined);
    this.#held = false;
    if (rec?.holderIdentity !== this.identity) return;
    await unlink(this.path).catch((err: unknown) => {
      if (errno(err) !== "ENOENT") throw err;
    });
  }

  #nowIso(): string {
    return new Date(this.#clock.now()).toISOString();
  }

  #record(transitions: number): LeaseRecord {
    const now = this.#nowIso();
    this.#acquireTime = now;
    return {
      holderIdentity: this.identity,
      pid: this.#pid,
      hostname: this.#hostname,
      acquireTime: now,
      renewTime: now,
      leaseDurationSeconds: this.leaseDurationMs / 1000,
      leaseTransitions: transitions,
    };
  }

  /** #create writes a new record only if no file exists (O_EXCL): the atomic acquire. */
  async #create(transitions: number): Promise<boolean> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "wx");
    } catch (err) {
      if (errno(err) === "EEXIST") return false;
      throw new LeaseError(`could not create the lease ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      await fh.writeFile(`${JSON.stringify(this.#record(transitions), null, 2)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.#observed = undefined;
    return true;
  }

  /** #replace writes the whole record atomically (temp file, then rename). */
  async #replace(rec: LeaseRecord): Promise<void> {
    const tmp = `${this.path}.${this.#pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(
      tmp,
      `${JSON.stringify({ ...rec, acquireTime: this.#acquireTime ?? rec.acquireTime }, null, 2)}\n`,
    );
    await rename(tmp, this.path);
  }

  /** #expired applies the staleness rules of this module's comment to another holder's record. */
  #expired(rec: LeaseRecord): boolean {
    if (rec.hostname === this.#hostname && rec.pid > 0 && rec.pid !== this.#pid) {
      // Same host, another process: the OS knows for sure whether the holder lives.
      return !this.#isAlive(rec.pid);
    }
    // Another host, or another controller in this very process (tests, or a restarted
    // container that got the same pid): only time can tell.
    const key = `${rec.holderIdentity}|${rec.renewTime}|${rec.leaseTransitions}`;
    const now = this.#clock.now();
    if (this.#observed?.key !== key) {
      this.#observed = { key, at: now };
      return rec.holderIdentity === "";
    }
    return now - this.#observed.at >= this.leaseDurationMs;
  }

  /**
   * #takeOver replaces an expired record. Under a takeover lock (itself O_EXCL), it
   * re-reads the file and replaces it only if it still holds the record seen expiring;
   * the new record is created with O_EXCL, so a fresh starter racing in wins or loses
   * cleanly.
   */
  async #takeOver(expired: LeaseRecord): Promise<boolean> {
    const lock = `${this.path}.takeover`;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(lock, "wx");
    } catch (err) {
      if (errno(err) !== "EEXIST") throw err;
      await this.#clearDeadLock(lock);
      return false;
    }
    try {
      await fh.writeFile(JSON.stringify({ pid: this.#pid, hostname: this.#hostname }));
      await fh.close();
      const now = await this.read();
      if (
        !now ||
        now.holderIdentity !== expired.holderIdentity ||
        now.renewTime !== expired.renewTime ||
        now.leaseTransitions !== expired.leaseTransitions
      ) {
        return false;
      }
      await unlink(this.path).catch((err: unknown) => {
        if (errno(err) !== "ENOENT") throw err;
      });
      return await this.#create(expired.leaseTransitions + 1);
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  /** A takeover lock left by a process that died holding it would block takeovers forever. */
  async #clearDeadLock(lock: string): Promise<void> {
    try {
      const owner = JSON.parse(await readFile(lock, "utf8")) as { pid?: number; hostname?: string };
      if (
        owner.hostname === this.#hostname &&
        owner.pid &&
        owner.pid !== this.#pid &&
        !this.#isAlive(owner.pid)
      ) {
        await unlink(lock);
      }
    } catch {
      // Being written right now, or already gone: next round.
    }
  }
}
