import { evaluate, iterator, type ObjectNode, parse } from "@humanwhocodes/momoa";

/**
 * parseStrict parses JSON as JSON.parse does, but refuses an object with the same key
 * twice, which JSON.parse silently resolves to the last one (RFC 8259 §4 leaves
 * duplicate names' meaning to each parser). Throws a SyntaxError naming the key and its
 * position.
 */
export function parseStrict(text: string): unknown {
  const doc = parse(text, { mode: "json" });
  for (const { node } of iterator(doc)) {
    if (node.type !== "Object") continue;
    const seen = new Set<string>();
    for (const m of (node as ObjectNode).members) {
      const key = m.name.type === "String" ? m.name.value : m.name.name;
      if (seen.has(key)) {
        throw new SyntaxError(
          `duplicate key "${key}" at line ${m.loc.start.line}, column ${m.loc.start.column}`,
        );
      }
      seen.add(key);
    }
  }
  return evaluate(doc.body);
}
