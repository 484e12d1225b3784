import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewJob } from '@baton/core';
import { DEFAULT_RESOURCES, newJobId } from '@baton/core';
import { openStore } from '@baton/store';
import { startBaton } from './fleet.js';

const dir = mkdtempSync(join(tmpdir(), 'baton-copy-'));
const run = randomBytes(4).toString('hex');
const TARGETS = [
  {
    name: 'PostgreSQL',
    url: `postgres://root@127.0.0.1:5432/test?schema=copy_${run}`,
    cleanup: () =>
      execFileSync('psql', [
        '-h',
        '127.0.0.1',
        '-U',
        'root',
        '-q',
        'test',
        '-c',
        `DROP SCHEMA IF EXISTS copy_${run} CASCADE`,
      ]),
  },
  {
    name: 'Redis',
    url: `redis://127.0.0.1:6379?prefix=copy_${run}`,
    cleanup: () => {
      const keys = execFileSync('redis-cli', ['-h', '127.0.0.1', '--scan', '--pattern', `{copy_${run}}*`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean);
      if (keys.length > 0) execFileSync('redis-cli', ['-h', '127.0.0.1', 'unlink', ...keys]);
    },
  },
];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const t of TARGETS) t.cleanup();
});

const newJob = (overrides: Partial<NewJob> = {}): NewJob => {
  const now = Date.now();
  return {
    id: newJobId(now),
    queue: 'copyq',
    task: 'copy.task',
    owner: 'alice',
    payload: { n: 1 },
    priority: 'high',
    priorityLevel: 3,
    resources: { ...DEFAULT_RESOURCES, gpus: 2 },
    constraints: { tags: ['region:eu'] },
    maxAttempts: 4,
    backoffMs: 100,
    timeoutMs: 60_000,
    runAt: now,
    idempotencyKey: null,
    createdAt: now,
    ...overrides,
  };
};

async function copy(from: string, to: string) {
  const p = startBaton(['store', 'copy', '--from', from, '--to', to]);
  const { code } = await p.exited;
  return { code, output: p.output() };
}

describe.each(TARGETS)('baton store copy from SQLite to $name', ({ url: target }) => {
  it('copies unfinished jobs and routes, keeping ids and fields; a second run copies nothing', async () => {
    const source = `sqlite:${join(dir, `source-${target.split(':')[0]}.db`)}`;
    const store = await openStore(source);
    const queued = newJob({ idempotencyKey: 'keep-me' });
    const delayed = newJob({ runAt: Date.now() + 3_600_000 });
    const leased = newJob();
    const done = newJob();
    await store.enqueue([queued, delayed, leased, done]);
    await store.registerTasks([{ task: 'copy.task', queue: 'copyq' }]);
    const assigned = await store.assign(
      [
        { jobId: leased.id, agentId: 'old-agent', gpus: [0, 1] },
        { jobId: done.id, agentId: 'old-agent', gpus: [2, 3] },
      ],
      60_000,
    );
    const finished = assigned.find((a) => a.job.id === done.id)!;
    await store.complete([{ jobId: done.id, leaseToken: finished.leaseToken, outcome: 'succeeded', result: 1 }]);
    await store.close();

    const first = await copy(source, target);
    expect(first.code).toBe(0);
    expect(first.output).toMatch(/delayed: 1 read, 1 copied/);
    expect(first.output).toMatch(/queued: 1 read, 1 copied/);
    expect(first.output).toMatch(/assigned: 1 read, 1 copied/);
    expect(first.output).toMatch(/done: 3 job\(s\) copied, 0 already there, 1 task route\(s\)/);

    const copied = await openStore(target);
    try {
      expect(await copied.getJob(done.id)).toBeNull();
      expect(await copied.getJob(queued.id)).toMatchObject({
        state: 'queued',
        owner: 'alice',
        priority: 'high',
        priorityLevel: 3,
        resources: { gpus: 2 },
        constraints: { tags: ['region:eu'] },
        idempotencyKey: 'keep-me',
        attempts: 0,
      });
      expect(await copied.getJob(delayed.id)).toMatchObject({ state: 'delayed', runAt: delayed.runAt });
      // A job the old agents held runs again: stop the old servers before copying.
      expect(await copied.getJob(leased.id)).toMatchObject({ state: 'queued', attempts: 0, agentId: null });
      expect(await copied.taskRoutes()).toEqual([{ task: 'copy.task', queue: 'copyq' }]);
      // The idempotency key still finds the copied job.
      const [again] = await copied.enqueue([newJob({ idempotencyKey: 'keep-me' })]);
      expect(again).toMatchObject({ created: false, job: { id: queued.id } });
    } finally {
      await copied.close();
    }

    const second = await copy(source, target);
    expect(second.code).toBe(0);
    expect(second.output).toMatch(/done: 0 job\(s\) copied, 3 already there/);
  });
});

describe('baton store copy errors', () => {
  it('refuses the same store twice (exit 2) and names a store it cannot open (exit 1)', async () => {
    const same = await copy('sqlite::memory:', 'sqlite::memory:');
    expect(same.code).toBe(2);
    expect(same.output).toMatch(/--from and --to name the same store/);
    const bad = await copy(`sqlite:${join(dir, 'x.db')}`, 'mysql://nowhere');
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/--to: cannot open store mysql:\/\/nowhere: .*not available/);
  });
});
