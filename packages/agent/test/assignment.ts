import type { AssignedJob, JobAssignment } from '@baton/core';

/** An assignment as the server hands it to an agent, for tests that run tasks directly. */
export function assignment(task: string, payload: unknown = {}, job: Partial<AssignedJob> = {}): JobAssignment {
  return {
    leaseToken: job.id === undefined ? 'lease-1' : `lease-${job.id}`,
    job: {
      id: 'job-1',
      queue: 'default',
      task,
      owner: 'tester',
      payload,
      attempts: 1,
      maxAttempts: 3,
      timeoutMs: null,
      agentId: 'agent-1',
      resources: { slots: 1, cpu: 0, memoryMb: 0, gpus: 0 },
      gpus: [],
      ...job,
    },
  };
}
