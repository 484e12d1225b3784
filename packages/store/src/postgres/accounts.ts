import type { JobState } from '@baton/core';
import { BatonError } from '@baton/core';
import type { Accounts, OwnerUsage, Quota, Role, StoredToken, UserAccount } from '../accounts.js';
import { NO_QUOTA } from '../accounts.js';
import { ownerUsageOf } from '../rules/accounts-usage.js';
import type { PostgresContext } from './context.js';
import * as accountsSql from './sql/accounts.js';
import * as quotasSql from './sql/quotas.js';

/** Users, tokens and quotas in PostgreSQL (migration 6): one statement per call. */

interface UserRow {
  name: string;
  role: Role;
  weight: number;
  created_at: number;
}

interface TokenRow {
  id: string;
  user_name: string;
  hash: string;
  created_at: number;
}

interface QuotaRow {
  max_running_jobs: number | null;
  max_gpus: number | null;
  max_queued_jobs: number | null;
  submit_rate_per_sec: number | null;
}

/** foreign_key_violation: the user a token or quota names does not exist (or was just deleted). */
const FOREIGN_KEY_VIOLATION = '23503';

const userFromRow = (r: UserRow): UserAccount => ({
  name: r.name,
  role: r.role,
  weight: r.weight,
  createdAt: r.created_at,
});

const tokenFromRow = (r: TokenRow): StoredToken => ({
  id: r.id,
  user: r.user_name,
  hash: r.hash,
  createdAt: r.created_at,
});

const quotaFromRow = (r: QuotaRow): Quota => ({
  maxRunningJobs: r.max_running_jobs,
  maxGpus: r.max_gpus,
  maxQueuedJobs: r.max_queued_jobs,
  submitRatePerSec: r.submit_rate_per_sec,
});

const quotaValues = (q: Quota): unknown[] => [q.maxRunningJobs, q.maxGpus, q.maxQueuedJobs, q.submitRatePerSec];

const userNotFound = (name: string): BatonError => new BatonError('USER_NOT_FOUND', `user ${name} not found`, 404);

/** Runs `work`, answering USER_NOT_FOUND when the user it names fails the foreign key. */
async function forUser<T>(name: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) throw userNotFound(name);
    throw err;
  }
}

export function postgresAccounts(ctx: PostgresContext): Accounts {
  return {
    async createUser(user) {
      const [row] = await ctx.run<UserRow>(accountsSql.createUser, [user.name, user.role, user.weight, ctx.clock()]);
      if (!row) throw new BatonError('USER_EXISTS', `user ${user.name} already exists`, 409);
      return userFromRow(row);
    },

    async getUser(name) {
      const [row] = await ctx.run<UserRow>(accountsSql.getUser, [name]);
      return row ? userFromRow(row) : null;
    },

    async updateUser(name, changes) {
      const [row] = await ctx.run<UserRow>(accountsSql.updateUser, [
        name,
        changes.role ?? null,
        changes.weight ?? null,
      ]);
      if (!row) throw userNotFound(name);
      return userFromRow(row);
    },

    async listUsers() {
      return (await ctx.run<UserRow>(accountsSql.listUsers, [])).map(userFromRow);
    },

    async deleteUser(name) {
      return (await ctx.run(accountsSql.deleteUser, [name])).length > 0;
    },

    async createToken(token) {
      const [row] = await forUser(token.user, () =>
        ctx.run<TokenRow>(accountsSql.createToken, [token.id, token.user, token.hash, ctx.clock()]),
      );
      if (!row) throw new BatonError('TOKEN_EXISTS', `token ${token.id} already exists`, 409);
      return tokenFromRow(row);
    },

    async getToken(id) {
      const [row] = await ctx.run<TokenRow>(accountsSql.getToken, [id]);
      return row ? tokenFromRow(row) : null;
    },

    async listTokens(user) {
      return (await ctx.run<TokenRow>(accountsSql.listTokens, [user])).map(tokenFromRow);
    },

    async deleteToken(id) {
      const [row] = await ctx.run<TokenRow>(accountsSql.deleteToken, [id]);
      return row ? tokenFromRow(row) : null;
    },

    async getQuota(user) {
      if (user === null) {
        const [row] = await ctx.run<QuotaRow>(accountsSql.getDefaultQuota, []);
        return row ? quotaFromRow(row) : { ...NO_QUOTA };
      }
      const [row] = await ctx.run<QuotaRow>(accountsSql.getUserQuota, [user]);
      return row ? quotaFromRow(row) : null;
    },

    async setQuota(user, quota) {
      if (user === null) {
        if (quota === null) await ctx.run(accountsSql.removeDefaultQuota, []);
        else await ctx.run(accountsSql.setDefaultQuota, quotaValues(quota));
        return;
      }
      if (quota !== null) {
        await forUser(user, () => ctx.run(accountsSql.setUserQuota, [user, ...quotaValues(quota)]));
        return;
      }
      const [row] = await ctx.run<{ user_exists: boolean }>(accountsSql.removeUserQuota, [user]);
      if (!row?.user_exists) throw userNotFound(user);
    },

    async ownerUsage(owner): Promise<OwnerUsage> {
      const counts = await ctx.run<{ queue: string; state: JobState; n: number; gpus: number }>(quotasSql.ownerCounts, [
        owner,
      ]);
      return ownerUsageOf(owner, counts);
    },
  };
}
