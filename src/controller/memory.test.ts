import { describe, expect, it } from "vitest";
import { releaseMemory } from "./memory.ts";

describe("releaseMemory", () => {
  it("collects what is no longer reachable, at once, with or without --expose-gc", () => {
    let junk: { i: number; s: string }[] | undefined = Array.from({ length: 300_000 }, (_, i) => ({
      i,
      s: `item ${i}`,
    }));
    const before = process.memoryUsage().heapUsed;
    expect(junk).toHaveLength(300_000);
    junk = undefined;
    releaseMemory();
    releaseMemory();
    // 300,000 small objects and strings are well over 10 MB of heap.
    expect(process.memoryUsage().heapUsed).toBeLessThan(before - 10_000_000);
  });
});
