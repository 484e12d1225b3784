import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from '../../server/test/harness.js';
import { startHarness } from '../../server/test/harness.js';
import type { JobView } from '@baton/client';
import { ProgressBar } from '../src/progress-bar.js';
import { TEST_ADMIN_TOKEN } from '../../../test/baton-process.js';

const BIN = fileURLToPath(new URL('../bin/baton.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('baton client commands against a real server', () => {
  let h: Harness;
  const baton = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args, '--server', h.url, '--token', TEST_ADMIN_TOKEN],
        { timeout: 20_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const jobCount = async () => (await h.get('/api/jobs?limit=500')).body.jobs.length as number;

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('submit --wait shows progress and the result, exit 0', async () => {
    const r = await baton('submit', 'demo.sleep', '--payload', '{"ms":400}', '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9A-Z]{26} submitted/);
    expect(r.stdout).toMatch(/\[#+\] 100%\s+succeeded/);
    expect(r.stdout).toMatch(/succeeded: \{"sleptMs":400\}/);
  });

  it('submit --json prints the API answer; options reach the job', async () => {
    const r = await baton(
      'submit',
      'demo.sleep',
      '--json',
      '--priority',
      'high',
      '--priority-level',
      '3',
      '--delay-ms',
      '60000',
      '--max-attempts',
      '5',
    );
    expect(r.code).toBe(0);
    const { id, state } = JSON.parse(r.stdout);
    expect(state).toBe('delayed');
    const job = (await h.get(`/api/jobs/${id}`)).body;
    expect(job).toMatchObject({ priority: 'high', priorityLevel: 3, maxAttempts: 5 });
  });

  it('submit --wait of a job that fails exits 1 with its error', async () => {
    const r = await baton('submit', 'demo.fail', '--max-attempts', '1', '--wait');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/failed: TASK_FAILED: demo.fail failed/);
  });

  it('refuses bad input with exit 2 and sends nothing', async () => {
    const before = await jobCount();
    for (const args of [
      ['submit', 'demo.sleep', '--payload', '{not json'],
      ['submit', 'demo.sleep', '--priority', 'urgent'],
      ['submit', 'demo.sleep', '--max-attempts', 'three'],
      ['submit', 'demo.sleep', '--delay-ms', '-5'],
      ['jobs', '--state', 'done'],
      ['jobs', '--limit', '0'],
    ]) {
      const r = await baton(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^baton: --/);
    }
    expect(await jobCount()).toBe(before);
  });

  it("reports the server's refusal in one line, exit 1", async () => {
    const r = await baton('submit', 'no.such.task');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^baton: unknown task "no.such.task".*\(UNKNOWN_TASK\)\n$/);
    const missing = await baton('job', '01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/not found \(JOB_NOT_FOUND\)/);
  });

  it('jobs lists a table and pages with a cursor; job shows history', async () => {
    const a = JSON.parse((await baton('submit', 'demo.sleep', '--payload', '{"ms":1}', '--json')).stdout).id;
    await h.waitFor(a, (j) => j.state === 'succeeded');
    const list = await baton('jobs', '--limit', '1');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+TASK\s+QUEUE\s+STATE/);
    expect(list.stdout).toContain(a);
    const cursor = /--cursor (\S+)/.exec(list.stdout)?.[1];
    expect(cursor).toBeDefined();
    const next = await baton('jobs', '--limit', '1', '--cursor', cursor!, '--json');
    expect(JSON.parse(next.stdout).jobs[0].id).not.toBe(a);
    const one = await baton('job', a);
    expect(one.stdout).toMatch(/state\s+succeeded/);
    expect(one.stdout).toMatch(/ATTEMPT\s+AGENT\s+OUTCOME[\s\S]*1\s+agent-\S+\s+succeeded/);
  });

  it('cancel cancels a delayed job', async () => {
    const id = JSON.parse((await baton('submit', 'demo.sleep', '--delay-ms', '60000', '--json')).stdout).id;
    const r = await baton('cancel', id);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${id} cancelled`);
    expect((await h.get(`/api/jobs/${id}`)).body.state).toBe('cancelled');
  });

  it('retry submits a finished job again; jobs filters by task and time', async () => {
    const id = JSON.parse((await baton('submit', 'demo.echo', '--payload', '{"r":1}', '--json')).stdout).id;
    await h.waitFor(id, (j) => j.state === 'succeeded');
    const since = Date.now();
    const r = await baton('retry', id);
    expect(r.code).toBe(0);
    const [again] = r.stdout.trim().split(' ');
    expect(r.stdout.trim()).toMatch(new RegExp(`^[0-9A-Z]{26} \\w+ \\(retry of ${id}\\)$`));
    const listed = JSON.parse((await baton('jobs', '--task', 'demo.echo', '--since', String(since), '--json')).stdout);
    expect(listed.jobs.map((j: JobView) => j.id)).toEqual([again]);
    const refused = await baton(
      'retry',
      JSON.parse((await baton('submit', 'demo.sleep', '--delay-ms', '60000', '--json')).stdout).id,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/JOB_NOT_FINISHED/);
    expect((await baton('jobs', '--since', 'soon')).code).toBe(2);
  });

  it('names the URL when the server is unreachable, exit 1', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const r = await new Promise<Run>((resolve) =>
      execFile(
        process.execPath,
        [BIN, 'jobs', '--server', `http://127.0.0.1:${port}`],
        { timeout: 20_000 },
        (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^baton: cannot reach Baton at http://127\\.0\\.0\\.1:${port}.*\n$`));
  });
});

describe('ProgressBar', () => {
  const job = (state: JobView['state'], progress: number | null) =>
    ({ state, progress, attempts: 1, maxAttempts: 3 }) as JobView;
  const stream = (isTTY: boolean) => {
    const writes: string[] = [];
    return { writes, out: { isTTY, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream };
  };

  it('redraws one line in place on a terminal', () => {
    const { writes, out } = stream(true);
    const bar = new ProgressBar(out);
    bar.update(job('running', 45));
    bar.update(job('succeeded', 100));
    bar.done();
    expect(writes[0]).toBe(`\r[${'#'.repeat(11)}${'-'.repeat(13)}]  45%  running   attempt 1/3\x1b[K`);
    expect(writes[1]).toBe(`\r[${'#'.repeat(24)}] 100%  succeeded attempt 1/3\x1b[K`);
    expect(writes[2]).toBe('\n');
  });

  it('says why a queued job waits', () => {
    const { writes, out } = stream(false);
    const bar = new ProgressBar(out);
    bar.update({
      ...job('queued', null),
      pendingReason: { code: 'NO_AGENT_WITH_TAGS', message: 'no agent has tags region:mars' },
    });
    expect(writes[0]).toBe(`[${'-'.repeat(24)}]   0%  queued    attempt 1/3  (no agent has tags region:mars)\n`);
  });

  it('writes one line per change elsewhere', () => {
    const { writes, out } = stream(false);
    const bar = new ProgressBar(out);
    bar.update(job('queued', null));
    bar.update(job('running', 50));
    bar.done();
    expect(writes).toHaveLength(2);
    expect(writes.every((w) => w.endsWith('\n') && !w.includes('\r'))).toBe(true);
    expect(writes[1]).toBe(`[${'#'.repeat(12)}${'-'.repeat(12)}]  50%  running   attempt 1/3\n`);
  });
});
