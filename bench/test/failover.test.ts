import { describe, expect, it } from 'vitest';
// The built module: it runs the built `baton` CLI as child processes.
import { runFailover } from '../dist/failover.js';

describe('failover workload', () => {
  it('kills an agent holding jobs and times each job until it runs again elsewhere', async () => {
    const lines: string[] = [];
    const result = await runFailover({
      jobs: 4,
      agents: 2,
      leaseMs: 1000,
      timeoutMs: 60_000,
      log: (line) => lines.push(line),
    });
    expect(result).toMatchObject({ system: 'baton', workload: 'failover', ok: true, jobs: 4, agents: 2 });
    expect(result.killed_jobs).toBeGreaterThanOrEqual(2);
    expect(result.recovery_p50_s).toEqual(expect.any(Number));
    // A job cannot run again before the dead agent's lease could have run out.
    expect(result.recovery_p50_s!).toBeGreaterThan(0);
    expect(result.recovery_max_s!).toBeGreaterThanOrEqual(result.recovery_p50_s!);
    expect(lines.some((l) => /killed agent-\S+ holding \d+ job/.test(l))).toBe(true);
  });
});
