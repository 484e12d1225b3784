import { afterEach, beforeEach, describe } from 'vitest';
import { cancelTests } from './cancel.js';
import { concurrentLeaseTests } from './concurrent-leases.js';
import { coordinationTests } from './coordination.js';
import { enqueueTests } from './enqueue.js';
import { eventTests } from './events.js';
import type { OpenStore } from './fixture.js';
import { Fixture } from './fixture.js';
import { historyTests } from './history.js';
import { leaseTests } from './leases.js';
import { lifecycleTests } from './lifecycle.js';
import { logTests } from './logs.js';
import { releaseTests } from './release.js';
import { resourceTests } from './resources.js';
import { retentionTests } from './retention.js';
import { schedulingTests } from './scheduling.js';

export type { OpenStore } from './fixture.js';

/**
 * The store conformance suite: every backend runs it unchanged. `open` must return a fresh,
 * initialised store using the given clock and random source (and `logTailBytes`, when the
 * options carry it). Tests use queue names of their own, so the store may share a database
 * with other tests.
 */
export function defineStoreConformance(name: string, open: OpenStore): void {
  describe(`store conformance: ${name}`, () => {
    let fixture: Fixture;
    beforeEach(async () => {
      fixture = new Fixture();
      await fixture.open(open);
    });
    afterEach(async () => {
      await fixture.close();
    });
    const f = () => fixture;
    enqueueTests(f);
    schedulingTests(f);
    lifecycleTests(f);
    leaseTests(f);
    cancelTests(f);
    historyTests(f);
    eventTests(f);
    coordinationTests(f);
    resourceTests(f);
    releaseTests(f);
    logTests(f);
    retentionTests(f);
    concurrentLeaseTests(f);
  });
}
