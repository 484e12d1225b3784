import type Database from 'better-sqlite3';
import type { JobState } from '@baton/core';
import { BatonError } from '@baton/core';
import type { Accounts, OwnerUsage, Quota, Role, StoredToken, UserAccount } from '../accounts.js';
import { NO_QUOTA } from '../accounts.js';
import { ownerUsageOf } from '../rules/accounts-usage.js';
import type { SqliteContext } from './context.js';
import { storedQuota } from './quotas.js';

interface UserRow {
  name: string;
  role: Role;
  weight: number;
  created_at: number;
}

interface TokenRow {
  id: string;
  user: string;
  hash: string;
  created_at: number;
}

const userOf = (r: UserRow): UserAccount => ({ name: r.name, role: r.role, weight: r.weight, createdAt: r.created_at });
const tokenOf = (r: TokenRow): StoredToken => ({ id: r.id, user: r.user, hash: r.hash, createdAt: r.created_at });

function userNotFound(name: string): BatonError {
  return new BatonError('USER_NOT_FOUND', `user ${name} not found`, 404);
}

/**
 * Users, tokens and quotas in SQLite (migration 6). Each call that checks and writes is one
 * transaction; better-sqlite3 is synchronous, so no other call interleaves with it.
 */
export class SqliteAccounts implements Accounts {
  private readonly db: Database.Database;
  private readonly sql;

  constructor(private readonly ctx: SqliteContext) {
    this.db = ctx.db;
    const prepare = (text: string) => ctx.db.prepare(text);
    this.sql = {
      // Params: @name, @role, @weight, @createdAt. No row back: the name is taken.
      insertUser: prepare(`INSERT INTO users (name, role, weight, created_at) VALUES (@name, @role, @weight, @createdAt)
        ON CONFLICT (name) DO NOTHING`),
      // Params: name
      getUser: prepare('SELECT name, role, weight, created_at FROM users WHERE name = ?'),
      // Params: @name, @role, @weight (null: unchanged)
      updateUser: prepare(`UPDATE users SET role = coalesce(@role, role), weight = coalesce(@weight, weight)
        WHERE name = @name RETURNING name, role, weight, created_at`),
      listUsers: prepare('SELECT name, role, weight, created_at FROM users ORDER BY name'),
      // Params: name
      deleteUser: prepare('DELETE FROM users WHERE name = ?'),
      deleteTokensOf: prepare('DELETE FROM tokens WHERE user = ?'),
      deleteQuotaOf: prepare(`DELETE FROM quotas WHERE kind = 'user' AND user = ?`),
      // Params: @id, @user, @hash, @createdAt. No row back: the id is taken.
      insertToken: prepare(`INSERT INTO tokens (id, user, hash, created_at) VALUES (@id, @user, @hash, @createdAt)
        ON CONFLICT (id) DO NOTHING`),
      // Params: id
      getToken: prepare('SELECT id, user, hash, created_at FROM tokens WHERE id = ?'),
      // Params: user. Oldest first, then in creation order.
      listTokens: prepare('SELECT id, user, hash, created_at FROM tokens WHERE user = ? ORDER BY created_at, rowid'),
      // Params: id
      deleteToken: prepare('DELETE FROM tokens WHERE id = ? RETURNING id, user, hash, created_at'),
      // Params: @kind, @user, and the four limits
      putQuota:
        prepare(`INSERT INTO quotas (kind, user, max_running_jobs, max_gpus, max_queued_jobs, submit_rate_per_sec)
        VALUES (@kind, @user, @maxRunningJobs, @maxGpus, @maxQueuedJobs, @submitRatePerSec)
        ON CONFLICT (kind, user) DO UPDATE SET max_running_jobs = excluded.max_running_jobs,
          max_gpus = excluded.max_gpus, max_queued_jobs = excluded.max_queued_jobs,
          submit_rate_per_sec = excluded.submit_rate_per_sec`),
      // Params: kind, user
      dropQuota: prepare('DELETE FROM quotas WHERE kind = ? AND user = ?'),
    };
  }

  createUser = async (user: { name: string; role: Role; weight: number }): Promise<UserAccount> => {
    const createdAt = this.ctx.clock();
    const { changes } = this.sql.insertUser.run({ ...user, createdAt });
    if (changes === 0) throw new BatonError('USER_EXISTS', `user ${user.name} already exists`, 409);
    return { name: user.name, role: user.role, weight: user.weight, createdAt };
  };

  getUser = async (name: string): Promise<UserAccount | null> => {
    const row = this.sql.getUser.get(name) as UserRow | undefined;
    return row ? userOf(row) : null;
  };

  updateUser = async (name: string, changes: { role?: Role; weight?: number }): Promise<UserAccount> => {
    const row = this.sql.updateUser.get({ name, role: changes.role ?? null, weight: changes.weight ?? null }) as
      | UserRow
      | undefined;
    if (!row) throw new BatonError('USER_NOT_FOUND', `no user ${name}`, 404);
    return userOf(row);
  };

  listUsers = async (): Promise<UserAccount[]> => (this.sql.listUsers.all() as UserRow[]).map(userOf);

  deleteUser = async (name: string): Promise<boolean> =>
    this.db.transaction(() => {
      if (this.sql.deleteUser.run(name).changes === 0) return false;
      this.sql.deleteTokensOf.run(name);
      this.sql.deleteQuotaOf.run(name);
      return true;
    })();

  createToken = async (token: { id: string; user: string; hash: string }): Promise<StoredToken> => {
    const createdAt = this.ctx.clock();
    this.db.transaction(() => {
      // In the same transaction as the insert: a user deleted meanwhile leaves no token behind.
      if (!this.sql.getUser.get(token.user)) throw userNotFound(token.user);
      if (this.sql.insertToken.run({ ...token, createdAt }).changes === 0) {
        throw new BatonError('TOKEN_EXISTS', `token ${token.id} already exists`, 409);
      }
    })();
    return { id: token.id, user: token.user, hash: token.hash, createdAt };
  };

  getToken = async (id: string): Promise<StoredToken | null> => {
    const row = this.sql.getToken.get(id) as TokenRow | undefined;
    return row ? tokenOf(row) : null;
  };

  listTokens = async (user: string): Promise<StoredToken[]> =>
    (this.sql.listTokens.all(user) as TokenRow[]).map(tokenOf);

  deleteToken = async (id: string): Promise<StoredToken | null> => {
    const row = this.sql.deleteToken.get(id) as TokenRow | undefined;
    return row ? tokenOf(row) : null;
  };

  getQuota = async (user: string | null): Promise<Quota | null> => {
    const quota = storedQuota(this.ctx.sql, user);
    return user === null ? (quota ?? { ...NO_QUOTA }) : quota;
  };

  setQuota = async (user: string | null, quota: Quota | null): Promise<void> => {
    const kind = user === null ? 'default' : 'user';
    const key = user ?? '';
    this.db.transaction(() => {
      if (user !== null && !this.sql.getUser.get(user)) throw userNotFound(user);
      if (quota === null) this.sql.dropQuota.run(kind, key);
      else
        this.sql.putQuota.run({
          kind,
          user: key,
          maxRunningJobs: quota.maxRunningJobs,
          maxGpus: quota.maxGpus,
          maxQueuedJobs: quota.maxQueuedJobs,
          submitRatePerSec: quota.submitRatePerSec,
        });
    })();
  };

  ownerUsage = async (owner: string): Promise<OwnerUsage> =>
    ownerUsageOf(
      owner,
      this.ctx.sql.ownerCounts.all(owner) as { queue: string; state: JobState; n: number; gpus: number }[],
    );
}
