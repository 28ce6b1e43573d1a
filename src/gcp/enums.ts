import { createRequire } from "node:module";
import gax from "google-gax";

const require = createRequire(import.meta.url);

/**
 * The descriptors (protos.json) of the client libraries whose enums capstan reads. Each
 * client loads its own already; reading enums from it (through gax's Root cache, keyed by
 * the descriptor's content) costs nothing more, where the packages' generated message
 * classes (build/protos/protos.js) would load megabytes of code for a few enums.
 */
const DESCRIPTORS = {
  run: "@google-cloud/run/build/protos/protos.json",
  sql: "@google-cloud/sql/build/protos/protos.json",
  vpcaccess: "@google-cloud/vpc-access/build/protos/protos.json",
  secretmanager: "@google-cloud/secret-manager/build/protos/protos.json",
} as const;

/** The descriptors' Roots, built once each (gax caches them too, keyed by a hash of the whole descriptor). */
const roots = new Map<
  keyof typeof DESCRIPTORS,
  ReturnType<typeof gax.fallback.GrpcClient.protobufFromJSON>
>();

/** EnumNames maps an enum's numbers to its value names. */
export type EnumNames = Readonly<Record<number, string>>;

/**
 * protoEnum returns the value names of the enum `fullName` (e.g.
 * `google.cloud.run.v2.Condition.State`) by number, from `library`'s descriptor.
 */
export function protoEnum(library: keyof typeof DESCRIPTORS, fullName: string): EnumNames {
  let root = roots.get(library);
  if (!root) {
    root = gax.fallback.GrpcClient.protobufFromJSON(require(DESCRIPTORS[library]));
    roots.set(library, root);
  }
  return { ...root.lookupEnum(fullName).valuesById };
}

/** enumName reads an enum the client may hand over as its name or its number. */
export function enumName(value: unknown, names: EnumNames): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number") return names[value];
  return undefined;
}
