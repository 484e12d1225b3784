import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-level tests (crash/restart) spawn servers; keep parallelism modest on 2-core CI.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
