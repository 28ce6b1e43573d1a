import { createHash } from "node:crypto";
import { existsSync, type FSWatcher, watch } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { simpleGit } from "simple-git";
import { loadSpecs } from "../spec/load.ts";
import type { SpecSet } from "../spec/types.ts";

/** SpecSnapshot is one revision of the specs, loaded. */
export interface SpecSnapshot {
  readonly specs: SpecSet;
  /** The git commit the specs were checked out at; undefined for a plain directory. */
  readonly commit: string | undefined;
  /** A hash of every spec file's path and content: equal revisions load equal specs. */
  readonly revision: string;
}

/**
 * SpecSource is where `capstan run` reads its specs from. `poll` looks for a new
 * revision (cheaply: a content hash, a git fetch) and `snapshot` loads the current one.
 */
export interface SpecSource {
  readonly type: "dir" | "git";
  /** For people: the directory, or the repository URL or path. */
  readonly location: string;
  /** The git ref followed; undefined for a directory. */
  readonly ref: string | undefined;
  /** poll returns true when the specs changed since the last snapshot (or none was taken). */
  poll(): Promise<boolean>;
  /** snapshot loads the specs at the newest revision seen by poll. */
  snapshot(): Promise<SpecSnapshot>;
  /**
   * watch calls `onChange` soon after a spec file changes, when the platform can tell
   * (inotify); polling remains the guarantee. Returns a function that stops watching.
   */
  watch?(onChange: () => void): () => void;
}

/** SourceError is a spec source that cannot be read (bad path, git failure). */
export class SourceError extends Error {
  readonly code = "SOURCE_ERROR";

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "SourceError";
  }
}

/** Lists the files loadSpecs reads under `abs` (specs and `capstan.yaml` defaults), sorted. */
async function specFiles(abs: string): Promise<string[]> {
  const info = await stat(abs).catch(() => undefined);
  if (!info) return [];
  if (!info.isDirectory()) return [abs];
  const out: string[] = [];
  const entries = await readdir(abs, { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    // The same rule as the loader: dot folders (.git, .capstan) and node_modules are not specs.
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const path = join(abs, e.name);
    if (e.isDirectory()) out.push(...(await specFiles(path)));
    else if (/\.ya?ml$/.test(e.name)) out.push(path);
  }
  return out;
}

/** contentRevision hashes the path (relative to `cwd`) and content of every spec file under `paths`. */
export async function contentRevision(paths: readonly string[], cwd: string): Promise<string> {
  const h = createHash("sha256");
  for (const p of paths) {
    for (const f of await specFiles(resolve(cwd, p))) {
      h.update(relative(cwd, f));
      h.update("\0");
      h.update(await readFile(f));
      h.update("\0");
    }
  }
  return h.digest("hex");
}

/** Options of {@link DirSource}. */
export interface DirSourceOptions {
  /** Spec files or directories. */
  readonly paths: readonly string[];
  /** @default process.cwd() */
  readonly cwd?: string;
}

/** DirSource reads specs from local files and directories; a change is a change of content. */
export class DirSource implements SpecSource {
  readonly type = "dir" as const;
  readonly ref = undefined;
  readonly location: string;
  readonly #paths: readonly string[];
  readonly #cwd: string;
  #loaded: string | undefined;
  #cached: SpecSnapshot | undefined;

  constructor(options: DirSourceOptions) {
    if (options.paths.length === 0) throw new TypeError("Expected at least one spec path");
    this.#paths = options.paths;
    this.#cwd = options.cwd ?? process.cwd();
    this.location = this.#paths.join(", ");
  }

  async poll(): Promise<boolean> {
    return (await contentRevision(this.#paths, this.#cwd)) !== this.#loaded;
  }

  async snapshot(): Promise<SpecSnapshot> {
    const revision = await contentRevision(this.#paths, this.#cwd);
    // Same content, same specs: a steady pass does not parse and validate them again.
    if (this.#cached?.revision === revision) return this.#cached;
    const specs = await loadSpecs(this.#paths, { cwd: this.#cwd });
    this.#loaded = revision;
    this.#cached = { specs, commit: undefined, revision };
    return this.#cached;
  }

  watch(onChange: () => void): () => void {
    const watchers: FSWatcher[] = [];
    for (const p of this.#paths) {
      const abs = resolve(this.#cwd, p);
      if (!existsSync(abs)) continue;
      try {
        const w = watch(abs, { recursive: true, persistent: false }, (_event, file) => {
          // Writes to .capstan (lease, status) are capstan's own, not spec changes.
          if (typeof file === "string" && file.split(/[\\/]/).some((s) => s.startsWith("."))) return;
          onChange();
        });
        w.on("error", () => w.close());
        watchers.push(w);
      } catch {
        // No inotify (or too many watches): polling still finds the change.
      }
    }
    return () => {
      for (const w of watchers) w.close();
    };
  }
}

/** Options of {@link GitSource}. */
export interface GitSourceOptions {
  /** The repository: a URL git understands, or a local path. */
  readonly repo: string;
  /**
   * The branch or tag to follow.
   * @default "main"
   */
  readonly ref?: string;
  /** The working folder capstan clones into and checks out in; capstan owns it. */
  readonly workdir: string;
  /**
   * The specs inside the repository: files or directories relative to its root.
   * @default ["."]
   */
  readonly paths?: readonly string[];
}

/**
 * GitSource follows a ref of a git repository with the system git (through simple-git):
 * it clones into a working folder once, then each poll fetches the ref and, when the ref
 * moved, checks out its commit (detached, forced, so the working folder always equals
 * the commit). The commit is what status records as applied.
 */
export class GitSource implements SpecSource {
  readonly type = "git" as const;
  readonly location: string;
  readonly ref: string;
  readonly #repo: string;
  readonly #workdir: string;
  readonly #paths: readonly string[];
  #fetched: string | undefined;
  #checkedOut: string | undefined;
  #loaded: string | undefined;
  #cached: SpecSnapshot | undefined;

  constructor(options: GitSourceOptions) {
    // A relative local path must mean the same thing to git running in another folder.
    this.#repo =
      /^[a-z][a-z0-9+.-]*:\/\//i.test(options.repo) ||
      /^[^/]+@[^:]+:/.test(options.repo) ||
      isAbsolute(options.repo)
        ? options.repo
        : resolve(options.repo);
    this.location = options.repo;
    this.ref = options.ref ?? "main";
    this.#workdir = resolve(options.workdir);
    this.#paths = options.paths?.length ? options.paths : ["."];
  }

  /** commit is the commit checked out now, if any. */
  get commit(): string | undefined {
    return this.#checkedOut;
  }

  async #git() {
    if (!existsSync(join(this.#workdir, ".git"))) {
      await mkdir(this.#workdir, { recursive: true });
      await simpleGit()
        .clone(this.#repo, this.#workdir, ["--quiet", "--no-checkout"])
        .catch((err: unknown) => {
          throw new SourceError(`could not clone ${this.location}: ${(err as Error).message.trim()}`, {
            cause: err,
          });
        });
    }
    const git = simpleGit({ baseDir: this.#workdir });
    const origin = (await git.raw(["remote", "get-url", "origin"])).trim();
    if (origin !== this.#repo) {
      throw new SourceError(
        `the working folder ${this.#workdir} is a clone of ${origin}, not of ${this.location}; remove it or choose another --state-dir`,
      );
    }
    return git;
  }

  async poll(): Promise<boolean> {
    const git = await this.#git();
    try {
      await git.raw(["fetch", "--quiet", "--force", "origin", this.ref]);
      this.#fetched = (await git.revparse(["FETCH_HEAD"])).trim();
    } catch (err) {
      throw new SourceError(
        `could not fetch ${this.ref} from ${this.location}: ${(err as Error).message.trim()}`,
        {
          cause: err,
        },
      );
    }
    return this.#fetched !== this.#loaded;
  }

  async snapshot(): Promise<SpecSnapshot> {
    if (!this.#fetched) await this.poll();
    const sha = this.#fetched!;
    if (sha !== this.#checkedOut) {
      const git = await this.#git();
      await git.raw(["checkout", "--quiet", "--force", "--detach", sha]);
      await git.raw(["clean", "-ffdxq"]);
      this.#checkedOut = sha;
    }
    if (this.#cached?.commit === sha) return this.#cached;
    const revision = await contentRevision(this.#paths, this.#workdir);
    const specs = await loadSpecs(this.#paths, { cwd: this.#workdir });
    this.#loaded = sha;
    this.#cached = { specs, commit: sha, revision };
    return this.#cached;
  }
}
