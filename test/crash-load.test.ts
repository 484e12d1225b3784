import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, FAST, api, job, startAgent, startBaton, until } from './fleet.js';
import { dropRedisKeys } from './networked-stores.js';

/**
 * The crash-and-load run: on each backend, two `baton server`s on one store and two remote
 * agents that know both servers run 3 000 jobs submitted through either server, once with
 * nothing injected and once with an agent and a server killed (-9) and restarted mid-run.
 * Every job must succeed exactly once; with no fault no job may have a second attempt, and with
 * faults a second attempt must follow a recorded failure of the first.
 */
const JOBS = 3000;
const run = randomBytes(4).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'baton-crash-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BACKENDS = [
  // SQLite is a one-server store (docs/scaling.md): one server there, killed and restarted the same.
  { name: 'SQLite', servers: 1, url: (k: string) => `sqlite:${join(dir, `${k}.db`)}`, cleanup: () => {} },
  {
    name: 'PostgreSQL',
    servers: 2,
    url: (k: string) => `postgres://root@127.0.0.1:5432/test?schema=crashload_${run}_${k}`,
    cleanup: () => {
      for (const k of ['calm', 'faults']) {
        const drop = `DROP SCHEMA IF EXISTS crashload_${run}_${k} CASCADE`;
        execFileSync('psql', ['-h', '127.0.0.1', '-U', 'root', '-q', 'test', '-c', drop], {
          env: { ...process.env, PGOPTIONS: '-c client_min_messages=warning' },
        });
      }
    },
  },
  {
    name: 'Redis',
    servers: 2,
    url: (k: string) => `redis://127.0.0.1:6379?prefix=crashload_${run}_${k}`,
    cleanup: () => dropRedisKeys(`{crashload_${run}_*`),
  },
];

interface JobRow {
  id: string;
  state: string;
  attempts: number;
}

describe.each(BACKENDS)(
  'crash and load on $name: $servers server(s), two remote agents',
  ({ servers, url: storeOf, cleanup }) => {
    const procs: Proc[] = [];
    afterEach(() => {
      for (const p of procs.splice(0)) p.kill('SIGKILL');
    });
    afterAll(cleanup);

    const startServer = async (store: string, port = 0) => {
      const proc = startBaton([
        'server',
        '--insecure-no-auth',
        '--port',
        String(port),
        '--store',
        store,
        '--agent-token',
        AGENT_TOKEN,
        ...FAST,
      ]);
      procs.push(proc);
      return { proc, url: (await proc.waitFor(/listening on (http:\/\/\S+)/))[1] as string };
    };
    /** Starts both servers at once (on one store: they also race to migrate it). */
    const startServers = async (store: string) => {
      const [s1, s2] = await Promise.all([startServer(store), servers > 1 ? startServer(store) : null]);
      return { s1, s2: s2 ?? s1 };
    };
    const startAgents = async (urls: string) => {
      const agents = await Promise.all([
        startAgent(urls, 'load-a', ['--demo', '--slots', '20']),
        startAgent(urls, 'load-b', ['--demo', '--slots', '20']),
      ]);
      procs.push(...agents);
      return agents;
    };
    /** Submits the jobs in bulk, alternating servers; returns their ids in order. */
    const submit = async (urls: string[]) => {
      const ids: string[] = [];
      for (let start = 0; start < JOBS; start += 500) {
        const jobs = Array.from({ length: Math.min(500, JOBS - start) }, (_, i) => ({
          // Short jobs run in waves (assign, run, report), so between waves an agent can hold
          // none; every 25th job runs 400 ms, so an agent holds some of those at any moment
          // and a kill always cuts work short. The sleeps are short so that the run is bound
          // by the servers, the store and the agents (3 000 jobs through them take a few
          // seconds), not by the jobs' own sleeping: at 1 s and 40 ms it was.
          task: 'demo.sleep',
          payload: { ms: (start + i) % 25 === 0 ? 400 : 10 },
        }));
        const { status, body } = await api(urls[(start / 500) % urls.length]!, '/api/jobs/bulk', { jobs });
        expect(status).toBe(201);
        ids.push(...body.jobs.map((j: { id: string }) => j.id));
      }
      return ids;
    };
    /** Every job of the store, through the listing's pages. */
    const allJobs = async (url: string): Promise<JobRow[]> => {
      const rows: JobRow[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { jobs: JobRow[]; nextCursor: string | null } } = await api(
          url,
          `/api/jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        rows.push(...page.body.jobs.map(({ id, state, attempts }) => ({ id, state, attempts })));
        cursor = page.body.nextCursor;
      } while (cursor);
      return rows;
    };
    /** Jobs the servers at `urls` say agent `name` holds now (the most any of them says). */
    const heldBy = async (name: string, urls: string[]): Promise<number> => {
      let held = 0;
      for (const url of urls) {
        const { body } = await api(url, '/api/agents');
        for (const a of body.agents as { name: string; jobs: string[] }[]) {
          if (a.name === name) held = Math.max(held, a.jobs.length);
        }
      }
      return held;
    };
    /** Jobs succeeded so far, from the queue counts (one cheap call, not a listing). */
    const succeededCount = async (url: string): Promise<number> => {
      const { body } = await api(url, '/api/queues');
      return (body.queues as { counts: { succeeded: number } }[]).reduce((n, q) => n + q.counts.succeeded, 0);
    };

    it('runs 3 000 jobs once each, none with a second attempt, when nothing fails', async () => {
      const store = storeOf('calm');
      const { s1, s2 } = await startServers(store);
      await startAgents(servers > 1 ? `${s1.url},${s2.url}` : s1.url);
      const ids = await submit([s1.url, s2.url]);
      await until('every job finished', async () => (await succeededCount(s2.url)) === JOBS, 120_000);

      const rows = await allJobs(s1.url);
      expect(rows).toHaveLength(JOBS);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
      expect(rows.filter((r) => r.state !== 'succeeded')).toEqual([]);
      expect(rows.filter((r) => r.attempts !== 1)).toEqual([]);
    }, 180_000);

    it('loses and doubles none through an agent and a server killed mid-run', async () => {
      const store = storeOf('faults');
      const { s1, s2 } = await startServers(store);
      const [agentA] = await startAgents(servers > 1 ? `${s1.url},${s2.url}` : s1.url);
      const ids = await submit([s1.url, s2.url]);

      // Mid-run: kill agent A and bring it back; kill server 1 and bring it back on its port.
      await until('a third of the jobs done', async () => (await succeededCount(s2.url)) >= JOBS / 3, 120_000);
      await until('agent A holding jobs', async () => (await heldBy('load-a', [s1.url, s2.url])) > 0, 30_000);
      const doneAtKill = await succeededCount(s2.url);
      agentA!.kill('SIGKILL');
      s1.proc.kill('SIGKILL');
      await s1.proc.exited;
      const back = await startServer(store, Number(new URL(s1.url).port));
      procs.push(await startAgent(s2.url, 'load-a2', ['--demo', '--slots', '20']));
      await until('every job finished', async () => (await succeededCount(back.url)) === JOBS, 120_000);

      const rows = await allJobs(back.url);
      expect(rows).toHaveLength(JOBS);
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids));
      // Each job that ran more than once did so because an earlier attempt failed (its agent
      // died or its lease lapsed), and succeeded exactly once.
      const retried = rows.filter((r) => r.attempts > 1);
      console.log(`[crash-load] ${retried.length} of ${JOBS} jobs ran again after the kills`);
      // The kills came mid-run and cut jobs short: agent A held jobs (some of them second-long),
      // and they ran again.
      expect(doneAtKill).toBeLessThan(JOBS);
      expect(retried.length).toBeGreaterThan(0);
      for (const row of retried) {
        const detail = await job(s2.url, row.id);
        const outcomes = detail.history.map((h: { outcome: string }) => h.outcome);
        expect(outcomes.filter((o: string) => o === 'succeeded')).toHaveLength(1);
        expect(outcomes.slice(0, -1).every((o: string) => o !== 'succeeded')).toBe(true);
        expect(detail.history.slice(0, -1).every((h: { error: unknown }) => h.error !== null)).toBe(true);
      }
    }, 240_000);
  },
);
