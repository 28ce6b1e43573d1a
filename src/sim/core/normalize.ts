import type { RequestLogEntry } from "./server.ts";

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const VOLATILE_KEYS = new Set(["etag", "fingerprint", "requestId", "uid", "insertId"]);

/**
 * normalizeLog turns request log entries into a stable form for golden files, as Config
 * Connector's mockgcp normalizer does: timestamps, etags and fingerprints become
 * placeholders, and operation ids are renumbered in order of first appearance, so two
 * runs of one scenario produce the same text.
 */
export function normalizeLog(entries: readonly RequestLogEntry[]): unknown[] {
  const ids = new Map<string, string>();
  const opId = (id: string) => {
    let v = ids.get(id);
    if (!v) {
      v = `\${operation-${ids.size + 1}}`;
      ids.set(id, v);
    }
    return v;
  };
  const fixString = (s: string): string => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal placeholder, as mockgcp's golden logs write it.
    if (TIMESTAMP.test(s)) return "${timestamp}";
    return s.replace(/(\/operations\/)([^/?\s"]+)/g, (_, p: string, id: string) => p + opId(id));
  };
  const walk = (v: unknown, key?: string): unknown => {
    if (typeof v === "string") return key && VOLATILE_KEYS.has(key) ? `\${${key}}` : fixString(v);
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        out[k] =
          k === "name" && typeof x === "string" && !x.includes("/") && /^[a-z]*-?[0-9a-f-]{6,}$/.test(x)
            ? opId(x)
            : walk(x, k);
      }
      return out;
    }
    return v;
  };
  return entries.map((e) =>
    walk({
      method: e.method,
      path: e.path,
      ...(e.query ? { query: e.query } : {}),
      status: e.status,
      ...(e.body !== undefined ? { body: e.body } : {}),
      ...(e.response !== undefined ? { response: e.response } : {}),
    }),
  );
}
