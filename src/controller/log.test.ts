import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseStrict } from "../../test/helpers/strict-json.ts";
import { ManualClock } from "../clock/index.ts";
import { createLogger, LABELS_KEY, REDACTED, redact } from "./log.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes one message key per line: a field named message becomes detail", () => {
    const raw: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        raw.push(...String(chunk).split("\n").filter(Boolean));
        done();
      },
    });
    const log = createLogger({ clock: new ManualClock(), destination });
    log.info({ reason: "DependencyNotReady", message: "waits for SqlInstance/db" }, "reconcile deferred");
    expect(raw).toHaveLength(1);
    expect(raw[0]!.match(/"message":/g)).toHaveLength(1);
    expect(parseStrict(raw[0]!)).toMatchObject({
      message: "reconcile deferred",
      detail: "waits for SqlInstance/db",
      reason: "DependencyNotReady",
    });
  });

  it("writes the fields Cloud Logging reads: severity, message, time from the clock, labels", () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 12));
    const { lines, destination } = capture();
    const log = createLogger({ clock, destination, labels: { instance: "host-1" } });
    log.warn({ fields: ["tier"] }, "drift found");
    log.child({ kind: "SqlInstance", name: "main-db", reconcileId: "3.7" }).info("reconcile started");
    expect(lines[0]).toMatchObject({
      severity: "WARNING",
      message: "drift found",
      time: "2026-03-01T12:00:00.000Z",
      [LABELS_KEY]: { app: "capstan", instance: "host-1" },
      fields: ["tier"],
    });
    expect(lines[1]).toMatchObject({
      severity: "INFO",
      kind: "SqlInstance",
      name: "main-db",
      reconcileId: "3.7",
    });
    expect(lines[0]).not.toHaveProperty("level");
  });

  it("redacts anything named like a password, token or secret, at any depth and in child bindings", () => {
    const { lines, destination } = capture();
    const log = createLogger({ clock: new ManualClock(), destination });
    log.child({ accessToken: "ya29.abc" }).info(
      {
        changes: [{ field: "env.DB_HOST", to: "10.0.0.3" }],
        env: { DB_PASSWORD: "hunter2", MODE: "prod" },
        clientSecret: "s3cr3t",
      },
      "write",
    );
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("s3cr3t");
    expect(line).not.toContain("ya29.abc");
    expect(lines[0]).toMatchObject({
      env: { DB_PASSWORD: REDACTED, MODE: "prod" },
      clientSecret: REDACTED,
      accessToken: REDACTED,
      changes: [{ field: "env.DB_HOST", to: "10.0.0.3" }],
    });
  });

  it("judges by field name, not by content, and keeps absent values absent", () => {
    expect(
      redact({ a: { b: [{ passes: 3, refreshToken: "x", note: "a password in text", secret: null }] } }),
    ).toEqual({
      a: { b: [{ passes: 3, refreshToken: REDACTED, note: "a password in text", secret: null }] },
    });
  });
});
