import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-level tests (crash/restart) spawn servers; keep parallelism modest on 2-core CI.
    maxWorkers: 2,
    minWorkers: 1,
    // Each worker process runs file after file instead of a fresh process per file: a fresh one
    // costs most of a second (starting Node and vitest, importing the packages again), over
    // 2 minutes of worker time across the suite. Tests here restore what they change (timers,
    // environment variables) and keep their state in their own files.
    isolate: false,
  },
});
