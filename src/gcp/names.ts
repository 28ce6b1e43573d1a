/**
 * NameTemplate parses GCP resource names like `projects/p/locations/l/services/s` into
 * a typed value once, and prints them back from it, so no code splits names by hand.
 */
export interface NameTemplate<K extends string> {
  /** The pattern, e.g. `projects/{project}/locations/{location}/services/{service}`. */
  readonly pattern: string;
  /** parse returns the parts of a name, or undefined when the name does not fit. */
  parse(name: string): Readonly<Record<K, string>> | undefined;
  /** format prints a name from its parts. */
  format(parts: Readonly<Record<K, string>>): string;
}

type KeysOf<P extends string> = P extends `${string}{${infer K}}${infer Rest}` ? K | KeysOf<Rest> : never;

/** nameTemplate compiles a resource-name pattern whose variables each match one segment. */
export function nameTemplate<P extends string>(pattern: P): NameTemplate<KeysOf<P>> {
  const keys: string[] = [];
  const re = new RegExp(
    `^${pattern.replace(/\{([a-zA-Z]+)\}/g, (_, k: string) => {
      keys.push(k);
      return "([^/]+)";
    })}$`,
  );
  return {
    pattern,
    parse(name) {
      const m = re.exec(name);
      if (!m) return undefined;
      const out: Record<string, string> = {};
      keys.forEach((k, i) => {
        out[k] = m[i + 1]!;
      });
      return out as Record<KeysOf<P>, string>;
    },
    format(parts) {
      return pattern.replace(/\{([a-zA-Z]+)\}/g, (_, k: string) => (parts as Record<string, string>)[k]!);
    },
  };
}

/** Resource names of every GCP resource capstan reads or writes. */
export const names = {
  runService: nameTemplate("projects/{project}/locations/{location}/services/{service}"),
  runRevision: nameTemplate(
    "projects/{project}/locations/{location}/services/{service}/revisions/{revision}",
  ),
  runLocation: nameTemplate("projects/{project}/locations/{location}"),
  runOperation: nameTemplate("projects/{project}/locations/{location}/operations/{operation}"),
  connector: nameTemplate("projects/{project}/locations/{location}/connectors/{connector}"),
  vpcAccessLocation: nameTemplate("projects/{project}/locations/{location}"),
  vpcAccessOperation: nameTemplate("projects/{project}/locations/{location}/operations/{operation}"),
  secret: nameTemplate("projects/{project}/secrets/{secret}"),
  secretVersion: nameTemplate("projects/{project}/secrets/{secret}/versions/{version}"),
  project: nameTemplate("projects/{project}"),
  computeBackendService: nameTemplate("projects/{project}/global/backendServices/{backendService}"),
  computeHealthCheck: nameTemplate("projects/{project}/global/healthChecks/{healthCheck}"),
  computeRegionNeg: nameTemplate(
    "projects/{project}/regions/{region}/networkEndpointGroups/{networkEndpointGroup}",
  ),
  computeRegion: nameTemplate("projects/{project}/regions/{region}"),
  computeGlobalOperation: nameTemplate("projects/{project}/global/operations/{operation}"),
  sqlInstance: nameTemplate("projects/{project}/instances/{instance}"),
  sqlOperation: nameTemplate("projects/{project}/operations/{operation}"),
} as const;
