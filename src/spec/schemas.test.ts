import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ANY_KIND_SCHEMA_FILE, allSchemaFiles, kindSchema, SCHEMA_FILES } from "./schemas.ts";
import { KINDS } from "./types.ts";
import { compileSchema } from "./validate.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SCHEMA_DIR = join(ROOT, "schemas");

function yamlDocs(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS())
    .filter((d) => d !== null);
}

describe("shipped JSON Schemas", () => {
  it("match the schemas capstan validates with (refresh with CAPSTAN_GOLDEN_REFRESH=1)", () => {
    for (const [file, schema] of allSchemaFiles()) {
      const path = join(SCHEMA_DIR, file);
      const text = `${JSON.stringify(schema, null, 2)}\n`;
      if (process.env["CAPSTAN_GOLDEN_REFRESH"] === "1") writeFileSync(path, text);
      expect(existsSync(path), `schemas/${file} is missing`).toBe(true);
      expect(readFileSync(path, "utf8"), `schemas/${file} is stale`).toBe(text);
    }
  });

  it("each compile with ajv in strict mode as JSON Schema 2020-12", () => {
    for (const [file, schema] of allSchemaFiles()) {
      expect(schema["$schema"], file).toBe("https://json-schema.org/draft/2020-12/schema");
      expect(() => compileSchema(schema), file).not.toThrow();
    }
  });

  it("describe every property, so editors can explain each field", () => {
    const undocumented: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (!node || typeof node !== "object") return;
      const props = (node as Record<string, unknown>)["properties"];
      if (props && typeof props === "object") {
        for (const [k, v] of Object.entries(props)) {
          const s = v as Record<string, unknown>;
          // `true` marks a oneOf branch's property, documented beside it.
          if (v !== true && typeof s["description"] !== "string" && typeof s["$ref"] !== "string") {
            undocumented.push(`${path}/${k}`);
          }
        }
      }
      for (const [k, v] of Object.entries(node)) walk(v, `${path}/${k}`);
    };
    for (const kind of KINDS) walk(kindSchema(kind), kind);
    expect(undocumented).toEqual([]);
  });

  it("accept every example spec a user can copy, through the any-kind schema editors use", () => {
    const validate = compileSchema(allSchemaFiles().get(ANY_KIND_SCHEMA_FILE)!);
    const dir = join(ROOT, "specs", "examples");
    const docs = readdirSync(dir)
      .filter((f) => f.endsWith(".yaml") && f !== "capstan.yaml")
      .flatMap((f) => yamlDocs(join(dir, f)));
    expect(docs.length).toBeGreaterThanOrEqual(6);
    for (const doc of docs) expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
  });

  it("refuse through the any-kind schema a field the document's kind does not have", () => {
    const validate = compileSchema(allSchemaFiles().get(ANY_KIND_SCHEMA_FILE)!);
    const doc = {
      apiVersion: "capstan.dev/v1alpha1",
      kind: "HealthCheck",
      metadata: { name: "hc" },
      spec: { minInstances: 2 },
    };
    expect(validate(doc)).toBe(false);
    expect(validate({ ...doc, kind: "Nope" })).toBe(false);
  });

  it("name one file per kind", () => {
    expect(Object.keys(SCHEMA_FILES).sort()).toEqual([...KINDS].sort());
  });
});
