import { afterEach, beforeEach, describe } from 'vitest';
import { accountTests } from './accounts.js';
import { cancelTests } from './cancel.js';
import { concurrentLeaseTests } from './concurrent-leases.js';
import { conditionalReleaseTests } from './conditional-release.js';
import { coordinationTests } from './coordination.js';
import { enqueueTests } from './enqueue.js';
import { eventTests } from './events.js';
import { fairShareTests } from './fair-share.js';
import type { NewTestDatabase } from './fixture.js';
import { Fixture } from './fixture.js';
import { historyTests } from './history.js';
import { leaseTests } from './leases.js';
import { lifecycleTests } from './lifecycle.js';
import { listingFilterTests } from './listing-filters.js';
import { logTests } from './logs.js';
import { preemptTests } from './preempt.js';
import { queueCountTests } from './queue-counts.js';
import { quotaAssignTests } from './quota-assign.js';
import { releaseTests } from './release.js';
import { resourceTests } from './resources.js';
import { retentionTests } from './retention.js';
import { routeExpiryTests } from './route-expiry.js';
import { runtimeSampleTests } from './runtime-samples.js';
import { schedulingTests } from './scheduling.js';
import { workflowControlTests } from './workflow-control.js';
import { workflowGrowthTests } from './workflow-growth.js';
import { workflowTests } from './workflows.js';

export type { NewTestDatabase, OpenStore, TestDatabase } from './fixture.js';

/**
 * The store conformance suite: every backend runs it unchanged. `newDatabase` makes an empty
 * database for each test (a schema, a key prefix, a file) and says how to open initialised
 * stores on it with the given clock and random source (and `logTailBytes`, when the options
 * carry it) and how to drop it; the suite drops it after the test.
 */
export function defineStoreConformance(name: string, newDatabase: NewTestDatabase): void {
  describe(`store conformance: ${name}`, () => {
    let fixture: Fixture;
    beforeEach(async () => {
      fixture = new Fixture();
      await fixture.open(newDatabase);
    });
    afterEach(async () => {
      await fixture.close();
    });
    const f = () => fixture;
    enqueueTests(f);
    listingFilterTests(f);
    schedulingTests(f);
    lifecycleTests(f);
    leaseTests(f);
    cancelTests(f);
    historyTests(f);
    routeExpiryTests(f);
    eventTests(f);
    coordinationTests(f);
    resourceTests(f);
    releaseTests(f);
    conditionalReleaseTests(f);
    logTests(f);
    retentionTests(f);
    concurrentLeaseTests(f);
    queueCountTests(f);
    accountTests(f);
    quotaAssignTests(f);
    fairShareTests(f);
    preemptTests(f);
    runtimeSampleTests(f);
    workflowTests(f);
    workflowControlTests(f);
    workflowGrowthTests(f);
  });
}
