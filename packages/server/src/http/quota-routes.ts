import type { FastifyInstance } from 'fastify';
import { BatonError, ownerSchema, quotaPatchSchema } from '@baton/core';
import type { QuotaPatch } from '@baton/core';
import type { Quota, Store } from '@baton/store';
import { NO_QUOTA } from '@baton/store';
import type { QuotaBook } from '../quota/quota-book.js';
import { requireAdmin, requireSeeAll, requireSelfOrSeeAll } from './authentication.js';
import { parsed } from './users-routes.js';

const patched = (base: Quota, patch: QuotaPatch): Quota => ({
  maxRunningJobs: patch.maxRunningJobs === undefined ? base.maxRunningJobs : patch.maxRunningJobs,
  maxGpus: patch.maxGpus === undefined ? base.maxGpus : patch.maxGpus,
  maxQueuedJobs: patch.maxQueuedJobs === undefined ? base.maxQueuedJobs : patch.maxQueuedJobs,
  submitRatePerSec: patch.submitRatePerSec === undefined ? base.submitRatePerSec : patch.submitRatePerSec,
});

/**
 * Quotas: each user's own (replacing the default whole) and the default. Admins set them; a
 * user may read their own. A change applies at once on this server and within the quota cache
 * (2 s) on the others; `assign` reads them from the store, so running limits hold at once.
 */
export function registerQuotaRoutes(app: FastifyInstance, deps: { store: Store; quotas: QuotaBook }): void {
  const { store, quotas } = deps;

  const userOf = async (raw: string): Promise<string> => {
    const name = parsed(ownerSchema, raw, 'user name: ');
    if (!(await store.getUser(name))) throw new BatonError('USER_NOT_FOUND', `no user ${name}`, 404);
    return name;
  };
  const answer = async (user: string) => {
    quotas.forget(user);
    const { quota, source } = await quotas.effective(user);
    return { user, quota, source };
  };

  app.get<{ Params: { name: string } }>('/api/users/:name/quota', async (request) => {
    requireSelfOrSeeAll(request, parsed(ownerSchema, request.params.name, 'user name: '));
    return answer(await userOf(request.params.name));
  });

  app.put<{ Params: { name: string } }>('/api/users/:name/quota', async (request) => {
    requireAdmin(request);
    const patch = parsed(quotaPatchSchema, request.body);
    const user = await userOf(request.params.name);
    // A user's first own quota starts from what they had (the default), so setting one field
    // does not lift the default's other limits.
    const base = (await store.getQuota(user)) ?? (await store.getQuota(null)) ?? NO_QUOTA;
    await store.setQuota(user, patched(base, patch));
    return answer(user);
  });

  app.delete<{ Params: { name: string } }>('/api/users/:name/quota', async (request) => {
    requireAdmin(request);
    const user = await userOf(request.params.name);
    await store.setQuota(user, null);
    return answer(user);
  });

  app.get('/api/quota/default', async (request) => {
    requireSeeAll(request);
    return { quota: (await store.getQuota(null)) ?? NO_QUOTA };
  });

  app.put('/api/quota/default', async (request) => {
    requireAdmin(request);
    const patch = parsed(quotaPatchSchema, request.body);
    const quota = patched((await store.getQuota(null)) ?? NO_QUOTA, patch);
    await store.setQuota(null, quota);
    quotas.forget();
    return { quota };
  });
}
