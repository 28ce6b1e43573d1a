import { describe, expect, it } from "vitest";
import { describeWindow, msUntilWindow } from "./window.ts";

const at = (iso: string) => Date.parse(iso);
const HOUR = 3_600_000;

describe("msUntilWindow", () => {
  it("is zero inside the window and counts to the next opening outside it", () => {
    // 2026-11-29 is a Sunday.
    const sunday3 = { day: 7, hour: 3 };
    expect(msUntilWindow(at("2026-11-29T03:30:00Z"), sunday3)).toBe(0);
    expect(msUntilWindow(at("2026-11-29T02:00:00Z"), sunday3)).toBe(HOUR);
    expect(msUntilWindow(at("2026-11-29T04:00:00Z"), sunday3)).toBe(7 * 24 * HOUR - HOUR);
    expect(msUntilWindow(at("2026-11-28T03:00:00Z"), sunday3)).toBe(24 * HOUR);
  });

  it("treats a window without a day as daily and one without an hour as always open", () => {
    expect(msUntilWindow(at("2026-11-28T05:00:00Z"), { hour: 4 })).toBe(23 * HOUR);
    expect(msUntilWindow(at("2026-11-28T05:00:00Z"), {})).toBe(0);
  });

  it("prints the window for people", () => {
    expect(describeWindow({ day: 7, hour: 23 })).toBe("Sunday 23:00–00:00 UTC");
  });
});
