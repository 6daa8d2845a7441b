// Vitest settings for the cross-package tests.
import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["*.test.ts"], pool: "forks", testTimeout: 120_000 } });
