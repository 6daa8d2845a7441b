// Vitest settings: forked workers, generous timeouts for property tests on a shared 2-core machine.
import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["src/**/*.test.ts"], pool: "forks", testTimeout: 60_000 } });
