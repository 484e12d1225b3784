import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BatonProcess } from './baton-process.js';
import { getJson, postJson, startBatonDev, until } from './baton-process.js';
import type { Proc } from './fleet.js';
import { AGENT_TOKEN, FAST, api, job, startAgent, startBaton } from './fleet.js';
import { networkedStores } from './networked-stores.js';

/**
 * A document pipeline (extract → OCR per page → index) whose server dies mid-workflow. Advancing
 * is part of the store transition that finishes a step, so after the crash no step is stuck
 * and none runs to success twice.
 */
function pipeline(extracts: number, pagesEach: number) {
  const steps: { id: string; task: string; payload: unknown; needs?: string[]; maxAttempts?: number }[] = [];
  const ocr: string[] = [];
  for (let e = 0; e < extracts; e++) {
    steps.push({ id: `extract-${e}`, task: 'demo.sleep', payload: { ms: 150 + e * 50 }, maxAttempts: 5 });
    for (let p = 0; p < pagesEach; p++) {
      const id = `ocr-${e}-${p}`;
      ocr.push(id);
      steps.push({ id, task: 'demo.sleep', payload: { ms: 250 }, needs: [`extract-${e}`], maxAttempts: 5 });
    }
  }
  steps.push({ id: 'index', task: 'demo.sleep', payload: { ms: 100 }, needs: ocr, maxAttempts: 5 });
  return { name: 'documents', steps };
}

interface StepView {
  step: string;
  jobId: string;
  state: string;
}

/** Every step ran to success exactly once; earlier attempts were cut short by the crash. */
async function expectEachStepOnce(read: (id: string) => Promise<any>, steps: StepView[]): Promise<void> {
  for (const s of steps) {
    const j = await read(s.jobId);
    expect(j.state, `step ${s.step}`).toBe('succeeded');
    const outcomes = j.history.map((a: { outcome: string }) => a.outcome);
    expect(
      outcomes.filter((o: string) => o === 'succeeded'),
      `step ${s.step}: ${outcomes}`,
    ).toHaveLength(1);
    expect(outcomes[outcomes.length - 1]).toBe('succeeded');
    for (const o of outcomes.slice(0, -1)) expect(o).toBe('lease_expired');
  }
}

describe('kill -9 of baton dev mid-workflow, then a restart on the same SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-wf-crash-'));
  const procs: BatonProcess[] = [];
  afterEach(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes the workflow with every step run to success once', async () => {
    // Short leases: the restarted server waits out the killed one's job leases and shard lease.
    const flags = [
      ...['--store', `sqlite:${join(dir, 'baton.db')}`, '--concurrency', '3'],
      ...['--lease-ms', '1500', '--shard-lease-ms', '1500'],
    ];
    const first = await startBatonDev(flags);
    procs.push(first);
    const submitted = await postJson(`${first.url}/api/workflows`, pipeline(3, 3));
    expect(submitted.status).toBe(201);
    const id: string = submitted.body.id;

    // Crash once some steps succeeded, some run, and some are still blocked.
    await until('steps done, running and blocked at once', async () => {
      const w = await getJson(`${first.url}/api/workflows/${id}`);
      const states = (w.steps as StepView[]).map((s) => s.state);
      return states.includes('succeeded') && states.includes('running') && states.includes('blocked') ? w : undefined;
    });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await startBatonDev(flags);
    procs.push(second);
    const done = await until(
      'the workflow to end after the restart',
      async () => {
        const w = await getJson(`${second.url}/api/workflows/${id}`);
        return w.state === 'running' ? undefined : w;
      },
      60_000,
    );
    expect(done.state).toBe('succeeded');
    expect(done.counts).toMatchObject({ steps: 13, succeeded: 13 });
    await expectEachStepOnce((jobId) => getJson(`${second.url}/api/jobs/${jobId}`), done.steps);
    // The last step got every OCR step's result.
    const index = await getJson(`${second.url}/api/jobs/${done.steps.find((s: StepView) => s.step === 'index').jobId}`);
    expect(Object.keys(index.inputs).sort()).toEqual(
      done.steps
        .filter((s: StepView) => s.step.startsWith('ocr-'))
        .map((s: StepView) => s.step)
        .sort(),
    );
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 120_000);
});

const NETWORKED = networkedStores('wfcrash');

describe.each(NETWORKED)('a server killed mid-workflow, three servers on $name', ({ url: store, cleanup }) => {
  const procs: Proc[] = [];
  afterAll(() => {
    for (const p of procs) p.kill('SIGKILL');
    cleanup();
  });

  it('finishes the workflow through the others, every step run to success once', async () => {
    const startServer = async () => {
      const proc = startBaton([
        'server',
        '--insecure-no-auth',
        '--port',
        '0',
        '--store',
        store,
        '--agent-token',
        AGENT_TOKEN,
        ...FAST,
      ]);
      procs.push(proc);
      return { proc, url: (await proc.waitFor(/listening on (http:\/\/\S+)/))[1] as string };
    };
    const servers = await Promise.all([startServer(), startServer(), startServer()]);
    const urls = servers.map((s) => s.url);
    const rotate = (k: number) => [...urls.slice(k), ...urls.slice(0, k)].join(',');
    procs.push(
      ...(await Promise.all([
        startAgent(rotate(0), 'agent-a', ['--demo', '--slots', '2']),
        startAgent(rotate(1), 'agent-b', ['--demo', '--slots', '2']),
      ])),
    );

    const { status, body } = await api(urls[2]!, '/api/workflows', pipeline(3, 3));
    expect(status).toBe(201);
    const id: string = body.id;
    await until('steps done and running', async () => {
      const w = (await api(urls[2]!, `/api/workflows/${id}`)).body;
      const states = (w.steps as StepView[]).map((s) => s.state);
      return states.includes('succeeded') && states.includes('running') ? w : undefined;
    });
    // The server agent A is connected to dies; the agent moves to the next one.
    servers[0]!.proc.kill('SIGKILL');
    const done = await until(
      'the workflow to end',
      async () => {
        const w = (await api(urls[2]!, `/api/workflows/${id}`)).body;
        return w.state === 'running' ? undefined : w;
      },
      60_000,
    );
    expect(done.state).toBe('succeeded');
    expect(done.counts).toMatchObject({ steps: 13, succeeded: 13 });
    await expectEachStepOnce((jobId) => job(urls[1]!, jobId), done.steps);
  }, 120_000);
});
