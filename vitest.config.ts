import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/**
 * The files that take longest (measured with `vitest run --reporter=json`), longest first.
 * Without a results cache (a fresh checkout, as in CI) vitest orders files by size, so one of
 * these could start last and run on while the other worker idles; started first, the short
 * files fill in around them. An out-of-date list costs only time.
 */
const LONGEST = [
  'test/crash-load.test.ts',
  'test/dashboard-e2e.test.ts',
  'packages/store/test/postgres.test.ts',
  'test/scale-out.test.ts',
  'packages/cli/test/client-commands.test.ts',
  'test/fleet-failover.test.ts',
  'packages/store/test/sqlite.test.ts',
  'packages/cli/test/accounts.test.ts',
  'test/many-users.test.ts',
  'test/workflow-crash.test.ts',
  'packages/cli/test/account-flags.test.ts',
  'packages/cli/test/workflow-commands.test.ts',
  'packages/server/test/pending-reason-fleet.test.ts',
  'packages/server/test/api-lifecycle.test.ts',
  'packages/server/test/agent-runtime.test.ts',
  'packages/cli/test/cli.test.ts',
];

/** Vitest's order (failed, then longest first, from its cache), or with no cache the longest files first. */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const path = (file: TestSpecification) => relative(this.ctx.config.root, file.moduleId);
    if (files.every((f) => this.ctx.cache.getFileTestResults(`${f.project.name}:${path(f)}`))) return sorted;
    const rank = (file: TestSpecification) => {
      const i = LONGEST.indexOf(path(file));
      return i < 0 ? LONGEST.length : i;
    };
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'bench/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Process-level tests (crash/restart) spawn servers; keep parallelism modest on 2-core CI.
    maxWorkers: 2,
    minWorkers: 1,
    // Files stay isolated (a fresh process each). `isolate: false` saved most of a second per
    // file, but a worker's state then carries over: agent-undeliverable's poison payload, which
    // relies on msgpackr overflowing the stack where JSON does not, once stayed queued.
    sequence: { sequencer: LongestFirst },
  },
});
