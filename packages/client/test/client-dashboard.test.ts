import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonApiError, BatonClient } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { isFinal, startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

/** The SDK's calls for the dashboard: counts, retry, bulk actions, overview, a viewer's token. */
describe('BatonClient dashboard calls against a real server', () => {
  let h: Harness;
  let admin: BatonClient;
  let viewer: BatonClient;
  beforeAll(async () => {
    h = await startHarness({ adminToken: TEST_ADMIN_TOKEN });
    admin = new BatonClient({ baseUrl: h.url, token: TEST_ADMIN_TOKEN });
    await admin.createUser({ name: 'vic', role: 'viewer' });
    viewer = new BatonClient({ baseUrl: h.url, token: (await admin.createToken('vic')).token });
  });
  afterAll(() => h.close());

  it('counts, retries, bulk-cancels and reads the overview; a viewer reads and is refused changes', async () => {
    const done = await admin.submit('demo.echo', { n: 1 });
    await h.waitFor(done.id, isFinal);
    const retried = await admin.retry(done.id);
    expect(retried.retryOf).toBe(done.id);
    expect(retried.job).toMatchObject({ task: 'demo.echo', payload: { n: 1 } });
    const later = await admin.submit('demo.echo', {}, { delayMs: 600_000 });
    expect((await admin.bulkCancel({ filter: { state: 'delayed' }, dryRun: true })).acted).toBe(1);
    expect(await admin.bulkCancel({ filter: { state: 'delayed' } })).toEqual({
      matched: 1,
      acted: 1,
      skipped: 0,
      truncated: false,
    });
    expect((await admin.getJob(later.id)).state).toBe('cancelled');
    expect((await admin.bulkRetry({ filter: { task: 'demo.echo', state: 'cancelled' }, dryRun: true })).acted).toBe(1);
    const counts = await viewer.jobCounts();
    expect(counts.counts.cancelled).toBe(1);
    expect(counts.total).toBeGreaterThanOrEqual(3);
    expect((await viewer.listJobs({ task: 'demo.echo', since: 0 })).jobs.length).toBeGreaterThanOrEqual(3);
    expect((await viewer.overviewHistory()).intervalMs).toBe(5000);
    expect(await viewer.attention()).toMatchObject({ deadLettered: 0, unhealthyGpus: [], blocked: [] });
    const refused = await viewer.retry(done.id).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BatonApiError);
    expect((refused as BatonApiError).status).toBe(403);
  });
});
