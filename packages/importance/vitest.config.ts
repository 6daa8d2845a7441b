// Vitest settings: forked workers (native code), generous timeouts on a shared 2-core machine.
import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["src/**/*.test.ts"], pool: "forks", testTimeout: 120_000 } });
