/**
 * Schema validation of spec documents with ajv (JSON Schema 2020-12, strict mode, all
 * errors), and the rendering of problems. Each ajv error becomes one {@link Problem} that
 * names the field, says what would be valid and points at the YAML line of the value.
 */
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { defaultsSchema, type JsonSchema, kindSchema, PATTERN_HINTS } from "./schemas.ts";
import { type FieldPath, type Issue, type Kind, type Problem, type SourcePos, segmentsOf } from "./types.ts";

// ajv-formats is CommonJS whose default export is `module.exports`; TypeScript types the
// default import as the module namespace, so take the plugin from `.default` when present.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

let ajvInstance: Ajv2020 | undefined;
const compiled = new Map<string, ValidateFunction>();

function newAjv(): Ajv2020 {
  // strict: unknown keywords, ignored keywords and type mismatches in the schemas are
  // bugs of ours, so they throw at compile time rather than silently accepting input.
  return addFormats(new Ajv2020({ strict: true, allErrors: true, verbose: true, allowUnionTypes: true }));
}

function ajv(): Ajv2020 {
  ajvInstance ??= newAjv();
  return ajvInstance;
}

function validator(key: string, build: () => JsonSchema): ValidateFunction {
  let fn = compiled.get(key);
  if (!fn) {
    fn = ajv().compile(build() as Record<string, unknown>);
    compiled.set(key, fn);
  }
  return fn;
}

/** validateKindSchema checks one document against its kind's schema and returns every issue. */
export function validateKindSchema(kind: Kind, document: unknown): readonly Issue[] {
  const fn = validator(kind, () => kindSchema(kind));
  return fn(document) ? [] : issuesOf(fn.errors ?? []);
}

/** validateDefaultsSchema checks the content of a `capstan.yaml` defaults file. */
export function validateDefaultsSchema(document: unknown): readonly Issue[] {
  const fn = validator("#defaults", defaultsSchema);
  return fn(document) ? [] : issuesOf(fn.errors ?? []);
}

/**
 * compileSchema compiles a schema with capstan's ajv settings in a fresh ajv instance
 * (so a schema can be compiled again under the same `$id`); tests use it to prove the
 * shipped files compile.
 */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  return newAjv().compile(schema as Record<string, unknown>);
}

/**
 * closest returns the candidate nearest to `word` by edit distance, when it is near
 * enough to be a likely typo (at most a third of the word's letters apart).
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** displayPath prints a field path the way users write it: `spec.template.env[0].name`. */
export function displayPath(path: FieldPath): string {
  let out = "";
  for (const seg of segmentsOf(path)) {
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out || "document";
}

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return String(value);
}

function typeName(t: string): string {
  return (
    {
      object: "a map",
      array: "a list",
      string: "a string",
      integer: "an integer",
      number: "a number",
      boolean: "true or false",
      null: "null",
    }[t] ?? t
  );
}

function list(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

function firstSentence(text: unknown): string | undefined {
  if (typeof text !== "string") return undefined;
  // A sentence ends at a period followed by a space, but not the one in "e.g." or "i.e.".
  const end = text.search(/(?<!\b(?:e\.g|i\.e))\.(\s|$)/);
  const sentence = end === -1 ? text : text.slice(0, end);
  return sentence.charAt(0).toLowerCase() + sentence.slice(1);
}

function joinPath(base: string, key: string): string {
  return `${base}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
}

/**
 * issuesOf turns ajv errors into one issue per real problem. `oneOf` branches that only
 * choose among alternatives (`httpGet` | `tcpSocket` | `grpc`) are folded into a single
 * "give exactly one of" message instead of one message per branch.
 */
function issuesOf(errors: readonly ErrorObject[]): Issue[] {
  const choices = errors.filter((e) => e.keyword === "oneOf" && isChoice(e.schema));
  const insideChoice = (e: ErrorObject) =>
    choices.some(
      (c) => e !== c && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath === c.instancePath,
    );
  const out: Issue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (insideChoice(e)) continue;
    const issue = issueOf(e);
    if (!issue) continue;
    const key = `${issue.path}\n${issue.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(issue);
  }
  return out;
}

function isChoice(schema: unknown): schema is { required: string[] }[] {
  return (
    Array.isArray(schema) &&
    schema.every(
      (b) =>
        b &&
        typeof b === "object" &&
        Array.isArray(b.required) &&
        Object.keys(b).every((k) => k === "required" || k === "properties"),
    )
  );
}

function issueOf(e: ErrorObject): Issue | undefined {
  const path = e.instancePath;
  const where = displayPath(path);
  const parent = (e.parentSchema ?? {}) as Record<string, unknown>;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(params["additionalProperty"]);
      const known = Object.keys((parent["properties"] as Record<string, unknown> | undefined) ?? {});
      const at = joinPath(path, key);
      const near = closest(key, known);
      const valid = known.length ? `valid fields: ${known.join(", ")}` : "";
      const advice = near
        ? `; did you mean \`${near}\`? ${valid.charAt(0).toUpperCase()}${valid.slice(1)}`
        : `; ${valid}`;
      return { path: at, atKey: true, message: `${displayPath(at)}: unknown field${valid ? advice : ""}` };
    }
    case "required": {
      const missing = String(params["missingProperty"]);
      const props = (parent["properties"] as Record<string, Record<string, unknown>> | undefined) ?? {};
      const hint = firstSentence(props[missing]?.["description"]);
      return {
        path,
        atKey: true,
        message: `${where}: missing required field \`${missing}\`${hint ? ` (${hint})` : ""}`,
      };
    }
    case "oneOf": {
      if (isChoice(e.schema)) {
        const keys = e.schema.map((b) => `\`${b.required[0]}\``);
        return { path, atKey: true, message: `${where}: give exactly one of ${list(keys)}` };
      }
      return { path, atKey: false, message: `${where}: must match exactly one of the allowed shapes` };
    }
    case "type": {
      const types = String(params["type"]).split(",");
      return {
        path,
        atKey: false,
        message: `${where}: must be ${list(types.map(typeName))}, got ${show(e.data)}`,
      };
    }
    case "enum":
      return {
        path,
        atKey: false,
        message: `${where}: must be one of ${(params["allowedValues"] as unknown[]).map((v) => String(v)).join(", ")}; got ${show(e.data)}`,
      };
    case "const":
      return {
        path,
        atKey: false,
        message: `${where}: must be ${show(params["allowedValue"])}, got ${show(e.data)}`,
      };
    case "pattern": {
      const hint = PATTERN_HINTS.get(String(params["pattern"]));
      const desc = firstSentence(parent["description"]);
      const expected = hint ?? desc ?? `text matching ${params["pattern"]}`;
      return { path, atKey: false, message: `${where}: must be ${expected}; got ${show(e.data)}` };
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum":
      return { path, atKey: false, message: `${where}: ${rangeText(parent)}, got ${show(e.data)}` };
    case "minItems":
      return { path, atKey: false, message: `${where}: must list at least ${params["limit"]}` };
    case "maxItems":
      return { path, atKey: false, message: `${where}: must list at most ${params["limit"]}` };
    case "uniqueItems":
      return {
        path: `${path}/${params["i"]}`,
        atKey: false,
        message: `${where}: entries ${params["j"]} and ${params["i"]} are the same; list each once`,
      };
    case "propertyNames":
      // ajv reports the bad name through a nested `pattern` error as well; that one carries the detail.
      return undefined;
    case "if":
      return undefined;
    case "format":
      return {
        path,
        atKey: false,
        message: `${where}: must be a valid ${params["format"]}; got ${show(e.data)}`,
      };
    default:
      return { path, atKey: false, message: `${where}: ${e.message ?? "is not valid"}` };
  }
}

function rangeText(schema: Record<string, unknown>): string {
  const min = schema["minimum"] as number | undefined;
  const max = schema["maximum"] as number | undefined;
  const xmin = schema["exclusiveMinimum"] as number | undefined;
  if (min !== undefined && max !== undefined) return `must be from ${min} to ${max}`;
  if (xmin !== undefined && max !== undefined) return `must be above ${xmin} and at most ${max}`;
  if (xmin !== undefined) return `must be above ${xmin}`;
  if (min !== undefined) return `must be at least ${min}`;
  return `must be at most ${max}`;
}

/**
 * problemAt builds a {@link Problem} for the document `kind`/`name` at `pos`. Use it for
 * every problem so they render and sort the same way.
 */
export function problemAt(
  pos: SourcePos,
  kind: string,
  name: string,
  message: string,
  catalog?: Problem["catalog"],
): Problem {
  return {
    file: pos.file,
    line: pos.line,
    col: pos.col,
    kind,
    name,
    message,
    ...(catalog ? { catalog } : {}),
  };
}

/** formatProblem renders a problem as `file:line:col  Kind/name  message`. */
export function formatProblem(p: Problem): string {
  const who = p.kind && p.name ? `${p.kind}/${p.name}` : p.kind || "-";
  return `${p.file}:${p.line}:${p.col}  ${who}  ${p.message}`;
}

/** sortProblems orders problems by file, line and column, then message, without duplicates. */
export function sortProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return [...problems]
    .sort(
      (a, b) =>
        (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
        a.line - b.line ||
        a.col - b.col ||
        (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
    )
    .filter((p) => {
      const key = formatProblem(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
}
