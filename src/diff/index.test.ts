import { describe, expect, it } from "vitest";
import { deepEqual, diffManaged, formatPath } from "./index.ts";

describe("diffManaged", () => {
  it("reports only the fields the spec states, with before and after", () => {
    const changes = diffManaged(
      { tier: "db-custom-4-16384", databaseFlags: { max_connections: "120" } },
      {
        tier: "db-custom-2-7680",
        databaseFlags: { max_connections: "100", work_mem: "4096" },
        userLabels: { a: "b" },
      },
    );
    expect(changes).toEqual([
      { path: ["tier"], field: "tier", before: "db-custom-2-7680", after: "db-custom-4-16384" },
      {
        path: ["databaseFlags", "max_connections"],
        field: "databaseFlags.max_connections",
        before: "100",
        after: "120",
      },
    ]);
  });

  it("shows a field unset live as a change from undefined", () => {
    expect(diffManaged({ scaling: { minInstances: 1 } }, {})).toEqual([
      { path: ["scaling", "minInstances"], field: "scaling.minInstances", before: undefined, after: 1 },
    ]);
  });

  it("finds no changes when every stated field already has its value", () => {
    expect(diffManaged({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2], d: 9 }, e: 3 })).toEqual([]);
  });

  it("matches keyed list entries by key and ignores live entries the spec does not name", () => {
    const desired = {
      env: [
        { name: "POOL", value: "5" },
        { name: "NEW", value: "x" },
      ],
    };
    const observed = {
      env: [
        { name: "IMAGE_TAG", value: "abc" },
        { name: "POOL", value: "10" },
      ],
    };
    const changes = diffManaged(desired, observed, { keyedLists: { env: "name" } });
    expect(changes.map((c) => [c.field, c.before, c.after])).toEqual([
      ["env[POOL].value", "10", "5"],
      ["env[NEW]", undefined, { name: "NEW", value: "x" }],
    ]);
  });

  it("compares set lists regardless of order and plain lists in order", () => {
    expect(diffManaged({ hc: ["a", "b"] }, { hc: ["b", "a"] }, { setLists: ["hc"] })).toEqual([]);
    expect(diffManaged({ hc: ["a", "b"] }, { hc: ["b", "a"] })).toHaveLength(1);
  });

  it("treats numbers and strings as different values, so normalisation must agree on units", () => {
    expect(diffManaged({ timeout: 300 }, { timeout: "300" })).toHaveLength(1);
  });
});

describe("formatPath", () => {
  it("prints dotted keys and brackets identities and odd keys", () => {
    expect(formatPath(["template", "env", "DB_HOST", "value"])).toBe("template.env.DB_HOST.value");
    expect(formatPath(["labels", "app.kubernetes.io/name"])).toBe("labels[app.kubernetes.io/name]");
    expect(formatPath(["backends", 0])).toBe("backends[0]");
  });
});

describe("deepEqual", () => {
  it("ignores key order and undefined-valued keys", () => {
    expect(deepEqual({ a: 1, b: undefined, c: { d: 2 } }, { c: { d: 2 }, a: 1 })).toBe(true);
    expect(deepEqual([1, { a: 1 }], [1, { a: 2 }])).toBe(false);
  });
});
