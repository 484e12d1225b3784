// Read-side queries of the Redis store: job listings and queue statistics.
import type { Job } from '@baton/core';
import { JOB_STATES, ValidationError } from '@baton/core';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import type { JobListQuery, JobPage, QueueStats } from '../contract.js';
import { decodeCursor, emptyCounts, encodeCursor } from '../shared.js';
import { hashOf, idOfMember, jobOfHash } from './job-hash.js';
import type { RedisKeys } from './keys.js';
import { AFTER_SEP, SEP } from './keys.js';
import { routeLive } from './routes.js';

type Client = Redis | Cluster;

export interface ListingContext {
  client: Client;
  keys: RedisKeys;
  clock: () => number;
  /** Runs the commands `build` queues in one pipeline and returns their replies. */
  batch(build: (p: ChainableCommander) => void): Promise<unknown[]>;
}

/** `listJobs`: pages through the narrowest index the query names, newest first. */
export async function listJobs(ctx: ListingContext, query: JobListQuery): Promise<JobPage> {
  const k = ctx.keys;
  if (query.state && !JOB_STATES.includes(query.state)) throw new ValidationError(`unknown job state "${query.state}"`);
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  // The narrowest index the query names; other filters are checked on the jobs read.
  const [index, name] =
    query.queue && query.state
      ? [k.byQueueState, `${query.queue}${SEP}${query.state}${SEP}`]
      : query.queue
        ? [k.byQueue, `${query.queue}${SEP}`]
        : query.state
          ? [k.byState, `${query.state}${SEP}`]
          : query.owner
            ? [k.byOwner, `${query.owner}${SEP}`]
            : [k.all, ''];
  const min = name === '' ? '-' : `[${name}`;
  let max = after ? `(${name}${after}` : name === '' ? '+' : `(${name.slice(0, -1)}${AFTER_SEP}`;
  const wanted = query.limit + 1;
  const jobs: Job[] = [];
  const step = Math.max(wanted, 100);
  while (jobs.length < wanted) {
    const members = await ctx.client.zrevrangebylex(index, max, min, 'LIMIT', 0, step);
    if (members.length === 0) break;
    const hashes = await ctx.batch((p) => {
      for (const m of members) p.hgetall(k.job(idOfMember(m)));
    });
    for (const reply of hashes) {
      const h = hashOf(reply);
      if (h.id === undefined) continue;
      const job = jobOfHash(h);
      if (query.owner && job.owner !== query.owner) continue;
      if (query.state && job.state !== query.state) continue;
      if (query.queue && job.queue !== query.queue) continue;
      jobs.push(job);
      if (jobs.length === wanted) break;
    }
    if (members.length < step) break;
    max = `(${members[members.length - 1]!}`;
  }
  const page = jobs.slice(0, query.limit);
  const last = page[page.length - 1];
  return { jobs: page, nextCursor: jobs.length > query.limit && last ? encodeCursor(last.id) : null };
}

/** `queueStats`: counts per queue and state from the counts hash, and each queue's oldest wait. */
export async function queueStats(ctx: ListingContext): Promise<QueueStats[]> {
  const now = ctx.clock();
  const k = ctx.keys;
  const [counts, routes] = await ctx.batch((p) => {
    p.hgetall(k.counts);
    p.hgetall(k.routes);
  });
  const stats = new Map<string, QueueStats>();
  const entry = (queue: string): QueueStats => {
    let s = stats.get(queue);
    if (!s) stats.set(queue, (s = { queue, counts: emptyCounts(), oldestQueuedAgeMs: null }));
    return s;
  };
  for (const [field, value] of Object.entries(hashOf(routes))) {
    if (routeLive(value, now)) entry(field.slice(field.indexOf(SEP) + 1));
  }
  for (const [field, n] of Object.entries(hashOf(counts))) {
    const at = field.lastIndexOf(SEP);
    const state = field.slice(at + 1) as keyof QueueStats['counts'];
    entry(field.slice(0, at)).counts[state] = Number(n);
  }
  const waiting = [...stats.values()].filter((s) => s.counts.queued > 0);
  if (waiting.length > 0) {
    const oldest = await ctx.batch((p) => {
      for (const s of waiting) p.zrangebylex(k.waiting, `[${s.queue}${SEP}`, `(${s.queue}${AFTER_SEP}`, 'LIMIT', 0, 1);
    });
    waiting.forEach((s, i) => {
      const member = (oldest[i] as string[])[0];
      if (!member) return;
      const since = Number(member.slice(s.queue.length + 1, member.lastIndexOf(SEP)));
      s.oldestQueuedAgeMs = Math.max(0, now - since);
    });
  }
  return [...stats.values()].sort((a, b) => a.queue.localeCompare(b.queue));
}
