import { BatonError } from '@baton/core';
import type { JobState } from '@baton/core';
import type { Accounts, OwnerUsage, Quota, Role, StoredToken, UserAccount } from '../accounts.js';
import { NO_QUOTA } from '../accounts.js';
import type { RedisContext } from './context.js';
import { ownerUsageOf } from '../rules/accounts-usage.js';
import { DEFAULT_QUOTA, OWNER_GPUS, SEP } from './keys.js';
import { callScript } from './scripts.js';

/**
 * Users, API tokens and quotas in Redis: each a hash of JSON records under the store's tag
 * (keys.ts). The steps that must not interleave with another server's (a token for a user being
 * deleted, a user's tokens and quota going with them, a quota for a user being deleted) are
 * scripts; a taken name is refused by HSETNX. Owner usage reads the counts that every job
 * transition keeps (scripts/lib/owners.lua).
 */

/** A user as `{p}:users` holds it, under their name. */
interface UserRecord {
  role: Role;
  weight: number;
  createdAt: number;
}

/** A token as `{p}:tokens` holds it, under its id. */
interface TokenRecord {
  user: string;
  hash: string;
  createdAt: number;
}

const userNotFound = (name: string): BatonError => new BatonError('USER_NOT_FOUND', `user ${name} not found`, 404);

function userOf(name: string, text: string): UserAccount {
  const r = JSON.parse(text) as UserRecord;
  return { name, role: r.role, weight: r.weight, createdAt: r.createdAt };
}

function tokenOf(id: string, text: string): StoredToken {
  const r = JSON.parse(text) as TokenRecord;
  return { id, user: r.user, hash: r.hash, createdAt: r.createdAt };
}

/** Only the four fields of a Quota, each a number or null, whatever else the caller's object has. */
function quotaText(q: Quota): string {
  return JSON.stringify({
    maxRunningJobs: q.maxRunningJobs,
    maxGpus: q.maxGpus,
    maxQueuedJobs: q.maxQueuedJobs,
    submitRatePerSec: q.submitRatePerSec,
  });
}

function quotaOf(text: string): Quota {
  return { ...NO_QUOTA, ...(JSON.parse(text) as Partial<Quota>) };
}

const unlimited = (q: Quota): boolean =>
  q.maxRunningJobs === null && q.maxGpus === null && q.maxQueuedJobs === null && q.submitRatePerSec === null;

/**
 * An owner's counts hash (HGETALL: "<queue>\0<state>" -> jobs, OWNER_LEASED, OWNER_GPUS) as
 * OwnerUsage, through the rule every backend answers with. The hash keeps GPUs per owner, not
 * per queue and state, so they come from its own field.
 */
export function usageOf(owner: string, hash: Record<string, string>): OwnerUsage {
  const counts = Object.entries(hash).flatMap(([field, n]) => {
    const at = field.lastIndexOf(SEP);
    if (at < 0) return []; // OWNER_LEASED, OWNER_GPUS
    return [{ queue: field.slice(0, at), state: field.slice(at + 1) as JobState, n: Number(n), gpus: 0 }];
  });
  return { ...ownerUsageOf(owner, counts), leasedGpus: Number(hash[OWNER_GPUS] ?? 0) };
}

export function redisAccounts(ctx: RedisContext): Accounts {
  const k = ctx.keys;
  const { client } = ctx;
  return {
    async createUser(user) {
      const record: UserRecord = { role: user.role, weight: user.weight, createdAt: ctx.clock() };
      if ((await client.hsetnx(k.users, user.name, JSON.stringify(record))) === 0) {
        throw new BatonError('USER_EXISTS', `user ${user.name} already exists`, 409);
      }
      return { name: user.name, ...record };
    },

    async getUser(name) {
      const text = await client.hget(k.users, name);
      return text === null ? null : userOf(name, text);
    },

    async updateUser(name, changes) {
      // Compare and set: a concurrent change to the same user makes this read again.
      for (let tries = 0; tries < 16; tries++) {
        const text = await client.hget(k.users, name);
        if (text === null) throw userNotFound(name);
        const user = userOf(name, text);
        const record: UserRecord = {
          role: changes.role ?? user.role,
          weight: changes.weight ?? user.weight,
          createdAt: user.createdAt,
        };
        const status = Number(await callScript(client, 'update-user', [k.users], [name, text, JSON.stringify(record)]));
        if (status === 0) throw userNotFound(name);
        if (status === 1) return { name, ...record };
      }
      throw new BatonError('CONFLICT', `user ${name} kept changing; try again`, 409);
    },

    async listUsers() {
      const all = await client.hgetall(k.users);
      return Object.keys(all)
        .sort()
        .map((name) => userOf(name, all[name]!));
    },

    async deleteUser(name) {
      const deleted = await callScript(
        client,
        'delete-user',
        [k.users, k.tokens, k.quotas, k.userTokens(name)],
        [name],
      );
      return Number(deleted) === 1;
    },

    async createToken(token) {
      const record: TokenRecord = { user: token.user, hash: token.hash, createdAt: ctx.clock() };
      const status = Number(
        await callScript(
          client,
          'create-token',
          [k.users, k.tokens, k.userTokens(token.user)],
          [token.id, token.user, record.createdAt, JSON.stringify(record)],
        ),
      );
      if (status === 1) throw userNotFound(token.user);
      if (status === 2) throw new BatonError('TOKEN_EXISTS', `token ${token.id} already exists`, 409);
      return { id: token.id, ...record };
    },

    async getToken(id) {
      const text = await client.hget(k.tokens, id);
      return text === null ? null : tokenOf(id, text);
    },

    async listTokens(user) {
      // Oldest first; tokens made in the same millisecond by id.
      const ids = await client.zrange(k.userTokens(user), '0', '-1');
      if (ids.length === 0) return [];
      const texts = await client.hmget(k.tokens, ...ids);
      return ids.flatMap((id, i) => (texts[i] == null ? [] : [tokenOf(id, texts[i]!)]));
    },

    async deleteToken(id) {
      const text = (await callScript(client, 'delete-token', [k.tokens], [id])) as string | null;
      return text ? tokenOf(id, text) : null;
    },

    async getQuota(user) {
      const text = await client.hget(k.quotas, user ?? DEFAULT_QUOTA);
      if (text !== null) return quotaOf(text);
      return user === null ? { ...NO_QUOTA } : null;
    },

    async setQuota(user, quota) {
      // An unlimited default is the same as none: removing it keeps {p}:quotas empty, so assign
      // skips quota checks with one EXISTS. A user's unlimited quota does count (it replaces the
      // default), so it is kept.
      const text = quota === null || (user === null && unlimited(quota)) ? '' : quotaText(quota);
      const status = Number(
        await callScript(
          client,
          'set-quota',
          [k.users, k.quotas],
          [user ?? DEFAULT_QUOTA, user === null ? '0' : '1', text],
        ),
      );
      if (status === 1) throw userNotFound(user!);
    },

    async ownerUsage(owner) {
      return usageOf(owner, await client.hgetall(k.owner(owner)));
    },
  };
}
