import type { JobState } from '@baton/core';

/**
 * What a user may do: `admin` manages users, quotas and every job; `user` only their own jobs;
 * `viewer` sees everything an admin sees and changes nothing (a dashboard on a wall, an auditor).
 */
export type Role = 'admin' | 'user' | 'viewer';

/** A person (or service) who submits jobs. The name is the `owner` of their jobs. */
export interface UserAccount {
  name: string;
  role: Role;
  /** Share of the fleet against other users under fair share (default 1). */
  weight: number;
  /** When created (epoch ms, store clock). */
  createdAt: number;
}

/**
 * An API token as the store keeps it: never the token itself, only the SHA-256 of its secret
 * (hex). The server finds it by `id` (the public part of the token) and compares the hash in
 * constant time.
 */
export interface StoredToken {
  id: string;
  user: string;
  hash: string;
  createdAt: number;
}

/**
 * Limits on one user's work. Null: no limit. A user without a quota of their own has the
 * default quota (`getQuota(null)`); a field left null in the user's own quota is unlimited, not
 * the default's: a user's quota replaces the default whole.
 */
export interface Quota {
  /** Jobs `assigned` or `running` at once. */
  maxRunningJobs: number | null;
  /** GPUs held by the user's `assigned` and `running` jobs at once. */
  maxGpus: number | null;
  /** Jobs `queued`, `delayed` or `blocked` (workflow steps) at once (checked at submission). */
  maxQueuedJobs: number | null;
  /** Submissions per second, a token bucket with a burst of one second's worth (at submission). */
  submitRatePerSec: number | null;
}

export const NO_QUOTA: Quota = { maxRunningJobs: null, maxGpus: null, maxQueuedJobs: null, submitRatePerSec: null };

/** One owner's jobs: counts per queue and state, and GPUs their leased jobs hold. */
export interface OwnerUsage {
  owner: string;
  /** Per queue the owner has jobs in (any state), by queue name; each has every state's count. */
  queues: { queue: string; counts: Record<JobState, number> }[];
  /** Jobs `assigned` or `running`. */
  leasedJobs: number;
  /** GPUs (`resources.gpus`) of the jobs `assigned` or `running`. */
  leasedGpus: number;
  /** Jobs `queued` or `delayed`, and workflow steps `blocked` on their needs: work that waits. */
  waitingJobs: number;
}

/**
 * Accounts, tokens and quotas, kept in the store so that every server agrees. Names are
 * validated by the server; the store takes them as given. Errors are `BatonError`s:
 * `USER_EXISTS` (409), `USER_NOT_FOUND` (404), `TOKEN_EXISTS` (409).
 */
export interface Accounts {
  /** Creates a user; `USER_EXISTS` when the name is taken. */
  createUser(user: { name: string; role: Role; weight: number }): Promise<UserAccount>;
  getUser(name: string): Promise<UserAccount | null>;
  /** Changes a user's role or weight (fields left out stay); `USER_NOT_FOUND` when there is none. */
  updateUser(name: string, changes: { role?: Role; weight?: number }): Promise<UserAccount>;
  /** Every user, by name. */
  listUsers(): Promise<UserAccount[]>;
  /**
   * Deletes a user with their tokens and quota, atomically: a token of theirs no longer
   * authenticates once this returns. Their jobs stay. False when there was no such user.
   */
  deleteUser(name: string): Promise<boolean>;
  /**
   * Stores a token of an existing user (`USER_NOT_FOUND` otherwise, checked atomically with the
   * insert, so a token is never left behind for a deleted user); `TOKEN_EXISTS` on a taken id.
   */
  createToken(token: { id: string; user: string; hash: string }): Promise<StoredToken>;
  getToken(id: string): Promise<StoredToken | null>;
  /** A user's tokens, oldest first. */
  listTokens(user: string): Promise<StoredToken[]>;
  /** Deletes a token; returns what it was, or null when there was none. */
  deleteToken(id: string): Promise<StoredToken | null>;
  /** A user's own quota (null when they have none), or with `null` the default (NO_QUOTA when never set). */
  getQuota(user: string | null): Promise<Quota | null>;
  /**
   * Sets a user's quota (`USER_NOT_FOUND` for an unknown user), or with `null` the default.
   * With `quota` null, removes the user's own quota (they get the default again).
   */
  setQuota(user: string | null, quota: Quota | null): Promise<void>;
  /** What an owner has in the store now; all zero (no queues) for an owner with no jobs. */
  ownerUsage(owner: string): Promise<OwnerUsage>;
}
