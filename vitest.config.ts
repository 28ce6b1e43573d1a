import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // CI reads vitest's own JSON results to print the closing `N passed, N failed` line.
    reporters: process.env["CAPSTAN_TEST_REPORT"]
      ? ["default", ["json", { outputFile: process.env["CAPSTAN_TEST_REPORT"] }]]
      : ["default"],
  },
});
