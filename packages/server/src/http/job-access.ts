import type { FastifyRequest } from 'fastify';
import type { Job } from '@baton/core';
import { BatonError } from '@baton/core';
import type { Store } from '@baton/store';
import type { Principal } from '../auth/principal.js';
import { maySeeAll, mayView } from '../auth/principal.js';

/**
 * A job the request may see (or, with `mayActOn`, change): an admin's or viewer's any, a user's
 * only their own. Another user's job is answered exactly like one that does not exist, so its
 * existence is not revealed.
 */
export async function visibleJob(
  store: Store,
  request: FastifyRequest,
  id: string,
  may: (p: Principal, owner: string) => boolean = mayView,
): Promise<Job> {
  const job = await store.getJob(id);
  if (!job || !may(request.principal, job.owner)) throw new BatonError('JOB_NOT_FOUND', `job ${id} not found`, 404);
  return job;
}

/**
 * The owner a listing, count or bulk action of the request is narrowed to: whatever it asked
 * for when it may see every job, else the user themself (asking for someone else is a 403).
 */
export function ownerScope(request: FastifyRequest, asked: string | undefined): string | undefined {
  if (maySeeAll(request.principal)) return asked;
  if (asked !== undefined && asked !== request.principal.name)
    throw new BatonError('FORBIDDEN', 'a user sees only their own jobs (owner must be left out or be you)', 403);
  return request.principal.name;
}
