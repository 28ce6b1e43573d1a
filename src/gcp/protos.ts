import gax from "google-gax";

/** ProtoJson is a protobufjs JSON descriptor (what a client library's protos.json holds). */
export interface ProtoJson {
  nested?: Record<string, ProtoJson>;
  fields?: Record<string, { type: string }>;
  methods?: Record<string, { requestType: string; responseType: string }>;
  [key: string]: unknown;
}

/**
 * pruneProtoJson returns `root` with the package of `services` cut down to the types those
 * services can reach (their request and response messages, the messages and enums their
 * fields use, transitively, each top-level type kept whole with its nested types) and the
 * package's sibling versions left out. Everything outside the package (google.api,
 * google.protobuf, extension declarations) is kept as it is. All services must share one
 * package. `root` is not changed.
 *
 * Why: @google-cloud/compute ships one descriptor for all of Compute v1, v1beta and
 * v1small (over 4,600 types); every Compute client loads it whole into a protobufjs Root,
 * ~37 MB of heap kept for the life of the process, for the four services capstan calls,
 * which reach a few hundred types.
 */
export function pruneProtoJson(root: ProtoJson, services: readonly string[]): ProtoJson {
  const path = packageOf(services);
  const parents: ProtoJson[] = [root];
  for (const part of path) {
    const next = parents.at(-1)!.nested?.[part];
    if (!next) throw new TypeError(`Expected the descriptor to hold package \`${path.join(".")}\``);
    parents.push(next);
  }
  const pkg = parents.at(-1)!;
  const types = pkg.nested ?? {};
  const prefix = `${path.join(".")}.`;
  const keep = new Set<string>();
  const queue: string[] = [];
  const want = (ref: string) => {
    let name = ref.startsWith(".") ? ref.slice(1) : ref;
    if (name.startsWith(prefix)) name = name.slice(prefix.length);
    const top = name.split(".")[0]!;
    if (types[top] && !keep.has(top)) {
      keep.add(top);
      queue.push(top);
    }
  };
  for (const service of services) {
    const name = service.slice(prefix.length);
    const def = types[name];
    if (!def?.methods) throw new TypeError(`Expected \`${service}\` to be a service of the descriptor`);
    keep.add(name);
    for (const m of Object.values(def.methods)) {
      want(m.requestType);
      want(m.responseType);
    }
  }
  const visit = (def: ProtoJson) => {
    for (const f of Object.values(def.fields ?? {})) want(f.type);
    for (const inner of Object.values(def.nested ?? {})) visit(inner);
  };
  while (queue.length > 0) visit(types[queue.pop()!]!);

  // Rebuild the path from the package up: the package with the kept types only, its
  // parent without the package's sibling namespaces (other API versions), the rest as is.
  let rebuilt: ProtoJson = {
    ...pkg,
    nested: Object.fromEntries(Object.entries(types).filter(([name]) => keep.has(name))),
  };
  for (let i = path.length - 1; i >= 0; i--) {
    const parent = parents[i]!;
    const entries = Object.entries(parent.nested ?? {}).filter(
      ([name, def]) => name === path[i] || !(i === path.length - 1 && def.nested),
    );
    rebuilt = {
      ...parent,
      nested: Object.fromEntries(entries.map(([name, def]) => [name, name === path[i] ? rebuilt : def])),
    };
  }
  return rebuilt;
}

function packageOf(services: readonly string[]): string[] {
  const packages = new Set(services.map((s) => s.split(".").slice(0, -1).join(".")));
  if (services.length === 0 || packages.size !== 1) {
    throw new TypeError(`Expected services of one package, got \`${services.join(", ")}\``);
  }
  return [...packages][0]!.split(".");
}

/**
 * prunedGax returns a google-gax instance, for a client constructor's documented
 * `gaxInstance` argument, that loads the client's descriptor pruned to `services` (see
 * {@link pruneProtoJson}). Everything else is google-gax itself: the same REST transport,
 * encoding and decoding, on a smaller Root. Every client given it shares one pruned Root.
 */
export function prunedGax(services: readonly string[]): typeof gax {
  const pruned = new WeakMap<object, ProtoJson>();
  class PrunedGrpcClient extends gax.fallback.GrpcClient {
    override loadProtoJSON(json: ProtoJson, ignoreCache?: boolean) {
      let small = pruned.get(json);
      if (!small) {
        small = pruneProtoJson(json, services);
        pruned.set(json, small);
      }
      return super.loadProtoJSON(small, ignoreCache);
    }
  }
  return { ...gax, fallback: { ...gax.fallback, GrpcClient: PrunedGrpcClient } };
}
