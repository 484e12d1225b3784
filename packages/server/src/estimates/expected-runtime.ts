import type { ExpectedRuntime, Job } from '@baton/core';
import { estimateRuntimeMs, expectedRuntime, runtimeClassKey } from '@baton/core';
import type { Store } from '@baton/store';

/**
 * What a job is expected to run, as `GET /api/jobs/:id` shows it: its timeout when it has one
 * (`limit`), else its class's learned estimate, read from the store now (`history`), else `none`.
 */
export async function expectedRuntimeOf(store: Store, job: Job): Promise<ExpectedRuntime> {
  if (job.timeoutMs !== null) return expectedRuntime(job.timeoutMs, null);
  const key = runtimeClassKey(job.owner, job.task, job.resources);
  const samples = (await store.runtimeSamples([key])).get(key) ?? [];
  return expectedRuntime(null, estimateRuntimeMs(samples));
}
