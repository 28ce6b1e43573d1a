/** ListEntryRef names an entry of a keyed list by its key property and value. */
export interface ListEntryRef {
  readonly key: string;
  readonly id: string | number;
}

/** PathSegment is an object key, a list index, or a keyed list entry's identity. */
export type PathSegment = string | number | ListEntryRef;

/**
 * FieldChange is one managed field whose live value differs from the spec. `before` is
 * undefined when the field is unset live.
 */
export interface FieldChange {
  /** Where the field is, from the spec's root, e.g. `["databaseFlags", "max_connections"]`. */
  readonly path: readonly PathSegment[];
  /** The path printed for people, e.g. `databaseFlags.max_connections` or `template.env[DB_HOST].value`. */
  readonly field: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** Options of {@link diffManaged}. */
export interface DiffOptions {
  /**
   * Lists whose entries are matched by a key property rather than by position, by field
   * pattern (dotted, list indexes left out), e.g. `{"template.env": "name"}`. Entries that
   * the spec does not name are not managed and never show as changes.
   * @default {}
   */
  readonly keyedLists?: Readonly<Record<string, string>>;
  /**
   * Lists compared as sets (order does not matter), e.g. `["healthChecks"]`. Other lists
   * that are not keyed are compared as a whole, in order.
   * @default []
   */
  readonly setLists?: readonly string[];
}

/**
 * diffManaged compares the fields a spec states with the live values normalised into the
 * spec's shape. Only what `desired` states is compared: a field, map entry or keyed list
 * entry that the spec leaves out is unmanaged and never appears, whatever its live value.
 * The result is ordered as the fields appear in the spec, so output is stable.
 */
export function diffManaged(desired: unknown, observed: unknown, options: DiffOptions = {}): FieldChange[] {
  const changes: FieldChange[] = [];
  walk(desired, observed, [], [], options, changes);
  return changes;
}

function walk(
  desired: unknown,
  observed: unknown,
  path: PathSegment[],
  pattern: string[],
  options: DiffOptions,
  out: FieldChange[],
): void {
  if (desired === undefined) return;
  // `null` in a spec means "must not be set": already satisfied when the field is absent.
  if (desired === null && (observed === undefined || observed === null)) return;
  if (isPlainObject(desired)) {
    const live = isPlainObject(observed) ? observed : undefined;
    for (const [k, v] of Object.entries(desired)) {
      walk(v, live?.[k], [...path, k], [...pattern, k], options, out);
    }
    return;
  }
  const patternKey = pattern.join(".");
  if (Array.isArray(desired)) {
    const key = options.keyedLists?.[patternKey];
    if (key !== undefined) {
      const liveList = Array.isArray(observed) ? observed : [];
      for (const entry of desired) {
        const id = isPlainObject(entry) ? entry[key] : undefined;
        if (typeof id !== "string" && typeof id !== "number") {
          if (!liveList.some((l) => deepEqual(l, entry))) push(out, [...path], observed, desired);
          continue;
        }
        const match = liveList.find((l) => isPlainObject(l) && l[key] === id);
        const at = [...path, { key, id }];
        if (match === undefined) {
          // An entry whose every other field is null says "must not be set": satisfied when absent.
          const unset = Object.entries(entry as Record<string, unknown>).every(
            ([k, v]) => k === key || v === null,
          );
          if (!unset) push(out, at, undefined, entry);
        } else walk(entry, match, at, pattern, options, out);
      }
      return;
    }
    const asSet = options.setLists?.includes(patternKey) ?? false;
    const same = asSet ? sameSet(desired, observed) : deepEqual(desired, observed);
    if (!same) push(out, path, observed, desired);
    return;
  }
  if (!deepEqual(desired, observed)) push(out, path, observed, desired);
}

function push(out: FieldChange[], path: PathSegment[], before: unknown, after: unknown): void {
  out.push({ path, field: formatPath(path), before, after });
}

/** formatPath prints a path: dotted keys, list identities and odd keys in brackets. */
export function formatPath(path: readonly PathSegment[]): string {
  let s = "";
  for (const seg of path) {
    if (typeof seg === "object") s += `[${seg.id}]`;
    else if (typeof seg === "number" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) s += `[${seg}]`;
    else s += s ? `.${seg}` : seg;
  }
  return s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * deepEqual compares JSON values structurally; object key order does not matter, and
 * null and undefined are the same (an unset field).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b || (a == null && b == null)) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

function sameSet(a: readonly unknown[], b: unknown): boolean {
  if (!Array.isArray(b) || a.length !== b.length) return false;
  const rest = [...b];
  for (const x of a) {
    const i = rest.findIndex((y) => deepEqual(x, y));
    if (i < 0) return false;
    rest.splice(i, 1);
  }
  return true;
}
