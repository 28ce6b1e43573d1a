import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  API_TITLES,
  COMMANDS,
  PERMISSIONS,
  renderIamMarkdown,
  rolePermissions,
} from "../../src/gcp/permissions.ts";
import { API_QUOTAS } from "../../src/gcp/quotas.ts";

const FILE = join(import.meta.dirname, "..", "..", "deploy", "iam.md");

describe("the IAM permissions capstan needs", () => {
  it("deploy/iam.md is generated from src/gcp/permissions.ts (npm run golden:refresh rewrites it)", () => {
    const text = renderIamMarkdown();
    if (process.env["CAPSTAN_GOLDEN_REFRESH"] === "1") writeFileSync(FILE, text);
    expect(readFileSync(FILE, "utf8")).toBe(text);
  });

  it("lists each permission once, for a command that uses it, with a predefined role", () => {
    const names = PERMISSIONS.map((p) => p.permission);
    expect(new Set(names).size).toBe(names.length);
    for (const p of PERMISSIONS) {
      expect(p.commands.length).toBeGreaterThan(0);
      expect(p.commands.every((c) => COMMANDS.includes(c))).toBe(true);
      expect(p.role).toMatch(/^roles\/[a-zA-Z]+\.[a-zA-Z]+$/);
      expect(rolePermissions(p.role)).toContain(p.permission);
      expect(API_TITLES[p.api]).toBeDefined();
      expect(API_QUOTAS[p.api]).toBeDefined();
    }
  });

  it("grants plan nothing that writes: its only write permission is optional (validateOnly)", () => {
    const writes = PERMISSIONS.filter(
      (p) => p.commands.includes("plan") && /\.(update|patch)$/.test(p.permission),
    );
    expect(writes.map((p) => [p.permission, p.optionalFor])).toEqual([["run.services.update", ["plan"]]]);
  });
});
