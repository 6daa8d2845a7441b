// Vitest settings for @seekr/model: native code runs in forked processes so a crash cannot hide.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    pool: "forks",
    testTimeout: 60_000,
  },
});
