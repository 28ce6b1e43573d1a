/**
 * Human units in specs. Every parser returns `undefined` for input it does not accept, so
 * callers can report what would be valid at the field's line; the JSON Schemas carry the
 * same grammars as `pattern`s (see UNIT_PATTERNS) so editors flag bad input as you type.
 *
 * Normal forms: durations are seconds (a number, fractional only below one second),
 * memory is bytes (an integer), cpu is vCPUs (a number, e.g. 0.5).
 */

/**
 * UNIT_PATTERNS are the string grammars of each unit, shared with the JSON Schemas.
 * Integers are accepted beside these strings: seconds for durations, bytes for memory,
 * vCPUs for cpu.
 */
export const UNIT_PATTERNS = {
  /** `90s`, `5m`, `1h30m`, `1.5s`, `500ms`, or digits (seconds). */
  duration: "^(?=\\d)(?:\\d+|(?:\\d+h)?(?:\\d+m(?!s))?(?:\\d+(?:\\.\\d+)?s)?(?:\\d+ms)?)$",
  /** `512Mi`, `4Gi`, `1G`, `1.5Gi`, or digits (bytes). */
  memory: "^\\d+(?:\\.\\d+)?(?:[KMGT]i|[kKMGT])?$",
  /** `1`, `2`, `0.5`, `1000m`. */
  cpu: "^(?:\\d+(?:\\.\\d+)?|\\d+m)$",
} as const;

const DURATION_PARTS = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/;

/**
 * parseDuration turns `90s`, `5m`, `1h30m`, `1.5s`, `500ms`, digits or a non-negative
 * number (seconds) into seconds. It returns undefined for anything else.
 */
export function parseDuration(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input >= 0 ? input : undefined;
  if (typeof input !== "string" || input === "") return undefined;
  if (/^\d+$/.test(input)) return Number(input);
  const m = DURATION_PARTS.exec(input);
  if (!m || m.slice(1).every((part) => part === undefined)) return undefined;
  const [, h = "0", min = "0", s = "0", ms = "0"] = m;
  // Summing in milliseconds keeps `1.5s` + `500ms` exact.
  const totalMs = Number(h) * 3_600_000 + Number(min) * 60_000 + Math.round(Number(s) * 1000) + Number(ms);
  return totalMs / 1000;
}

/**
 * formatDuration prints seconds in the shortest human form that parses back to the same
 * value: `1h30m`, `90s` prints as `1m30s`, `0.5` as `500ms`.
 */
export function formatDuration(seconds: number): string {
  let ms = Math.round(seconds * 1000);
  if (ms === 0) return "0s";
  const out: string[] = [];
  const h = Math.floor(ms / 3_600_000);
  ms -= h * 3_600_000;
  const m = Math.floor(ms / 60_000);
  ms -= m * 60_000;
  const s = Math.floor(ms / 1000);
  ms -= s * 1000;
  if (h) out.push(`${h}h`);
  if (m) out.push(`${m}m`);
  if (s) out.push(`${s}s`);
  if (ms) out.push(`${ms}ms`);
  return out.join("");
}

const MEMORY_FACTORS: Readonly<Record<string, number>> = {
  "": 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/**
 * parseMemory turns a Kubernetes-style quantity (`512Mi`, `4Gi`, `1G`, `1.5Gi`) or a
 * number of bytes into bytes. Binary suffixes (`Ki`, `Mi`, `Gi`, `Ti`) are powers of
 * 1024, decimal ones (`k`, `M`, `G`, `T`) powers of 1000, as Cloud Run reads them
 * (https://cloud.google.com/run/docs/configuring/services/memory-limits). It returns
 * undefined for anything else, including quantities that are not a whole number of bytes.
 */
export function parseMemory(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  if (typeof input !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)([KMGT]i|[kKMGT])?$/.exec(input);
  if (!m) return undefined;
  const bytes = Number(m[1]) * MEMORY_FACTORS[m[2] ?? ""]!;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * formatMemory prints bytes with the largest binary suffix that divides them exactly
 * (`512Mi`, `4Gi`), else the largest decimal one (`1G`), else plain bytes. The result
 * parses back to the same number and is what capstan writes to Cloud Run.
 */
export function formatMemory(bytes: number): string {
  for (const unit of ["Ti", "Gi", "Mi", "Ki", "T", "G", "M", "k"]) {
    const factor = MEMORY_FACTORS[unit]!;
    if (bytes !== 0 && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return String(bytes);
}

/**
 * parseCpu turns `1`, `"2"`, `0.5` or `"500m"` (millicpu) into vCPUs. It returns
 * undefined for anything else.
 */
export function parseCpu(input: unknown): number | undefined {
  if (typeof input === "number") return Number.isFinite(input) && input > 0 ? input : undefined;
  if (typeof input !== "string") return undefined;
  if (/^\d+m$/.test(input)) {
    const milli = Number(input.slice(0, -1));
    return milli > 0 ? milli / 1000 : undefined;
  }
  if (/^\d+(?:\.\d+)?$/.test(input)) {
    const cpu = Number(input);
    return cpu > 0 ? cpu : undefined;
  }
  return undefined;
}

/**
 * formatCpu prints vCPUs as Cloud Run's `limits.cpu` string: whole numbers as digits
 * (`"2"`), fractions as millicpu (`"500m"`).
 */
export function formatCpu(cpu: number): string {
  return Number.isInteger(cpu) ? String(cpu) : `${Math.round(cpu * 1000)}m`;
}
