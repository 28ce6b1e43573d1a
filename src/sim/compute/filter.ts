import { ComputeError } from "./common.ts";

/**
 * Compute list filters, as documented for every Compute list method
 * (https://cloud.google.com/compute/docs/reference/rest/v1/backendServices/list, `filter`):
 * `field op value` with op one of `=`, `!=`, `>`, `<`, `<=`, `>=`, `:` (substring on
 * strings, `:*` for "is set"), or `eq` / `ne` whose value is a regular expression that must
 * match the whole field; nested fields by dotted path; parenthesised expressions joined by
 * AND (implicit or explicit) and OR. Values may be bare, 'single' or "double" quoted.
 */

type Node =
  | { readonly kind: "and" | "or"; readonly parts: readonly Node[] }
  | { readonly kind: "not"; readonly part: Node }
  | { readonly kind: "cmp"; readonly path: readonly string[]; readonly op: string; readonly value: string };

interface Token {
  readonly type: "(" | ")" | "op" | "word" | "quoted";
  readonly text: string;
}

const SYMBOL_OPS = ["!=", ">=", "<=", "=", ">", "<", ":"] as const;

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "(" || c === ")") {
      out.push({ type: c, text: c });
      i++;
      continue;
    }
    const op = SYMBOL_OPS.find((o) => s.startsWith(o, i));
    if (op) {
      out.push({ type: "op", text: op });
      i += op.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = "";
      while (j < s.length && s[j] !== c) {
        if (s[j] === "\\" && j + 1 < s.length) {
          text += s[j]! + s[j + 1]!;
          j += 2;
        } else text += s[j++]!;
      }
      if (j >= s.length) throw new SyntaxError("unterminated quote");
      out.push({ type: "quoted", text });
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < s.length && !/[\s()"'=!<>:]/.test(s[j]!)) j++;
    out.push({ type: "word", text: s.slice(i, j) });
    i = j;
  }
  return out;
}

function parse(tokens: Token[]): Node {
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const isWord = (t: Token | undefined, w: string): boolean => t?.type === "word" && t.text === w;

  const primary = (): Node => {
    const t = peek();
    if (!t) throw new SyntaxError("expression expected");
    if (t.type === "(") {
      pos++;
      const inner = conjunction();
      if (peek()?.type !== ")") throw new SyntaxError("missing )");
      pos++;
      return inner;
    }
    if (isWord(t, "NOT") || (t.type === "word" && t.text === "-")) {
      pos++;
      return { kind: "not", part: primary() };
    }
    if (t.type !== "word") throw new SyntaxError("field name expected");
    pos++;
    const opTok = peek();
    let op: string;
    if (opTok?.type === "op") op = opTok.text;
    else if (isWord(opTok, "eq") || isWord(opTok, "ne")) op = opTok!.text;
    else throw new SyntaxError("operator expected");
    pos++;
    const v = peek();
    if (!v || (v.type !== "word" && v.type !== "quoted")) throw new SyntaxError("value expected");
    pos++;
    return { kind: "cmp", path: t.text.split("."), op, value: v.text };
  };
  const disjunction = (): Node => {
    const parts = [primary()];
    while (isWord(peek(), "OR")) {
      pos++;
      parts.push(primary());
    }
    return parts.length === 1 ? parts[0]! : { kind: "or", parts };
  };
  const conjunction = (): Node => {
    const parts = [disjunction()];
    for (;;) {
      const t = peek();
      if (!t || t.type === ")") break;
      if (isWord(t, "AND")) pos++;
      parts.push(disjunction());
    }
    return parts.length === 1 ? parts[0]! : { kind: "and", parts };
  };
  const node = conjunction();
  if (pos !== tokens.length) throw new SyntaxError("unexpected token");
  return node;
}

function valuesAt(obj: unknown, path: readonly string[]): unknown[] {
  let cur: unknown[] = [obj];
  for (const key of path) {
    const next: unknown[] = [];
    for (const c of cur) {
      const v =
        c && typeof c === "object" && !Array.isArray(c) ? (c as Record<string, unknown>)[key] : undefined;
      if (Array.isArray(v)) next.push(...v);
      else if (v !== undefined) next.push(v);
    }
    cur = next;
  }
  return cur;
}

function compareOne(actual: unknown, op: string, raw: string): boolean {
  if (op === "eq" || op === "ne") {
    const hit = new RegExp(`^(?:${raw})$`).test(String(actual));
    return op === "eq" ? hit : !hit;
  }
  if (op === ":" && typeof actual === "string") return actual.includes(raw);
  let a: number | string | boolean = String(actual);
  let b: number | string | boolean = raw;
  if (
    typeof actual === "number" ||
    (typeof actual === "string" && /^-?\d+$/.test(actual) && /^-?\d+$/.test(raw))
  ) {
    a = Number(actual);
    b = Number(raw);
  } else if (typeof actual === "boolean") {
    a = actual;
    b = raw === "true";
  }
  switch (op) {
    case "=":
    case ":":
      return a === b;
    case "!=":
      return a !== b;
    case ">":
      return a > b;
    case "<":
      return a < b;
    case ">=":
      return a >= b;
    case "<=":
      return a <= b;
    default:
      return false;
  }
}

function evaluate(node: Node, obj: unknown): boolean {
  switch (node.kind) {
    case "and":
      return node.parts.every((p) => evaluate(p, obj));
    case "or":
      return node.parts.some((p) => evaluate(p, obj));
    case "not":
      return !evaluate(node.part, obj);
    case "cmp": {
      const values = valuesAt(obj, node.path);
      if (node.op === ":" && node.value === "*") return values.length > 0;
      if (node.op === "!=" || node.op === "ne")
        return values.every((v) => compareOne(v, node.op, node.value));
      return values.some((v) => compareOne(v, node.op, node.value));
    }
  }
}

/**
 * compileFilter parses a Compute list filter into a predicate over resources in proto3
 * JSON, or throws the 400 Compute answers for an expression it cannot parse.
 */
export function compileFilter(filter: string): (resource: unknown) => boolean {
  try {
    const node = parse(tokenize(filter));
    // Compile every regular expression now so a bad one fails the call, not a later match.
    const check = (n: Node): void => {
      if (n.kind === "cmp" && (n.op === "eq" || n.op === "ne")) new RegExp(n.value);
      else if (n.kind === "and" || n.kind === "or") n.parts.forEach(check);
      else if (n.kind === "not") check(n.part);
    };
    check(node);
    return (resource) => evaluate(node, resource);
  } catch {
    throw new ComputeError(
      400,
      "invalid",
      `Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`,
    );
  }
}
