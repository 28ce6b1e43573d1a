/** fnv1a is a 32-bit FNV-1a hash, for deterministic names and numbers. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * projectNumberOf is the project number the simulator gives a project id: the fixture's
 * when it names one, else a stable 12-digit number derived from the id (GCP project
 * numbers are 12 digits). APIs that name resources by project number (Secret Manager,
 * Cloud Run's service accounts) use it.
 */
export function projectNumberOf(project: string, numbers: Readonly<Record<string, string>> = {}): string {
  return numbers[project] ?? `10${String(fnv1a(project)).padStart(10, "0")}`;
}
