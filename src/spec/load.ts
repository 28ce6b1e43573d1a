/**
 * Loading a spec set: files and directories, multi-document YAML, directory defaults
 * (`capstan.yaml`), schema validation, identities, references, normalisation and the
 * offline platform rules, with every problem collected and positioned.
 *
 * Directory defaults: a file named `capstan.yaml` holds `project` and/or `region` for
 * every spec in its directory and below. Nearer files override farther ones field by
 * field, and a document's own `metadata` overrides both. capstan looks for them from
 * each spec's directory upward, stopping at the repository root (a directory holding
 * `.git`) or the filesystem root.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
import { normalizeSpec } from "./normalize.ts";
import { gcpNameOf, type Identity, idOf, SpecIndex } from "./references.ts";
import { checkResource, checkSet } from "./rules.ts";
import {
  type AnyResource,
  API_VERSION,
  type FieldPath,
  type Issue,
  KINDS,
  type Kind,
  type Problem,
  pointer,
  REGIONAL_KINDS,
  type Resource,
  SourceMap,
  type SourcePos,
  type SpecMetadata,
  type SpecSet,
} from "./types.ts";
import {
  displayPath,
  problemAt,
  sortProblems,
  validateDefaultsSchema,
  validateKindSchema,
} from "./validate.ts";

/** DEFAULTS_FILE is the name of a directory defaults file. */
export const DEFAULTS_FILE = "capstan.yaml";

/** SpecSource is the text of one spec file. `path` is how problems name the file. */
export interface SpecSource {
  readonly path: string;
  readonly text: string;
}

/** DefaultsSource is the text of one `capstan.yaml`; it applies to specs in `dir` and below. */
export interface DefaultsSource {
  readonly dir: string;
  readonly path: string;
  readonly text: string;
}

/** Options of {@link loadSpecs} and {@link parseSpecSet}. */
export interface LoadOptions {
  /**
   * Directory that relative paths are resolved against, and that file names in problems
   * are shown relative to.
   * @default process.cwd()
   */
  readonly cwd?: string;
  /**
   * Project and region used when neither a document nor any `capstan.yaml` sets them
   * (e.g. from command-line flags).
   * @default {}
   */
  readonly defaults?: { readonly project?: string; readonly region?: string };
}

/** Where a default came from, so a spec's defaulted field still points at a line. */
interface Defaulted {
  readonly value: string;
  readonly pos: SourcePos | undefined;
}

/** Document is one parsed YAML document on its way through the stages. */
interface Document {
  readonly file: string;
  readonly raw: Record<string, unknown>;
  readonly source: SourceMap;
  readonly kind: Kind;
  readonly name: string;
  issues: Issue[];
  metadata?: SpecMetadata;
  id?: string;
  gcpName?: string | undefined;
}

/**
 * loadSpecs reads spec files and directories (recursively, `*.yaml` and `*.yml`, except
 * `capstan.yaml`), with the directory defaults that apply to them, and returns the
 * resources and every problem. Callers must not act on a set that has problems.
 */
export async function loadSpecs(paths: readonly string[], options: LoadOptions = {}): Promise<SpecSet> {
  const cwd = options.cwd ?? process.cwd();
  const show = (abs: string) => {
    const rel = relative(cwd, abs);
    return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : abs;
  };
  const problems: Problem[] = [];
  const files: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    const info = await stat(abs).catch(() => undefined);
    if (!info) {
      problems.push(problemAt({ file: p, line: 1, col: 1 }, "", "", "no such file or directory"));
    } else if (info.isDirectory()) {
      const found = await specFilesUnder(abs);
      if (found.length === 0) {
        problems.push(
          problemAt({ file: p, line: 1, col: 1 }, "", "", "no spec files (*.yaml, *.yml) in this directory"),
        );
      }
      files.push(...found);
    } else if (basename(abs) !== DEFAULTS_FILE) {
      // A defaults file named on the command line is not a spec; it applies to the specs beside it.
      files.push(abs);
    }
  }
  const unique = [...new Set(files)];
  const sources: SpecSource[] = [];
  for (const f of unique) sources.push({ path: show(f), text: await readFile(f, "utf8") });
  const defaultsFiles = new Map<string, DefaultsSource>();
  for (const f of unique) {
    for (const dir of ancestors(dirname(f))) {
      const path = join(dir, DEFAULTS_FILE);
      if (!defaultsFiles.has(path) && existsSync(path)) {
        defaultsFiles.set(path, {
          dir: show(dir) || ".",
          path: show(path),
          text: await readFile(path, "utf8"),
        });
      }
    }
  }
  const set = parseSpecSet(sources, [...defaultsFiles.values()], options);
  return { ...set, problems: sortProblems([...problems, ...set.problems]) };
}

/** The directory and its parents, up to the repository root (holding `.git`) or `/`. */
function ancestors(dir: string): string[] {
  const out: string[] = [];
  let d = dir;
  for (;;) {
    out.push(d);
    if (existsSync(join(d, ".git"))) break;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return out;
}

async function specFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await specFilesUnder(path)));
    else if (/\.ya?ml$/.test(e.name) && e.name !== DEFAULTS_FILE) out.push(path);
  }
  return out;
}

/**
 * parseSpecSet is the pure core of loading: it takes file contents (no filesystem
 * access) and returns the resources and every problem, sorted by file and line.
 */
export function parseSpecSet(
  sources: readonly SpecSource[],
  defaults: readonly DefaultsSource[] = [],
  options: LoadOptions = {},
): SpecSet {
  const cwd = options.cwd ?? process.cwd();
  const problems: Problem[] = [];
  const defaultsByDir = parseDefaults(defaults, cwd, problems);
  const docs: Document[] = [];
  for (const src of sources) docs.push(...parseFile(src, problems));

  const index = new SpecIndex();
  for (const doc of docs) {
    doc.metadata = applyDefaults(doc, defaultsByDir, options, cwd);
    if (!doc.metadata) continue;
    const identity: Identity = { ...doc.metadata, kind: doc.kind };
    const earlier = index.add({ ...identity, pos: doc.source.at(pointer("metadata", "name")) });
    if (earlier) {
      doc.issues.push({
        path: pointer("metadata", "name"),
        message: `metadata.name: duplicate ${doc.kind} ${idOf(identity).slice(doc.kind.length + 1)}: also defined at ${earlier.pos.file}:${earlier.pos.line}:${earlier.pos.col}`,
      });
      // Normalising both copies would report every reference to it twice over.
      continue;
    }
    doc.id = idOf(identity);
    doc.gcpName = gcpNameOf(identity);
  }

  // Policies read their members' normalised specs, so they go last.
  const order = [...docs].sort(
    (a, b) => Number(a.kind === "CapacityPolicy") - Number(b.kind === "CapacityPolicy"),
  );
  // `Kind/name` names a resource in plans and steps; where one spec set holds the same
  // kind and name in several projects or regions, each is qualified with where it is.
  const plainAddress = (doc: Document) => `${doc.kind}/${doc.name}`;
  const named = new Map<string, number>();
  for (const doc of docs) if (doc.id) named.set(plainAddress(doc), (named.get(plainAddress(doc)) ?? 0) + 1);
  const addressOfDoc = (doc: Document, m: SpecMetadata) =>
    (named.get(plainAddress(doc)) ?? 0) > 1
      ? `${plainAddress(doc)}@${[m.project, m.region].filter(Boolean).join("/")}`
      : plainAddress(doc);
  const resources = new Map<string, AnyResource>();
  for (const doc of order) {
    if (doc.issues.length > 0 || !doc.metadata || !doc.id) continue;
    const issues: Issue[] = [];
    const spec = normalizeSpec(doc.kind, (doc.raw["spec"] ?? {}) as Record<string, unknown>, {
      metadata: doc.metadata,
      index,
      source: doc.source,
      resources,
      issues,
    });
    const resource = {
      apiVersion: API_VERSION,
      kind: doc.kind,
      metadata: doc.metadata,
      spec,
      id: doc.id,
      gcpName: doc.gcpName,
      address: addressOfDoc(doc, doc.metadata),
      file: doc.file,
      source: doc.source,
    } as Resource as AnyResource;
    resources.set(doc.id, resource);
    doc.issues.push(...issues, ...checkResource(resource));
  }
  // Resources come back in document order, whatever order they were normalised in.
  const all = docs.flatMap((d) => (d.id && resources.has(d.id) ? [resources.get(d.id)!] : []));
  for (const [id, issues] of checkSet(all)) {
    const doc = docs.find((d) => d.id === id);
    doc?.issues.push(...issues);
  }

  for (const doc of docs) {
    for (const issue of doc.issues) {
      const pos = issue.atKey ? doc.source.keyAt(issue.path) : doc.source.at(issue.path);
      problems.push(problemAt(pos, doc.kind, doc.name, issue.message, issue.catalog));
    }
  }
  return {
    resources: all,
    problems: sortProblems(problems),
    files: sources.map((s) => s.path),
  };
}

/** Parses one file into documents, reporting YAML and top-level shape problems. */
function parseFile(src: SpecSource, problems: Problem[]): Document[] {
  const lc = new LineCounter();
  const out: Document[] = [];
  const yamlDocs = parseAllDocuments(src.text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const posOf = (offset: number): SourcePos => {
    const { line, col } = lc.linePos(offset);
    return { file: src.path, line, col };
  };
  for (const yd of yamlDocs) {
    if (yd.errors.length > 0) {
      for (const e of yd.errors)
        problems.push(problemAt(posOf(e.pos[0]), "", "", `invalid YAML: ${e.message}`));
      continue;
    }
    const contents = yd.contents;
    if (contents === null || (isScalar(contents) && contents.value === null)) continue;
    const start = posOf(contents.range?.[0] ?? 0);
    if (!isMap(contents)) {
      problems.push(
        problemAt(
          start,
          "",
          "",
          "a spec document must be a mapping with apiVersion, kind, metadata and spec",
        ),
      );
      continue;
    }
    const values = new Map<FieldPath, SourcePos>();
    const keys = new Map<FieldPath, SourcePos>();
    indexPositions(contents, "", values, keys, posOf);
    const source = new SourceMap(values, keys);
    const raw = yd.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
    const kind = raw["kind"];
    const metadata = raw["metadata"];
    const name =
      metadata &&
      typeof metadata === "object" &&
      typeof (metadata as Record<string, unknown>)["name"] === "string"
        ? ((metadata as Record<string, unknown>)["name"] as string)
        : "";
    if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) {
      const where = kind === undefined ? source.at("") : source.at(pointer("kind"));
      const message =
        kind === undefined
          ? `missing \`kind\`; expected one of ${KINDS.join(", ")}`
          : `kind: unknown kind ${JSON.stringify(kind)}; expected one of ${KINDS.join(", ")}`;
      problems.push(problemAt(where, typeof kind === "string" ? kind : "", name, message));
      continue;
    }
    const issues = [...validateKindSchema(kind as Kind, raw)];
    out.push({
      file: src.path,
      raw,
      source,
      kind: kind as Kind,
      name,
      issues: globalRegionIssues(kind as Kind, raw, issues),
    });
  }
  return out;
}

/** A region on a global kind gets a message that says why, instead of "unknown field". */
function globalRegionIssues(kind: Kind, raw: Record<string, unknown>, issues: Issue[]): Issue[] {
  if (REGIONAL_KINDS.has(kind) || kind === "CapacityPolicy") return issues;
  const metadata = raw["metadata"] as Record<string, unknown> | undefined;
  if (!metadata || !("region" in metadata)) return issues;
  const path = pointer("metadata", "region");
  return [
    ...issues.filter((i) => i.path !== path),
    {
      path,
      atKey: true,
      message: `metadata.region: a ${kind} is global (capstan manages global load balancer resources); remove region`,
    },
  ];
}

function indexPositions(
  node: Node,
  path: FieldPath,
  values: Map<FieldPath, SourcePos>,
  keys: Map<FieldPath, SourcePos>,
  posOf: (offset: number) => SourcePos,
): void {
  if (node.range) values.set(path, posOf(node.range[0]));
  if (isMap(node)) {
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const child = `${path}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (keyNode && isScalar(keyNode) && keyNode.range) keys.set(child, posOf(keyNode.range[0]));
      const value = pair.value as Node | null;
      if (value && !(isScalar(value) && value.value === null && value.source === undefined)) {
        indexPositions(value, child, values, keys, posOf);
      } else if (keys.has(child)) {
        values.set(child, keys.get(child)!);
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      if (item && !isAlias(item)) indexPositions(item as Node, `${path}/${i}`, values, keys, posOf);
      else if (item && (item as Node).range) values.set(`${path}/${i}`, posOf((item as Node).range![0]));
    });
  }
}

/** DirDefaults is one parsed `capstan.yaml`. */
interface DirDefaults {
  readonly dir: string;
  readonly project?: Defaulted;
  readonly region?: Defaulted;
}

function parseDefaults(sources: readonly DefaultsSource[], cwd: string, problems: Problem[]): DirDefaults[] {
  const out: DirDefaults[] = [];
  for (const src of sources) {
    const lc = new LineCounter();
    const docs = parseAllDocuments(src.text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    const posOf = (offset: number): SourcePos => ({ file: src.path, ...lc.linePos(offset) });
    const doc = [...docs][0];
    if (!doc) continue;
    if (doc.errors.length > 0) {
      for (const e of doc.errors)
        problems.push(problemAt(posOf(e.pos[0]), "", "", `invalid YAML: ${e.message}`));
      continue;
    }
    const values = new Map<FieldPath, SourcePos>();
    const keys = new Map<FieldPath, SourcePos>();
    if (doc.contents) indexPositions(doc.contents as Node, "", values, keys, posOf);
    const source = new SourceMap(values, keys);
    const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
    const issues = validateDefaultsSchema(raw);
    for (const i of issues) {
      problems.push(problemAt(i.atKey ? source.keyAt(i.path) : source.at(i.path), "", "", i.message));
    }
    if (issues.length > 0) continue;
    const field = (k: string): Defaulted | undefined =>
      typeof raw[k] === "string" ? { value: raw[k] as string, pos: source.at(pointer(k)) } : undefined;
    const project = field("project");
    const region = field("region");
    out.push({
      dir: resolve(cwd, src.dir),
      ...(project ? { project } : {}),
      ...(region ? { region } : {}),
    });
  }
  // Farther directories first, so nearer ones override them.
  return out.sort((a, b) => a.dir.split(sep).length - b.dir.split(sep).length);
}

/**
 * Fills project and region from the document, the nearest `capstan.yaml` or the load
 * options, in that order. Returns undefined (and records why) when the document cannot
 * be identified.
 */
function applyDefaults(
  doc: Document,
  byDir: readonly DirDefaults[],
  options: LoadOptions,
  cwd: string,
): SpecMetadata | undefined {
  const meta = (doc.raw["metadata"] ?? {}) as Record<string, unknown>;
  if (typeof meta !== "object" || typeof meta["name"] !== "string") return undefined;
  const fileDir = resolve(cwd, dirname(doc.file));
  let project: Defaulted | undefined = options.defaults?.project
    ? { value: options.defaults.project, pos: undefined }
    : undefined;
  let region: Defaulted | undefined = options.defaults?.region
    ? { value: options.defaults.region, pos: undefined }
    : undefined;
  for (const d of byDir) {
    const rel = relative(d.dir, fileDir);
    if (rel.startsWith("..") || isAbsolute(rel)) continue;
    project = d.project ?? project;
    region = d.region ?? region;
  }
  const own = (k: string) => (typeof meta[k] === "string" ? (meta[k] as string) : undefined);
  const regional = REGIONAL_KINDS.has(doc.kind) || doc.kind === "CapacityPolicy";
  const finalProject = own("project") ?? project?.value;
  const finalRegion = regional ? (own("region") ?? region?.value) : undefined;
  if (own("project") === undefined && project?.pos)
    doc.source.set(pointer("metadata", "project"), project.pos);
  if (regional && own("region") === undefined && region?.pos)
    doc.source.set(pointer("metadata", "region"), region.pos);
  const missing = (field: string) =>
    doc.issues.push({
      path: pointer("metadata"),
      atKey: true,
      message: `${displayPath(pointer("metadata", field))}: not set; set it here or in a ${DEFAULTS_FILE} in this directory or above`,
    });
  if (finalProject === undefined) missing("project");
  if (REGIONAL_KINDS.has(doc.kind) && finalRegion === undefined) missing("region");
  if (finalProject === undefined || (REGIONAL_KINDS.has(doc.kind) && finalRegion === undefined))
    return undefined;
  const strings = (v: unknown) => (v && typeof v === "object" ? (v as Record<string, string>) : {});
  return {
    name: meta["name"] as string,
    project: finalProject,
    region: finalRegion,
    labels: strings(meta["labels"]),
    annotations: strings(meta["annotations"]),
  };
}
