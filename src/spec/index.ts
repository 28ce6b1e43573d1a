/**
 * The public face of src/spec: load a spec set from files, with every problem found
 * offline, and the pieces later stages need (types, unit printing, live checks).
 */
export {
  DEFAULTS_FILE,
  type DefaultsSource,
  type LoadOptions,
  loadSpecs,
  parseSpecSet,
  type SpecSource,
} from "./load.ts";
export { POLICY_DEFAULTS } from "./normalize.ts";
export { gcpNameOf, idOf } from "./references.ts";
export {
  checkAgainstLive,
  type Disruption,
  type LiveCheck,
  type LiveCheckOptions,
  type LiveSpecOf,
} from "./rules.ts";
export { ANY_KIND_SCHEMA_FILE, allSchemaFiles, kindSchema, SCHEMA_FILES } from "./schemas.ts";
export * from "./types.ts";
export { formatCpu, formatDuration, formatMemory, parseCpu, parseDuration, parseMemory } from "./units.ts";
export { displayPath, formatProblem, sortProblems } from "./validate.ts";
