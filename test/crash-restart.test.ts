import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BatonProcess } from './baton-process.js';
import { getJson, postJson, startBatonDev, until } from './baton-process.js';

describe('kill -9 of baton dev, then a restart on the same SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'baton-crash-'));
  const procs: BatonProcess[] = [];
  afterEach(() => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('finishes every job exactly once', async () => {
    const store = `sqlite:${join(dir, 'baton.db')}`;
    // Short leases so jobs running at the crash come back quickly after the restart, and the
    // killed server's hold on the shards (which the restarted one waits out before it
    // schedules) lapses as soon.
    const flags = ['--store', store, '--concurrency', '4', '--lease-ms', '1500', '--shard-lease-ms', '1500'];
    const first = await startBatonDev(flags);
    procs.push(first);

    const jobs = Array.from({ length: 24 }, (_, i) => ({ task: 'demo.sleep', payload: { ms: 300 + (i % 4) * 100 } }));
    const submitted = await postJson(`${first.url}/api/jobs/bulk`, { jobs });
    expect(submitted.status).toBe(201);
    const ids: string[] = submitted.body.jobs.map((j: { id: string }) => j.id);

    // Crash once some jobs have finished, some are running and the rest still wait.
    const before = await until('jobs running with others queued and done', async () => {
      const { queues } = await getJson(`${first.url}/api/queues`);
      const c = queues.find((q: { name: string }) => q.name === 'default')?.counts;
      return c && c.running >= 2 && c.succeeded >= 1 && c.queued >= 4 ? c : undefined;
    });
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(before.running).toBeGreaterThanOrEqual(2);

    const second = await startBatonDev(flags);
    procs.push(second);
    const final = await until(
      'every job to finish after the restart',
      async () => {
        const all = await Promise.all(ids.map((id) => getJson(`${second.url}/api/jobs/${id}`)));
        return all.every((j) => ['succeeded', 'failed', 'cancelled'].includes(j.state)) ? all : undefined;
      },
      60_000,
    );

    expect(final).toHaveLength(24);
    for (const job of final) {
      expect(job.state, `job ${job.id}`).toBe('succeeded');
      const outcomes = job.history.map((a: { outcome: string }) => a.outcome);
      // Exactly one recorded success, and it is the last attempt.
      expect(outcomes.filter((o: string) => o === 'succeeded')).toHaveLength(1);
      expect(outcomes[outcomes.length - 1]).toBe('succeeded');
      expect(job.attempts).toBe(job.history.length);
      // Any earlier attempt was cut short by the crash and expired its lease.
      for (const o of outcomes.slice(0, -1)) expect(o).toBe('lease_expired');
    }
    const interrupted = final.filter((j) => j.attempts === 2);
    expect(interrupted.length).toBeGreaterThanOrEqual(before.running > 0 ? 1 : 0);

    second.child.kill('SIGTERM');
    const exit = await second.exited;
    expect(exit.code).toBe(0);
  });
});
