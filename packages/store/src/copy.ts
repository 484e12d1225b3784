import type { Completion, Job, JobAttempt, JobAssignment, JobError, JobState, NewJob } from '@baton/core';
import { BatonError } from '@baton/core';
import type { Quota } from './accounts.js';
import { NO_QUOTA } from './accounts.js';
import type { Store, TaskRoute } from './contract.js';
import { copyRuntimes } from './copy-runtimes.js';

/** Unfinished states, copied first (the work still to do). */
export const UNFINISHED_COPIED_STATES: readonly JobState[] = ['delayed', 'queued', 'assigned', 'running'];

/** Every state, as `copyJobs` copies them: unfinished first, then finished jobs. */
export const COPIED_STATES: readonly JobState[] = [...UNFINISHED_COPIED_STATES, 'succeeded', 'failed', 'cancelled'];

export interface CopyProgress {
  state: JobState;
  /** Jobs of this state read from the source so far. */
  read: number;
  /** Of those, created in the target (the rest were there already). */
  copied: number;
}

export interface CopyResult {
  read: number;
  copied: number;
  skipped: number;
  routes: number;
  /** Users created in the target (those already there are left as they are). */
  users: number;
  /** Tokens created in the target (those already there are left as they are). */
  tokens: number;
  /** Quotas set in the target: the default and users' own, where the target had none. */
  quotas: number;
  /** Runtime classes whose history (learned estimates) was copied; those the target had are kept. */
  runtimeClasses: number;
}

export interface CopyOptions {
  batch?: number;
  now?: number;
  onProgress?: (p: CopyProgress) => void;
}

/** Lease of the replayed attempts: each ends in the same call sequence, long before it. */
const REPLAY_LEASE_MS = 60_000;

/** The end of an attempt an agent held when the job was copied: it runs again in the target. */
const INTERRUPTED: JobError = {
  code: 'STORE_COPIED',
  message: 'the attempt was running when the job was copied to another store; it runs again there',
  retryable: true,
};

/** The end of an earlier attempt whose history has no error of its own. */
function replayedError(attempt: JobAttempt | undefined): JobError {
  if (attempt?.error) return attempt.error;
  return attempt?.outcome === 'lease_expired'
    ? { code: 'LEASE_EXPIRED', message: 'the lease ran out (attempt made before the store copy)', retryable: true }
    : { code: 'STORE_COPIED', message: 'an attempt made before the job was copied to this store', retryable: true };
}

/**
 * Copies the live task routes, each with its expiry: a forever route stays forever, one that
 * expires keeps the time it has left (as of `now`; one with none left is skipped). Answers how
 * many it copied.
 */
async function copyRoutes(from: Store, to: Store, now: number): Promise<number> {
  const byTtl = new Map<number | undefined, TaskRoute[]>();
  for (const { task, queue, expiresAt } of await from.taskRoutes()) {
    const ttl = expiresAt === null ? undefined : Math.ceil(expiresAt - now);
    if (ttl !== undefined && ttl <= 0) continue;
    const same = byTtl.get(ttl);
    if (same) same.push({ task, queue });
    else byTtl.set(ttl, [{ task, queue }]);
  }
  let copied = 0;
  for (const [ttl, routes] of byTtl) {
    await to.registerTasks(routes, ttl);
    copied += routes.length;
  }
  return copied;
}

/** Whether a call failed only because what it would create is there already. */
function alreadyThere(err: unknown, code: string): boolean {
  return err instanceof BatonError && err.code === code;
}

/**
 * Copies the users and their tokens (the hash as it is: the secret never leaves the client, so
 * the same tokens work on the target), skipping those the target has already. Before the jobs,
 * so a server started on the target knows every owner at once.
 */
async function copyUsers(from: Store, to: Store, result: CopyResult): Promise<void> {
  for (const user of await from.listUsers()) {
    try {
      await to.createUser({ name: user.name, role: user.role, weight: user.weight });
      result.users++;
    } catch (err) {
      if (!alreadyThere(err, 'USER_EXISTS')) throw err;
    }
    for (const token of await from.listTokens(user.name)) {
      try {
        await to.createToken({ id: token.id, user: token.user, hash: token.hash });
        result.tokens++;
      } catch (err) {
        if (!alreadyThere(err, 'TOKEN_EXISTS')) throw err;
      }
    }
  }
}

const isNoQuota = (q: Quota) =>
  q.maxRunningJobs === null && q.maxGpus === null && q.maxQueuedJobs === null && q.submitRatePerSec === null;

/**
 * Copies the default quota and the users' own, each only where the target has none (a quota
 * set there already wins). After the jobs: replaying their attempts assigns them in the target,
 * which a quota could refuse.
 */
async function copyQuotas(from: Store, to: Store, result: CopyResult): Promise<void> {
  const fallback = await from.getQuota(null);
  if (fallback && !isNoQuota(fallback) && isNoQuota((await to.getQuota(null)) ?? NO_QUOTA)) {
    await to.setQuota(null, fallback);
    result.quotas++;
  }
  for (const user of await from.listUsers()) {
    const own = await from.getQuota(user.name);
    if (own === null || (await to.getQuota(user.name)) !== null) continue;
    await to.setQuota(user.name, own);
    result.quotas++;
  }
}

/**
 * Copies every job (unfinished ones first, then finished ones) and the task routes from one
 * store to another, with the users, their tokens and quotas (see {@link copyUsers} and
 * {@link copyQuotas}) and the runtime history of learned estimates (copy-runtimes.ts), so a deployment can move from SQLite to PostgreSQL or Redis. Jobs keep
 * their ids, owners, priorities, resources, retry policy, idempotency keys (finished jobs' too,
 * so a client retrying a submission after the move finds its job instead of creating another)
 * and attempts (so a failing job gets no fresh retries). Jobs already in the target (by id) are
 * skipped, so a copy that stopped halfway can be run again. See {@link copyJobsIn} for how.
 */
export function copyJobs(from: Store, to: Store, options: CopyOptions = {}): Promise<CopyResult> {
  return copyJobsIn(COPIED_STATES, from, to, options);
}

/** {@link copyJobs} restricted to unfinished jobs: finished ones stay behind, keys and all. */
export function copyUnfinishedJobs(from: Store, to: Store, options: CopyOptions = {}): Promise<CopyResult> {
  return copyJobsIn(UNFINISHED_COPIED_STATES, from, to, options);
}

/**
 * Copies the jobs of `states` through the store contract alone, so every backend takes them
 * alike: each is enqueued under its id and key, then its attempts are replayed (assigned under
 * the agent that ran it, ended with that attempt's error) and the last one ends as the job did:
 * with its result, its error, cancelled, or back in the queue. So attempts, outcome, result and
 * error arrive as they were; attempt and finish times are those of the copy, and a job waiting
 * out a retry backoff waits its backoff again from then. Jobs an agent held (`assigned`,
 * `running`) arrive `queued`, their interrupted attempt counted as a lost lease counts it
 * (`STORE_COPIED`; one on its last attempt fails): stop the old servers first, and start the
 * new ones after the copy.
 */
async function copyJobsIn(
  states: readonly JobState[],
  from: Store,
  to: Store,
  options: CopyOptions,
): Promise<CopyResult> {
  const batch = options.batch ?? 500;
  const now = options.now ?? Date.now();
  const result: CopyResult = {
    read: 0,
    copied: 0,
    skipped: 0,
    routes: 0,
    users: 0,
    tokens: 0,
    quotas: 0,
    runtimeClasses: 0,
  };
  await copyUsers(from, to, result);
  result.routes = await copyRoutes(from, to, now);
  result.runtimeClasses = await copyRuntimes(from, to, batch);
  for (const state of states) {
    const progress: CopyProgress = { state, read: 0, copied: 0 };
    let cursor: string | undefined;
    do {
      const page = await from.listJobs({ state, limit: batch, ...(cursor !== undefined && { cursor }) });
      cursor = page.nextCursor ?? undefined;
      const present = await Promise.all(page.jobs.map((job) => to.getJob(job.id)));
      const missing = page.jobs.filter((_, i) => present[i] === null);
      if (missing.length > 0) {
        const created = await to.enqueue(missing.map((job) => newJobOf(job, now)));
        const fresh = missing.filter((_, i) => created[i]?.created === true);
        await replay(from, to, fresh);
        progress.copied += fresh.length;
        result.skipped += missing.length - fresh.length;
      }
      result.skipped += page.jobs.length - missing.length;
      progress.read += page.jobs.length;
      options.onProgress?.({ ...progress });
    } while (cursor !== undefined);
    result.read += progress.read;
    result.copied += progress.copied;
  }
  await copyQuotas(from, to, result);
  return result;
}

function newJobOf(job: Job, now: number): NewJob {
  return {
    id: job.id,
    queue: job.queue,
    task: job.task,
    owner: job.owner,
    payload: job.payload,
    priority: job.priority,
    priorityLevel: job.priorityLevel,
    resources: job.resources,
    constraints: job.constraints,
    maxAttempts: job.maxAttempts,
    backoffMs: job.backoffMs,
    timeoutMs: job.timeoutMs,
    // A delayed job keeps its time; the rest are due now (a job with attempts to replay must be
    // queued to be assigned).
    runAt: job.state === 'delayed' && job.attempts === 0 ? job.runAt : Math.min(job.runAt, now),
    idempotencyKey: job.idempotencyKey,
    createdAt: job.createdAt,
  };
}

/** Attempts to replay: a finished job that ran has at least one, even if none was counted. */
function roundsOf(job: Job): number {
  if (job.state === 'succeeded' || job.state === 'failed') return Math.max(1, job.attempts);
  return job.attempts;
}

/** Replays the jobs' attempts in the target, a round (one attempt of each job) per few calls. */
async function replay(from: Store, to: Store, jobs: Job[]): Promise<void> {
  // Cancelled before it ever ran: nothing to replay.
  for (const job of jobs) if (job.state === 'cancelled' && roundsOf(job) === 0) await to.cancel(job.id);
  const withRounds = jobs.filter((job) => roundsOf(job) > 0);
  const histories = new Map<string, JobAttempt[]>();
  await Promise.all(withRounds.map(async (job) => histories.set(job.id, await from.getAttempts(job.id))));
  let live = withRounds;
  for (let round = 1; live.length > 0; round++) {
    const due = live.filter((job) => roundsOf(job) >= round);
    if (due.length === 0) break;
    const byId = new Map(due.map((job) => [job.id, job]));
    const assigned = await to.assign(
      due.map((job) => ({
        jobId: job.id,
        agentId: attemptOf(histories, job, round)?.agentId ?? job.agentId ?? 'store-copy',
        gpus: job.gpus,
      })),
      REPLAY_LEASE_MS,
    );
    const releases: Parameters<Store['release']>[0] = [];
    const completions: Completion[] = [];
    const cancels: string[] = [];
    for (const a of assigned) {
      const job = byId.get(a.job.id)!;
      const ref = { jobId: job.id, leaseToken: a.leaseToken };
      const last = round === roundsOf(job);
      const end = last ? lastEnd(job, attemptOf(histories, job, round)) : null;
      if (end === null) releases.push({ ...ref, error: replayedError(attemptOf(histories, job, round)) });
      else if (end === 'cancel') cancels.push(job.id);
      else if (end.kind === 'release') releases.push({ ...ref, error: end.error });
      else completions.push({ ...ref, ...end.completion });
    }
    if (releases.length > 0) await to.release(releases);
    if (completions.length > 0) await to.complete(completions);
    for (const id of cancels) await to.cancel(id);
    // A job the target did not assign (taken meanwhile: servers already run on it) is left as is.
    const kept = new Set(assigned.map((a: JobAssignment) => a.job.id));
    live = due.filter((job) => kept.has(job.id) && roundsOf(job) > round);
  }
}

function attemptOf(histories: Map<string, JobAttempt[]>, job: Job, round: number): JobAttempt | undefined {
  return histories.get(job.id)?.find((a) => a.attempt === round);
}

type LastEnd =
  | 'cancel'
  | { kind: 'release'; error: JobError }
  | {
      kind: 'complete';
      completion: { outcome: 'succeeded'; result: unknown } | { outcome: 'failed'; error: JobError };
    };

/** How a job's last replayed attempt ends, so the job is left as it was in the source. */
function lastEnd(job: Job, attempt: JobAttempt | undefined): LastEnd {
  switch (job.state) {
    case 'succeeded':
      return { kind: 'complete', completion: { outcome: 'succeeded', result: job.result } };
    case 'failed': {
      // It failed for good: with attempts left, only as not retryable does it stay failed.
      const error = job.error ?? replayedError(attempt);
      const retryable = job.attempts >= job.maxAttempts && error.retryable;
      return { kind: 'complete', completion: { outcome: 'failed', error: { ...error, retryable } } };
    }
    case 'cancelled':
      return 'cancel';
    case 'delayed':
      // Waiting out its retry backoff: a retryable failure puts it back to wait again.
      return {
        kind: 'complete',
        completion: { outcome: 'failed', error: { ...(job.error ?? replayedError(attempt)), retryable: true } },
      };
    case 'queued':
      return { kind: 'release', error: job.error ?? replayedError(attempt) };
    default:
      // Held by an agent of the old store: that attempt was cut short.
      return { kind: 'release', error: INTERRUPTED };
  }
}
