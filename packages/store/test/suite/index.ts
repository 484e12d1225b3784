import { afterEach, beforeEach, describe } from 'vitest';
import { cancelAndStatsTests } from './cancel-and-stats.js';
import { enqueueTests } from './enqueue.js';
import type { OpenStore } from './fixture.js';
import { Fixture } from './fixture.js';
import { leaseTests } from './leases.js';
import { retryTests } from './retries.js';

export type { OpenStore } from './fixture.js';

/**
 * The store conformance suite: every backend runs it unchanged. `open` must return a fresh,
 * initialised store using the given clock and random source; tests isolate themselves by
 * queue name, so the store may be shared with other tests.
 */
export function defineStoreConformance(name: string, open: OpenStore): void {
  describe(`store conformance: ${name}`, () => {
    let fixture: Fixture;
    beforeEach(async () => {
      fixture = new Fixture();
      await fixture.open(open);
    });
    afterEach(async () => {
      await fixture.store.close();
    });
    const f = () => fixture;
    enqueueTests(f);
    leaseTests(f);
    retryTests(f);
    cancelAndStatsTests(f);
  });
}
