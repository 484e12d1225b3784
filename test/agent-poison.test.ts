import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openStore } from '@baton/store';
import type { Store } from '@baton/store';
import { poisonJob } from '../packages/server/test/agent-poison-fixture.js';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, FAST, api, job, startAgent, startBaton, until } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-poison-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A poison job (a payload msgpack cannot encode, stored before any limit at the HTTP edge)
 * with real processes: a `baton server` on a SQLite file and a remote `baton agent`. Before
 * the fix the server died handing it over, and again after every restart once its lease ran out.
 */
describe('a poison job and a remote agent', () => {
  const procs: Proc[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) p.kill('SIGKILL');
    for (const s of stores.splice(0)) await s.close();
  });

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
    const m = await proc.waitFor(/listening on (http:\/\/\S+)/);
    return { proc, url: m[1] as string };
  };
  const finished = (url: string, id: string) =>
    until(`job ${id} to finish`, async () => {
      const j = await job(url, id);
      return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
    });
  const expectUndeliverable = (j: any) => {
    expect(j).toMatchObject({ state: 'failed', attempts: 1, error: { code: 'UNDELIVERABLE', retryable: false } });
    expect(j.error.message).toMatch(/^the job's payload cannot be encoded for the agent: it is nested too deeply/);
  };

  it('fails only that job, keeps the server up, and survives a restart', async () => {
    const file = `sqlite:${join(dir, 'poison.db')}`;
    const first = await startServer(file);
    const agent = await startAgent(first.url, 'worker', ['--demo', '--slots', '2']);
    procs.push(agent);
    const store = await openStore(file);
    stores.push(store);

    // Straight into the store, as a job accepted before the HTTP edge had a depth limit.
    const poison = poisonJob();
    await store.enqueue([poison]);
    const { body: good } = await api(first.url, '/api/jobs', { task: 'demo.echo', payload: { n: 1 } });
    expectUndeliverable(await finished(first.url, poison.id));
    expect((await finished(first.url, good.id)).state).toBe('succeeded');
    expect(first.proc.child.exitCode).toBeNull();
    expect(first.proc.output()).toContain('jobs cannot be encoded for their agent: failing them');

    // The server restarts (kill -9) with a poison job waiting: the agent comes back, resumes,
    // and the new server fails that job too, once, and stays up.
    first.proc.kill('SIGKILL');
    await first.proc.exited;
    const again = poisonJob();
    await store.enqueue([again]);
    const port = new URL(first.url).port;
    const second = await startServer(file, Number(port));
    await agent.waitFor(/reconnected to the server/);
    expectUndeliverable(await finished(second.url, again.id));
    expect((await finished(second.url, poison.id)).attempts).toBe(1); // never handed out again
    const { body: after } = await api(second.url, '/api/jobs', { task: 'demo.echo', payload: { n: 2 } });
    expect((await finished(second.url, after.id)).state).toBe('succeeded');
    expect(second.proc.child.exitCode).toBeNull();
    expect(agent.child.exitCode).toBeNull();
    expect(agent.output()).not.toMatch(/RESUME_REFUSED|refused to resume/);
  });
});
