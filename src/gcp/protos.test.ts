import { createRequire } from "node:module";
import gax from "google-gax";
import { describe, expect, it } from "vitest";
import { type ProtoJson, pruneProtoJson } from "./protos.ts";

const require = createRequire(import.meta.url);
const COMPUTE = require("@google-cloud/compute/build/protos/protos.json") as ProtoJson;
const SERVICES = [
  "google.cloud.compute.v1.BackendServices",
  "google.cloud.compute.v1.HealthChecks",
  "google.cloud.compute.v1.GlobalOperations",
  "google.cloud.compute.v1.RegionNetworkEndpointGroups",
];

function countTypes(n: ProtoJson): number {
  return Object.values(n.nested ?? {}).reduce((sum, d) => sum + 1 + countTypes(d), 0);
}

describe("pruneProtoJson", () => {
  it("keeps everything the Compute services reach: the pruned descriptor resolves with no missing type", () => {
    const pruned = pruneProtoJson(COMPUTE, SERVICES);
    // resolveAll throws on any field, method or option whose type is not in the root.
    const root = gax.fallback.GrpcClient.protobufFromJSON(pruned, true).resolveAll();
    for (const s of SERVICES) expect(root.lookupService(s).methodsArray.length).toBeGreaterThan(0);
    const bs = root.lookupType("google.cloud.compute.v1.BackendService");
    expect(bs.fields["backends"]?.resolvedType?.fullName).toBe(".google.cloud.compute.v1.Backend");
    expect(root.lookupEnum("google.cloud.compute.v1.Operation.Status").values["DONE"]).toBeDefined();
  });

  it("leaves out unreachable types and the other API versions", () => {
    const pruned = pruneProtoJson(COMPUTE, SERVICES);
    const compute = pruned.nested!["google"]!.nested!["cloud"]!.nested!["compute"]!;
    expect(Object.keys(compute.nested!)).toEqual(["v1"]);
    expect(compute.nested!["v1"]!.nested!["Instance"]).toBeUndefined();
    expect(compute.nested!["v1"]!.nested!["Instances"]).toBeUndefined();
    expect(countTypes(pruned)).toBeLessThan(countTypes(COMPUTE) / 10);
    // The input is not changed.
    expect(
      COMPUTE.nested!["google"]!.nested!["cloud"]!.nested!["compute"]!.nested!["v1"]!.nested!["Instance"],
    ).toBeDefined();
  });

  it("follows fully qualified, nested and transitive references", () => {
    const root: ProtoJson = {
      nested: {
        p: {
          nested: {
            S: { methods: { Get: { requestType: "Req", responseType: ".p.Res" } } },
            Req: { fields: { x: { type: "Outer.Inner" } } },
            Res: { fields: { y: { type: "string" } }, nested: { N: { fields: { z: { type: "Deep" } } } } },
            Outer: { nested: { Inner: { fields: { e: { type: "E" } } } } },
            E: { values: { A: 0 } },
            Deep: { fields: {} },
            Unused: { fields: { u: { type: "Deep" } } },
          },
        },
      },
    };
    const kept = Object.keys(pruneProtoJson(root, ["p.S"]).nested!["p"]!.nested!).sort();
    expect(kept).toEqual(["Deep", "E", "Outer", "Req", "Res", "S"]);
  });

  it("refuses services of different packages or a name that is not a service", () => {
    expect(() => pruneProtoJson(COMPUTE, ["google.cloud.compute.v1.BackendServices", "a.b.C"])).toThrow(
      /one package/,
    );
    expect(() => pruneProtoJson(COMPUTE, ["google.cloud.compute.v1.BackendService"])).toThrow(
      /to be a service/,
    );
  });
});
