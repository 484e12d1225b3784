import type { FastifyInstance } from 'fastify';
import { FINAL_STATES, ValidationError, describeIssues } from '@baton/core';
import type { Store, StoredLogChunk } from '@baton/store';
import { z } from 'zod';
import { jobIdOf } from './job-id.js';

const logsQuerySchema = z.strictObject({
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  after: z.coerce.number().int().min(0).optional(),
  format: z.enum(['text', 'json']).default('text'),
  stream: z.enum(['stdout', 'stderr']).optional(),
});

/** How often a follower checks whether its job has finished, between output events. */
const FOLLOW_CHECK_MS = 500;

/**
 * `GET /api/jobs/:id/logs`: a job's kept output (stdout and stderr of its attempts), as text
 * or as JSON chunks with their `seq`. With `follow=true` the response stays open and streams new
 * output (text, or one JSON chunk per line) until the job is final.
 */
export function registerLogsRoutes(app: FastifyInstance, deps: { store: Store }): void {
  const { store } = deps;
  app.get<{ Params: { id: string } }>('/api/jobs/:id/logs', async (request, reply) => {
    const id = jobIdOf(request);
    const parsed = logsQuerySchema.safeParse(request.query);
    if (!parsed.success) {
      const { message, details } = describeIssues(parsed.error);
      throw new ValidationError(message, details);
    }
    const query = parsed.data;
    const job = await store.getJob(id);
    if (!job)
      return reply
        .status(404)
        .send({ error: { code: 'JOB_NOT_FOUND', message: `job ${id} not found`, details: null } });
    const pick = (chunks: StoredLogChunk[]) =>
      query.stream ? chunks.filter((c) => c.stream === query.stream) : chunks;
    const follow = query.follow === 'true' || query.follow === '1';

    if (!follow) {
      const chunks = await store.getLogs(id, query.after);
      const last = chunks[chunks.length - 1];
      if (query.format === 'json') return { chunks: pick(chunks), lastSeq: last?.seq ?? query.after ?? null };
      return reply.type('text/plain; charset=utf-8').send(
        pick(chunks)
          .map((c) => c.data)
          .join(''),
      );
    }

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': query.format === 'json' ? 'application/x-ndjson' : 'text/plain; charset=utf-8',
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    raw.flushHeaders(); // a follower learns at once that the job exists, before any output
    let after = query.after;
    let done = false;
    let pumping: Promise<void> | null = null;
    let again = false;
    const pump = async (): Promise<void> => {
      const chunks = await store.getLogs(id, after);
      const last = chunks[chunks.length - 1];
      if (last) after = last.seq;
      for (const c of pick(chunks)) raw.write(query.format === 'json' ? `${JSON.stringify(c)}\n` : c.data);
    };
    const schedulePump = () => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = pump()
        .catch((err: unknown) => request.log.warn({ err }, 'log follower could not read logs'))
        .finally(() => {
          pumping = null;
          if (again && !done) {
            again = false;
            schedulePump();
          }
        });
    };
    const finish = () => {
      if (done) return;
      done = true;
      unsubscribe();
      clearInterval(check);
      raw.end();
    };
    const unsubscribe = store.subscribe((event) => {
      if (event.type === 'logs' && event.jobId === id) schedulePump();
    });
    const check = setInterval(() => {
      void store.getJob(id).then(async (current) => {
        if (done || (current && !FINAL_STATES.has(current.state))) return;
        await pumping;
        await pump(); // the last output may have landed just before the end
        finish();
      });
    }, FOLLOW_CHECK_MS);
    raw.on('close', finish);
    schedulePump();
  });
}
