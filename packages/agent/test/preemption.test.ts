import { describe, expect, it } from 'vitest';
import type { AgentLink } from '@baton/core';
import { Agent } from '../src/agent.js';
import { createCommandTask } from '../src/command-task.js';
import { JobAbort } from '../src/job-abort.js';
import { PreemptedError, poolRegistration } from '../src/preemption.js';
import { abortGrace, runTask } from '../src/run-task.js';
import { defineTask, silentLogger } from '../src/task.js';
import { assignment } from './assignment.js';

const hooks = { logger: silentLogger, progress() {}, output() {} };
const echo = defineTask('echo', async (p: unknown) => p);
const link = {} as AgentLink;

describe('agent priority-pool options', () => {
  it.each([
    [{ priorities: ['high' as const], preemptible: true }, /dedicated to high cannot also be preemptible/],
    [{ priorities: [] }, /priorities must name at least one of high, normal, low/],
    [{ priorities: ['urgent' as never] }, /unknown priority class "urgent"/],
    [{ preemptible: true, preemptGraceMs: -1 }, /preemptGraceMs must be an integer from 0 to 3600000 ms, got -1/],
    [{ preemptible: true, minRuntimeMs: 1.5 }, /minRuntimeMs must be an integer from 0 to 604800000 ms, got 1.5/],
    [{ preemptGraceMs: 1000 }, /preemptGraceMs and minRuntimeMs are for a preemptible agent/],
  ])('refuses %j', (options, message) => {
    expect(() => new Agent({ link, tasks: [echo], ...options })).toThrow(message);
  });

  it('registers only what differs from the defaults', () => {
    expect(poolRegistration({})).toEqual({});
    // Every class is no pool at all.
    expect(poolRegistration({ priorities: ['low', 'high', 'normal'] })).toEqual({});
    expect(poolRegistration({ priorities: ['low', 'high'] })).toEqual({ priorities: ['high', 'low'] });
    expect(poolRegistration({ preemptible: true })).toEqual({
      preemptible: true,
      preemptGraceMs: 30_000,
      minRuntimeMs: 60_000,
    });
  });
});

describe('a preempted job', () => {
  it("gets the agent's grace instead of the task's stop time", () => {
    const command = createCommandTask({ killGraceMs: 5000 }) as never;
    expect(abortGrace(command, undefined)).toBe(7000);
    // SIGKILL after the preemption grace, then the reaping time the task asks for.
    expect(abortGrace(command, 100)).toBe(2100);
    expect(abortGrace(echo as never, 100)).toBe(100);
  });

  it('fails as the retryable PREEMPTED once its handler has stopped, or once the grace is over', async () => {
    const ignoring = defineTask('ignoring', () => new Promise<never>(() => {}));
    const abort = new JobAbort();
    const started = Date.now();
    const outcome = runTask(ignoring as never, assignment('ignoring'), abort, hooks);
    abort.abort(new PreemptedError('for job j-high', 150));
    expect(await outcome).toEqual({
      outcome: 'failed',
      error: { code: 'PREEMPTED', message: 'for job j-high', retryable: true },
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('stops a command with SIGTERM, then SIGKILL after the preemption grace', async () => {
    const command = createCommandTask({ killGraceMs: 60_000 });
    const abort = new JobAbort();
    // A command that ignores SIGTERM: only SIGKILL ends it.
    const payload = { argv: ['sh', '-c', 'trap "" TERM; sleep 30 & wait; sleep 30'] };
    const outcome = runTask(command as never, assignment('command', payload), abort, hooks);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    abort.abort(new PreemptedError('for job j-high', 300));
    expect(await outcome).toMatchObject({ outcome: 'failed', error: { code: 'PREEMPTED' } });
    // Well before the command's own 60 s kill grace.
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
