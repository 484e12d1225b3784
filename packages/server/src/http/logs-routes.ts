import type { FastifyInstance } from 'fastify';
import { ValidationError, describeIssues } from '@baton/core';
import type { Store, StoredLogChunk } from '@baton/store';
import { z } from 'zod';
import { jobIdOf } from './job-id.js';
import { mayView } from '../auth/principal.js';
import type { FollowLimits } from './log-follower.js';
import { DEFAULT_FOLLOW_LIMITS, follow } from './log-follower.js';

const logsQuerySchema = z.strictObject({
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  after: z.coerce.number().int().min(0).optional(),
  format: z.enum(['text', 'json']).default('text'),
  stream: z.enum(['stdout', 'stderr']).optional(),
});

/** Chunks one plain (not followed) read answers at most; `more` says whether others follow. */
export const LOG_PAGE_CHUNKS = 1000;
/** Bytes of output one plain read answers at most (its first chunk is always sent whole). */
export const LOG_PAGE_BYTES = 1024 * 1024;

/**
 * `GET /api/jobs/:id/logs`: a page of a job's kept output (stdout and stderr of its attempts),
 * as text or as JSON chunks with their `seq`; `lastSeq` (JSON) or `X-Baton-Last-Seq` (text)
 * is the cursor for the next page. With `follow=true` the response stays open and streams new
 * output (text, or one JSON chunk per line) until the job is final (see log-follower.ts).
 */
export function registerLogsRoutes(
  app: FastifyInstance,
  deps: { store: Store; followLimits?: Partial<FollowLimits> },
): void {
  const { store } = deps;
  const limits: FollowLimits = { ...DEFAULT_FOLLOW_LIMITS, ...deps.followLimits };
  app.get<{ Params: { id: string } }>('/api/jobs/:id/logs', async (request, reply) => {
    const id = jobIdOf(request);
    const parsed = logsQuerySchema.safeParse(request.query);
    if (!parsed.success) {
      const { message, details } = describeIssues(parsed.error);
      throw new ValidationError(message, details);
    }
    const query = parsed.data;
    const found = await store.getJob(id);
    // Another user's job reads as missing, like everywhere else.
    const job = found && mayView(request.principal, found.owner) ? found : null;
    if (!job)
      return reply
        .status(404)
        .send({ error: { code: 'JOB_NOT_FOUND', message: `job ${id} not found`, details: null } });
    const follows = query.follow === 'true' || query.follow === '1';

    if (!follows) {
      const { chunks, lastSeq, more } = pageOf(await store.getLogs(id, query.after, LOG_PAGE_CHUNKS), query.after);
      const picked = query.stream ? chunks.filter((c) => c.stream === query.stream) : chunks;
      if (query.format === 'json') return { chunks: picked, lastSeq, more };
      if (lastSeq !== null) reply.header('x-baton-last-seq', String(lastSeq));
      return reply
        .header('x-baton-more', String(more))
        .type('text/plain; charset=utf-8')
        .send(picked.map((c) => c.data).join(''));
    }

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': query.format === 'json' ? 'application/x-ndjson' : 'text/plain; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    raw.flushHeaders(); // a follower learns at once that the job exists, before any output
    follow({
      store,
      jobId: id,
      after: query.after,
      format: query.format,
      stream: query.stream,
      raw,
      log: request.log,
      limits,
    });
  });
}

/**
 * One plain read's answer: the store's page cut at LOG_PAGE_BYTES, the cursor after it, and
 * whether more may follow (the page was full or cut).
 */
function pageOf(
  page: StoredLogChunk[],
  after: number | undefined,
): { chunks: StoredLogChunk[]; lastSeq: number | null; more: boolean } {
  let bytes = 0;
  let end = 0;
  while (end < page.length) {
    bytes += Buffer.byteLength(page[end]!.data, 'utf8');
    if (end > 0 && bytes > LOG_PAGE_BYTES) break;
    end++;
  }
  const chunks = page.slice(0, end);
  return {
    chunks,
    lastSeq: chunks[chunks.length - 1]?.seq ?? after ?? null,
    more: end < page.length || page.length === LOG_PAGE_CHUNKS,
  };
}
