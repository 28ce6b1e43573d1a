/**
 * The `file://` lease: a lock file for one machine (the default of `capstan run`).
 *
 * A local filesystem has no compare-and-swap, so this store makes one: the first record
 * is created with O_CREAT|O_EXCL (of two processes starting together exactly one gets
 * it), and every update happens under a short mutex file (itself O_EXCL), re-reads the
 * record and replaces it (write-then-rename) only if its content is still the version
 * the caller read. The record also names the writer's pid and host, so a candidate on
 * the same host asks the OS whether the holder lives: a holder whose pid is gone (the
 * kill -9 case) is taken over at once rather than after the lease duration.
 *
 * A shared network filesystem gives none of these guarantees: across machines use
 * `gs://` or `k8s://`.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import {
  LeaseConflictError,
  LeaseError,
  type LeaseRecord,
  type LeaseStore,
  type Versioned,
} from "./types.ts";

/** FileLeaseRecord is the lease file's content: the record plus who wrote it. */
export interface FileLeaseRecord extends LeaseRecord {
  readonly pid: number;
  readonly hostname: string;
}

/** Options of {@link FileLeaseStore}. */
export interface FileLeaseStoreOptions {
  /** The lease file, e.g. `.capstan/lease.json`. */
  readonly path: string;
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

/** A record nobody can read (hand-edited): replaced like a released one, never waited on. */
const UNREADABLE: FileLeaseRecord = {
  holderIdentity: "",
  leaseDurationSeconds: 0,
  acquireTime: "",
  renewTime: "",
  leaseTransitions: 0,
  pid: 0,
  hostname: "",
};

/** FileLeaseStore is the lock-file store described in this module's comment. */
export class FileLeaseStore implements LeaseStore {
  readonly path: string;
  readonly url: string;
  readonly #hostname: string;
  readonly #pid: number;
  readonly #isAlive: (pid: number) => boolean;

  constructor(options: FileLeaseStoreOptions) {
    this.path = options.path;
    this.url = pathToFileURL(options.path).href;
    this.#hostname = options.hostname ?? osHostname();
    this.#pid = options.pid ?? process.pid;
    this.#isAlive = options.isAlive ?? pidAlive;
  }

  async get(): Promise<Versioned | undefined> {
    const text = await this.#read();
    return text === undefined ? undefined : this.#parse(text);
  }

  async create(record: LeaseRecord): Promise<string> {
    await this.#mkdir();
    const text = this.#text(record);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.path, "wx");
    } catch (err) {
      if (errno(err) === "EEXIST") throw new LeaseConflictError(`${this.path} exists already`);
      throw new LeaseError(`could not create the lease ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return version(text);
  }

  async update(record: LeaseRecord, expected: string): Promise<string> {
    await this.#mkdir();
    const lock = `${this.path}.lock`;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(lock, "wx");
    } catch (err) {
      if (errno(err) !== "EEXIST") {
        throw new LeaseError(`could not lock the lease ${lock}: ${(err as Error).message}`, { cause: err });
      }
      await this.#clearDeadLock(lock);
      throw new LeaseConflictError(`${lock} is held by another process`);
    }
    try {
      await fh.writeFile(JSON.stringify({ pid: this.#pid, hostname: this.#hostname }));
      await fh.close();
      const now = await this.#read();
      if (now === undefined || version(now) !== expected) {
        throw new LeaseConflictError(`${this.path} changed since it was read`);
      }
      const text = this.#text(record);
      const tmp = `${this.path}.${this.#pid}.${randomBytes(4).toString("hex")}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.path);
      return version(text);
    } finally {
      await unlink(lock).catch(() => {});
    }
  }

  holderAlive(v: Versioned): boolean | undefined {
    const rec = v.record as Partial<FileLeaseRecord>;
    // Same host, another process: the OS knows for sure whether the holder lives. Another
    // host, or this very process (tests; a restarted container that got the same pid):
    // only time can tell.
    if (
      rec.hostname !== this.#hostname ||
      typeof rec.pid !== "number" ||
      rec.pid <= 0 ||
      rec.pid === this.#pid
    ) {
      return undefined;
    }
    return this.#isAlive(rec.pid);
  }

  async #mkdir(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true }).catch((err: unknown) => {
      throw new LeaseError(
        `could not create the folder of the lease ${this.path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    });
  }

  async #read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (err) {
      if (errno(err) === "ENOENT") return undefined;
      throw new LeaseError(`could not read the lease ${this.path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  #parse(text: string): Versioned {
    let record: FileLeaseRecord;
    try {
      const doc = JSON.parse(text) as Partial<FileLeaseRecord>;
      record = { ...UNREADABLE, ...doc, holderIdentity: String(doc.holderIdentity ?? "") };
    } catch {
      // A half-written file cannot happen (writes are renames), but a hand-edited one can.
      record = UNREADABLE;
    }
    return { record, version: version(text) };
  }

  #text(record: LeaseRecord): string {
    const doc: FileLeaseRecord = { ...record, pid: this.#pid, hostname: this.#hostname };
    return `${JSON.stringify(doc, null, 2)}\n`;
  }

  /** A mutex left by a process that died holding it would block every update forever. */
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

/** The version of a file record is its content's hash: any write changes it. */
function version(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}
