import { Queue } from 'bullmq';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';

/**
 * The api workload's peer: a minimal fastify server wrapping BullMQ's `queue.add`, the way a
 * team would put an HTTP front on BullMQ. `POST /api/jobs` takes `{ task, payload? }` with
 * `Authorization: Bearer <token>` (compared with the one it was given), checks the body
 * minimally (task a non-empty string of at most 200 characters, payload absent or a JSON
 * object), adds the job (name = task, data = payload) and answers 201 `{ id }`; a bad body gets
 * 400, a wrong token 401. No worker: the jobs stay waiting.
 *
 * Run as a process of its own (api.ts starts it): prints `listening on URL` on stdout; stops on
 * SIGTERM. Env: BENCH_PEER_REDIS (default redis://127.0.0.1:6379/12), BENCH_PEER_PREFIX,
 * BENCH_PEER_QUEUE, BENCH_TOKEN.
 */

/** What the route needs of a queue (BullMQ's `Queue`, or a stand-in). */
export interface AddsJobs {
  add(name: string, data: unknown): Promise<{ id?: string | undefined }>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function peerApp(queue: AddsJobs, token: string): FastifyInstance {
  const app = Fastify({ logger: false });
  const expected = `Bearer ${token}`;
  app.post('/api/jobs', async (request, reply) => {
    if (request.headers.authorization !== expected) return reply.status(401).send({ error: 'unauthorized' });
    const body = request.body;
    if (!isObject(body) || typeof body.task !== 'string' || body.task === '' || body.task.length > 200) {
      return reply.status(400).send({ error: 'task must be a non-empty string' });
    }
    if (body.payload !== undefined && !isObject(body.payload)) {
      return reply.status(400).send({ error: 'payload must be an object' });
    }
    const job = await queue.add(body.task, body.payload ?? {});
    return reply.status(201).send({ id: job.id });
  });
  return app;
}

/** BullMQ's connection options for a redis:// URL (host, port, db). */
export function redisConnection(url: string): { host: string; port: number; db: number } {
  const u = new URL(url);
  const db = Number(u.pathname.replace(/^\//, '') || '0');
  return { host: u.hostname, port: Number(u.port || 6379), db };
}

async function main(): Promise<void> {
  const connection = redisConnection(process.env.BENCH_PEER_REDIS ?? 'redis://127.0.0.1:6379/12');
  const queue = new Queue(process.env.BENCH_PEER_QUEUE ?? 'api', {
    connection,
    prefix: process.env.BENCH_PEER_PREFIX ?? 'bench-api',
    // As the peer harness's producers: completed/failed jobs are not trimmed; nothing runs here.
  });
  await queue.waitUntilReady();
  const app = peerApp(queue, process.env.BENCH_TOKEN ?? '');
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`listening on ${url}\n`);
  process.once('SIGTERM', () => {
    void app
      .close()
      .then(() => queue.close())
      .finally(() => process.exit(0));
  });
}

if (process.argv[1]?.endsWith('bullmq-api.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`bullmq-api: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
