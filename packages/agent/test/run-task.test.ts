import { describe, expect, it } from 'vitest';
import type { JobAssignment } from '@baton/core';
import { JobAbort } from '../src/job-abort.js';
import { runTask } from '../src/run-task.js';
import { silentLogger } from '../src/task.js';

const assignment = (task: string): JobAssignment => ({
  leaseToken: 'lease-1',
  job: {
    id: 'job-1',
    queue: 'default',
    task,
    owner: 'tester',
    payload: {},
    attempts: 1,
    maxAttempts: 3,
    timeoutMs: null,
    agentId: 'agent-1',
    resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
    gpus: [],
  },
});
const hooks = { logger: silentLogger, progress() {}, output() {} };

describe('runTask on an agent without the task', () => {
  it('fails an unknown task without retrying', async () => {
    const outcome = await runTask(undefined, assignment('not.here'), new JobAbort(), hooks);
    expect(outcome).toEqual({
      outcome: 'failed',
      error: { code: 'UNKNOWN_TASK', message: 'this agent has no handler for task "not.here"', retryable: false },
    });
  });

  it('refuses a command task when commands are not allowed, so it can run elsewhere', async () => {
    const outcome = await runTask(undefined, assignment('command'), new JobAbort(), hooks);
    expect(outcome).toMatchObject({ outcome: 'failed', error: { code: 'COMMANDS_NOT_ALLOWED', retryable: true } });
    expect(outcome.outcome === 'failed' && outcome.error.message).toMatch(/--allow-commands/);
  });
});
