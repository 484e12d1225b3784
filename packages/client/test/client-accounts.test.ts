import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonApiError, BatonClient } from '@baton/client';
import type { RetryInfo } from '@baton/client';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

/** Users, tokens and quotas through the SDK, against a real server that requires tokens. */
describe('BatonClient accounts against a real server', () => {
  let h: Harness;
  let admin: BatonClient;
  beforeAll(async () => {
    h = await startHarness({ adminToken: TEST_ADMIN_TOKEN });
    admin = new BatonClient({ baseUrl: h.url, token: TEST_ADMIN_TOKEN });
  });
  afterAll(() => h.close());

  /** The error a call fails with. */
  const failure = async (call: Promise<unknown>): Promise<BatonApiError> => {
    const err = await call.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BatonApiError);
    return err as BatonApiError;
  };

  it('creates a user and a token; the token acts as the user', async () => {
    expect(await admin.whoami()).toMatchObject({ name: 'admin', role: 'admin', builtIn: true });
    const ada = await admin.createUser({ name: 'ada', weight: 2 });
    expect(ada).toMatchObject({ name: 'ada', role: 'user', weight: 2 });
    expect((await failure(admin.createUser({ name: 'ada' }))).code).toBe('USER_EXISTS');
    expect((await admin.listUsers()).map((u) => u.name)).toContain('ada');

    const created = await admin.createToken('ada');
    expect(created.token).toMatch(/^baton_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.token.slice(6, 22)).toBe(created.id);
    const asAda = new BatonClient({ baseUrl: h.url, token: created.token });
    expect(await asAda.whoami()).toMatchObject({ name: 'ada', role: 'user', weight: 2, builtIn: false });
    expect(await asAda.listTokens('ada')).toEqual([{ id: created.id, user: 'ada', createdAt: created.createdAt }]);
    const { id } = await asAda.submit('demo.echo', {}, { delayMs: 60_000 });
    expect((await admin.getJob(id)).owner).toBe('ada');
  });

  it('does not retry 401 or 403, and never puts the token in the error', async () => {
    const retries: RetryInfo[] = [];
    const bad = `baton_0123456789abcdef_${'x'.repeat(43)}`;
    const stranger = new BatonClient({ baseUrl: h.url, token: bad, retry: { onRetry: (i) => retries.push(i) } });
    const unauthorized = await failure(stranger.listJobs());
    expect(unauthorized).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(`${unauthorized.message} ${JSON.stringify(unauthorized.details)}`).not.toContain(bad);

    const token = (await admin.createToken('ada')).token;
    const ada = new BatonClient({ baseUrl: h.url, token, retry: { onRetry: (i) => retries.push(i) } });
    expect(await failure(ada.listUsers())).toMatchObject({ status: 403, code: 'FORBIDDEN' });
    expect(retries).toEqual([]);
  });

  it('sets, reads and resets quotas, and the default', async () => {
    expect(await admin.setQuota('ada', { maxRunningJobs: 3, maxGpus: null })).toEqual({
      user: 'ada',
      source: 'user',
      quota: { maxRunningJobs: 3, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null },
    });
    expect((await admin.getQuota('ada')).quota.maxRunningJobs).toBe(3);
    expect(await admin.setDefaultQuota({ maxQueuedJobs: 1000 })).toMatchObject({ maxQueuedJobs: 1000 });
    expect(await admin.getDefaultQuota()).toMatchObject({ maxQueuedJobs: 1000 });
    expect(await admin.resetQuota('ada')).toMatchObject({ source: 'default', quota: { maxQueuedJobs: 1000 } });
    await admin.setDefaultQuota({ maxQueuedJobs: null });
  });

  it("reports a submission over the user's rate as RATE_LIMITED with Retry-After when not retrying", async () => {
    await admin.createUser({ name: 'rushed' });
    await admin.setQuota('rushed', { submitRatePerSec: 0.1 });
    const token = (await admin.createToken('rushed')).token;
    const rushed = new BatonClient({ baseUrl: h.url, token, retry: false });
    await rushed.submit('demo.echo', {}, { delayMs: 60_000 });
    const limited = await failure(rushed.submit('demo.echo', {}, { delayMs: 60_000 }));
    expect(limited).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(limited.retryAfterS).toBeGreaterThanOrEqual(1);
  });

  it('revokes a token and deletes a user', async () => {
    const created = await admin.createToken('ada');
    expect(await admin.revokeToken(created.id)).toEqual({ id: created.id, user: 'ada', revoked: true });
    const revoked = new BatonClient({ baseUrl: h.url, token: created.token, retry: false });
    expect((await failure(revoked.whoami())).code).toBe('UNAUTHORIZED');
    expect((await failure(admin.revokeToken(created.id))).code).toBe('TOKEN_NOT_FOUND');
    expect(await admin.deleteUser('ada')).toEqual({ name: 'ada', deleted: true });
    expect((await failure(admin.deleteUser('ada'))).code).toBe('USER_NOT_FOUND');
  });
});
