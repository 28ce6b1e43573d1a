import { describe, expect, it } from "vitest";
import { duration, esc, pageValue } from "./html.ts";

const env = (name: string, ...rest: string[]) => ({
  path: ["template", "env", { key: "name", id: name }, ...rest],
  field: `template.env[${name}]${rest.map((r) => `.${r}`).join("")}`,
});

describe("values on pages anyone on the port's network can read", () => {
  it("hide every literal under a secret-looking name, in any form", () => {
    expect(pageValue(env("DB_PASSWORD", "value"), "hunter2")).toBe('"[REDACTED]"');
    expect(pageValue(env("API_TOKEN"), { name: "API_TOKEN", value: "t0k3n" })).toBe(
      '{"name":"API_TOKEN","value":"[REDACTED]"}',
    );
    expect(pageValue({ path: ["clientSecret"], field: "clientSecret" }, 42)).toBe('"[REDACTED]"');
  });

  it("show a Secret Manager reference by name and version, and other values as they are", () => {
    const ref = { name: "projects/p/secrets/db-password", version: "latest" };
    expect(pageValue(env("DB_PASSWORD", "secret"), ref)).toBe(JSON.stringify(ref));
    expect(pageValue(env("DB_PASSWORD", "secret", "name"), ref.name)).toBe(JSON.stringify(ref.name));
    expect(pageValue(env("DB_PASSWORD"), { name: "DB_PASSWORD", secret: ref })).toBe(
      JSON.stringify({ name: "DB_PASSWORD", secret: ref }),
    );
    expect(pageValue(env("DB_POOL_SIZE", "value"), "5")).toBe('"5"');
    expect(pageValue({ path: ["template", "timeout"], field: "template.timeout" }, 60)).toBe("60s");
    expect(pageValue(env("DB_PASSWORD", "value"), undefined)).toBe("(unset)");
  });
});

describe("HTML helpers", () => {
  it("escape markup and quotes", () => {
    expect(esc(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("print durations the way people say them", () => {
    expect([850, 42_000, 185_000, 7_800_000].map(duration)).toEqual(["850ms", "42s", "3m 05s", "2h 10m"]);
  });
});
