import { describe, expect, it } from "vitest";
import {
  formatCpu,
  formatDuration,
  formatMemory,
  parseCpu,
  parseDuration,
  parseMemory,
  UNIT_PATTERNS,
} from "./units.ts";

describe("durations", () => {
  it.each([
    ["90s", 90],
    ["5m", 300],
    ["1h30m", 5400],
    ["1h", 3600],
    ["2m30s", 150],
    ["1.5s", 1.5],
    ["500ms", 0.5],
    ["1m500ms", 60.5],
    ["45", 45],
    [45, 45],
    [0, 0],
  ] as const)("reads %j as %d seconds", (input, seconds) => {
    expect(parseDuration(input)).toBe(seconds);
  });

  it.each(["", "5 minutes", "1d", "m", "5ms5s", "-5s", "1.5m", "5M", "h"])("refuses %j", (input) => {
    expect(parseDuration(input)).toBeUndefined();
    expect(new RegExp(UNIT_PATTERNS.duration).test(input)).toBe(false);
  });

  it("refuses negative and non-finite numbers", () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it("accepts with its schema pattern exactly the strings it parses", () => {
    for (const s of ["90s", "5m", "1h30m", "1.5s", "500ms", "45"]) {
      expect(new RegExp(UNIT_PATTERNS.duration).test(s)).toBe(true);
    }
  });

  it.each([
    [5400, "1h30m"],
    [90, "1m30s"],
    [45, "45s"],
    [0.5, "500ms"],
    [0, "0s"],
  ])("prints %d seconds as %s, which reads back the same", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text)).toBe(seconds);
  });
});

describe("memory", () => {
  it.each([
    ["512Mi", 512 * 2 ** 20],
    ["4Gi", 4 * 2 ** 30],
    ["1G", 1e9],
    ["500M", 5e8],
    ["1.5Gi", 1.5 * 2 ** 30],
    ["128Ki", 128 * 1024],
    ["1024", 1024],
    [536870912, 536870912],
  ] as const)("reads %j as %d bytes", (input, bytes) => {
    expect(parseMemory(input)).toBe(bytes);
  });

  it.each(["512MB", "4GB", "4 Gi", "Gi", "-1Mi", "1.0000001Ki", "1e3"])("refuses %j", (input) => {
    expect(parseMemory(input)).toBeUndefined();
  });

  it.each([
    [512 * 2 ** 20, "512Mi"],
    [4 * 2 ** 30, "4Gi"],
    [1536 * 2 ** 20, "1536Mi"],
    [1e9, "1G"],
    [1000, "1k"],
    [1023, "1023"],
  ])("prints %d bytes as %s, which reads back the same", (bytes, text) => {
    expect(formatMemory(bytes)).toBe(text);
    expect(parseMemory(text)).toBe(bytes);
  });
});

describe("cpu", () => {
  it.each([
    [1, 1],
    ["2", 2],
    [0.5, 0.5],
    ["500m", 0.5],
    ["1000m", 1],
    ["0.08", 0.08],
  ] as const)("reads %j as %d vCPU", (input, cpu) => {
    expect(parseCpu(input)).toBe(cpu);
  });

  it.each(["", "one", "0", "0m", "-1", "1.5m"])("refuses %j", (input) => {
    expect(parseCpu(input)).toBeUndefined();
  });

  it("prints whole vCPUs as digits and fractions as millicpu", () => {
    expect(formatCpu(2)).toBe("2");
    expect(formatCpu(0.5)).toBe("500m");
    expect(formatCpu(0.08)).toBe("80m");
  });
});
