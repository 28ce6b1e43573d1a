import { describe, expect, it } from "vitest";
import { enumName, protoEnum } from "./enums.ts";

describe("protoEnum", () => {
  it("reads an enum's names by number from the client library's own descriptor", () => {
    const state = protoEnum("vpcaccess", "google.cloud.vpcaccess.v1.Connector.State");
    // vpc_access.proto: STATE_UNSPECIFIED 0, READY 1, CREATING 2, DELETING 3, ERROR 4, UPDATING 5.
    expect(state).toEqual({
      0: "STATE_UNSPECIFIED",
      1: "READY",
      2: "CREATING",
      3: "DELETING",
      4: "ERROR",
      5: "UPDATING",
    });
    expect(protoEnum("run", "google.cloud.run.v2.Condition.State")[4]).toBe("CONDITION_SUCCEEDED");
  });

  it("refuses an enum the descriptor does not hold", () => {
    expect(() => protoEnum("sql", "google.cloud.sql.v1.NoSuchEnum")).toThrow(/no such Enum/);
  });
});

describe("enumName", () => {
  const names = protoEnum("sql", "google.cloud.sql.v1.SqlAvailabilityType");
  it("takes a name as it is, a number through the enum, and nothing else", () => {
    expect(enumName("REGIONAL", names)).toBe("REGIONAL");
    expect(enumName(2, names)).toBe("REGIONAL");
    expect(enumName(99, names)).toBeUndefined();
    expect(enumName(null, names)).toBeUndefined();
  });
});
