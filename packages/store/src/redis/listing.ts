// Read-side queries of the Redis store: job listings and queue statistics.
import type { Job, JobState } from '@baton/core';
import type { JobListQuery, JobPage, QueueStats } from '../contract.js';
import { QueueStatsTally, TASK_SCAN_WINDOW, encodeCursor, listFilter, pageOf } from '../rules/listing-rules.js';
import { hashOf, idOfMember, jobOfHash } from './job-hash.js';
import type { RedisContext } from './context.js';
import { AFTER_SEP, SEP } from './keys.js';
import { routeLive } from './routes.js';

/** What the read-side queries use of the store's context. */
export type ListingContext = Pick<RedisContext, 'client' | 'keys' | 'clock' | 'batch'>;

/**
 * `listJobs`: pages through the narrowest index the query names, newest first; the created
 * bounds narrow its range (members end with the job id). A `task` listing reads at most
 * TASK_SCAN_WINDOW members per call and may answer a short page (see `JobListQuery`).
 */
export async function listJobs(ctx: ListingContext, query: JobListQuery): Promise<JobPage> {
  const k = ctx.keys;
  const q = listFilter(query);
  const after = q.before;
  // The narrowest index the query names; other filters are checked on the jobs read.
  const [index, name] =
    q.queue && q.state
      ? [k.byQueueState, `${q.queue}${SEP}${q.state}${SEP}`]
      : q.queue
        ? [k.byQueue, `${q.queue}${SEP}`]
        : q.state
          ? [k.byState, `${q.state}${SEP}`]
          : q.owner
            ? [k.byOwner, `${q.owner}${SEP}`]
            : [k.all, ''];
  const min = q.from ? `[${name}${q.from}` : name === '' ? '-' : `[${name}`;
  let max = after ? `(${name}${after}` : name === '' ? '+' : `(${name.slice(0, -1)}${AFTER_SEP}`;
  const wanted = q.limit + 1;
  const jobs: Job[] = [];
  const step = Math.max(wanted, 100);
  let scanned = 0;
  let lastScanned: string | null = null;
  while (jobs.length < wanted) {
    if (q.task && scanned >= TASK_SCAN_WINDOW) {
      // The window is spent: a short page, the cursor where the scan stopped.
      return { jobs: jobs.slice(0, q.limit), nextCursor: lastScanned === null ? null : encodeCursor(lastScanned) };
    }
    const take = q.task ? Math.min(step, TASK_SCAN_WINDOW - scanned) : step;
    const members = await ctx.client.zrevrangebylex(index, max, min, 'LIMIT', 0, take);
    if (members.length === 0) break;
    const hashes = await ctx.batch((p) => {
      for (const m of members) p.hgetall(k.job(idOfMember(m)));
    });
    for (const [i, reply] of hashes.entries()) {
      scanned += 1;
      lastScanned = idOfMember(members[i]!);
      const h = hashOf(reply);
      if (h.id === undefined) continue;
      const job = jobOfHash(h);
      if (q.owner && job.owner !== q.owner) continue;
      if (q.state && job.state !== q.state) continue;
      if (q.queue && job.queue !== q.queue) continue;
      if (q.task && job.task !== q.task) continue;
      jobs.push(job);
      if (jobs.length === wanted) break;
    }
    if (members.length < take) break;
    max = `(${members[members.length - 1]!}`;
  }
  return pageOf(jobs, q.limit);
}

/** `queueStats`: counts per queue and state from the counts hash, and each queue's oldest wait. */
export async function queueStats(ctx: ListingContext): Promise<QueueStats[]> {
  const now = ctx.clock();
  const k = ctx.keys;
  const [counts, routes] = await ctx.batch((p) => {
    p.hgetall(k.counts);
    p.hgetall(k.routes);
  });
  const tally = new QueueStatsTally(now);
  for (const [field, value] of Object.entries(hashOf(routes))) {
    if (routeLive(value, now)) tally.queue(field.slice(field.indexOf(SEP) + 1));
  }
  for (const [field, n] of Object.entries(hashOf(counts))) {
    const at = field.lastIndexOf(SEP);
    tally.count(field.slice(0, at), field.slice(at + 1) as JobState, Number(n));
  }
  const waiting = tally.waiting();
  if (waiting.length > 0) {
    const oldest = await ctx.batch((p) => {
      for (const s of waiting) p.zrangebylex(k.waiting, `[${s.queue}${SEP}`, `(${s.queue}${AFTER_SEP}`, 'LIMIT', 0, 1);
    });
    waiting.forEach((s, i) => {
      const member = (oldest[i] as string[])[0];
      if (!member) return;
      tally.waitingSince(s.queue, Number(member.slice(s.queue.length + 1, member.lastIndexOf(SEP))));
    });
  }
  return tally.result();
}
