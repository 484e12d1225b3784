import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  AgentInbox,
  AgentLink,
  Completion,
  JobAssignment,
  LeaseRef,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { BatonError, StoreUnavailableError } from '@baton/core';
import { Agent, defineTask } from '../src/index.js';
import { isAlreadyApplied, isRetryableReportError, reportRetryDelayMs, retryDecision } from '../src/outcome-retry.js';
import type { TaskLogger } from '../src/task.js';

/** The error a WsLink rejects with when the server answers with an error code. */
const wireError = (code: string): BatonError => new BatonError(code, `server said ${code}`, 400);

describe('the retry decision for a report', () => {
  it('retries only failures that leave the report unanswered', () => {
    expect(isRetryableReportError(wireError('STORE_UNAVAILABLE'))).toBe(true);
    expect(isRetryableReportError(new StoreUnavailableError())).toBe(true); // an in-process link
    expect(isRetryableReportError(wireError('AGENT_REQUEST_TIMEOUT'))).toBe(true);
    expect(isRetryableReportError(new BatonError('AGENT_LINK_CLOSED', 'closed', 503, undefined, true))).toBe(false);
    for (const code of ['INTERNAL', 'INVALID_AGENT_MESSAGE', 'AGENT_NOT_REGISTERED']) {
      expect(isRetryableReportError(wireError(code))).toBe(false);
    }
    expect(isRetryableReportError(new Error('boom'))).toBe(false);
    expect(isRetryableReportError(undefined)).toBe(false);
  });

  it('waits 100 ms doubling per failure, capped at 2 s, less up to half of it at random', () => {
    const full = [1, 2, 3, 4, 5, 6, 7, 20].map((n) => reportRetryDelayMs(n, () => 0));
    expect(full).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(reportRetryDelayMs(1, () => 0.5)).toBe(75);
    expect(reportRetryDelayMs(6, () => 0.999_999)).toBe(1000);
  });

  it('gives up when the next try would go out after the lease ends', () => {
    const unavailable = wireError('STORE_UNAVAILABLE');
    expect(retryDecision(unavailable, 1, 1000, 5000, () => 0)).toEqual({ retry: true, delayMs: 100 });
    expect(retryDecision(unavailable, 5, 1000, 2600, () => 0)).toEqual({ retry: false, reason: 'lease-lapsed' });
    expect(retryDecision(unavailable, 5, 1000, 2601, () => 0)).toEqual({ retry: true, delayMs: 1600 });
    expect(retryDecision(wireError('INTERNAL'), 1, 1000, 5000, () => 0)).toEqual({ retry: false, reason: 'final' });
  });

  it('takes a FINISHED in the outcome state, answered within the lease, as its own commit', () => {
    const succeeded: Completion = { jobId: 'j', leaseToken: 't', outcome: 'succeeded', result: 1 };
    const failed: Completion = {
      jobId: 'j',
      leaseToken: 't',
      outcome: 'failed',
      error: { code: 'X', message: 'x', retryable: false },
    };
    const finished = (state: 'succeeded' | 'failed'): TransitionResult => ({
      jobId: 'j',
      ok: false,
      code: 'FINISHED',
      state,
      message: `job j is already ${state}`,
    });
    expect(isAlreadyApplied(succeeded, finished('succeeded'), true)).toBe(true);
    expect(isAlreadyApplied(failed, finished('failed'), true)).toBe(true);
    // Another path ended the job, or the lease had lapsed (it may be another attempt's): a refusal.
    expect(isAlreadyApplied(succeeded, finished('failed'), true)).toBe(false);
    expect(isAlreadyApplied(succeeded, finished('succeeded'), false)).toBe(false);
    const stale: TransitionResult = { jobId: 'j', ok: false, code: 'STALE_LEASE', message: 'stale' };
    expect(isAlreadyApplied(succeeded, stale, true)).toBe(false);
  });
});

const HEARTBEAT_MS = 1000;
const LEASE_MS = 10_000;

function assignment(id: string, task: string): JobAssignment {
  return {
    leaseToken: `lease-${id}`,
    job: {
      id,
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
  };
}

/** A link whose answers the test scripts: each call takes the next answer (an error or a value). */
class ScriptedLink implements AgentLink {
  inbox: AgentInbox | null = null;
  readonly completions: Completion[] = [];
  readonly heartbeats: LeaseRef[][] = [];
  completeAnswers: ((items: Completion[]) => TransitionResult[] | Error)[] = [];
  heartbeatAnswers: (Error | null)[] = [];

  async register(_registration: unknown, inbox: AgentInbox): Promise<RegisteredAgent> {
    this.inbox = inbox;
    return { agentId: 'agent-1', leaseMs: LEASE_MS, heartbeatMs: HEARTBEAT_MS, resumeSecret: 's' };
  }
  async started(items: LeaseRef[]): Promise<TransitionResult[]> {
    return items.map((i) => ({ jobId: i.jobId, ok: true, state: 'running' }));
  }
  async heartbeat(items: LeaseRef[]): Promise<TransitionResult[]> {
    this.heartbeats.push(items);
    const answer = this.heartbeatAnswers.shift();
    if (answer) throw answer;
    return items.map((i) => ({ jobId: i.jobId, ok: true, state: 'running' }));
  }
  async complete(items: Completion[]): Promise<TransitionResult[]> {
    this.completions.push(...items);
    const answer = this.completeAnswers.shift()?.(items) ?? items.map(ok);
    if (answer instanceof Error) throw answer;
    return answer;
  }
  async addSteps(): Promise<never> {
    throw new Error('this test link grows no workflows');
  }
  async logs(): Promise<void> {}
  async gpuHealth(): Promise<void> {}
  async drain(): Promise<void> {}
  async unregister(): Promise<void> {}
}

const ok = (c: Completion): TransitionResult => ({
  jobId: c.jobId,
  ok: true,
  state: c.outcome === 'succeeded' ? 'succeeded' : 'failed',
});
const unavailable = (): Error => wireError('STORE_UNAVAILABLE');

function recordingLogger(): TaskLogger & { warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    warnings,
    errors,
    info() {},
    debug() {},
    warn: (_fields: unknown, message?: string) => void warnings.push(message ?? ''),
    error: (_fields: unknown, message?: string) => void errors.push(message ?? ''),
  } as TaskLogger & { warnings: string[]; errors: string[] };
}

describe('an agent whose reports fail', () => {
  let agent: Agent | null = null;
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(async () => {
    const a = agent;
    agent = null;
    if (a) {
      const stopped = a.stop(0);
      await vi.runOnlyPendingTimersAsync();
      await stopped;
    }
    vi.useRealTimers();
  });

  async function startAgent(link: ScriptedLink, logger = recordingLogger()): Promise<Agent> {
    const quick = defineTask('test.quick', async () => 'done');
    const forever = defineTask(
      'test.forever',
      (_payload, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve)),
    );
    agent = new Agent({ link, tasks: [quick, forever], concurrency: 2, logger });
    await agent.start();
    return agent;
  }

  it('sends a completion again while the store is down, keeps its slot, and records it once', async () => {
    const link = new ScriptedLink();
    const logger = recordingLogger();
    const a = await startAgent(link, logger);
    // Down for three tries; the third committed, but its answer was lost.
    link.completeAnswers = [
      unavailable,
      unavailable,
      unavailable,
      (items) =>
        items.map((c) => ({
          jobId: c.jobId,
          ok: false,
          code: 'FINISHED',
          state: 'succeeded',
          message: 'already succeeded',
        })),
    ];
    link.inbox!.deliver([assignment('job-1', 'test.quick')]);
    await vi.advanceTimersByTimeAsync(50);
    expect(link.completions).toHaveLength(1);
    expect(a.load).toBe(1); // not done until the outcome is recorded
    await vi.advanceTimersByTimeAsync(2000);
    expect(link.completions).toHaveLength(4);
    expect(new Set(link.completions.map((c) => `${c.jobId}/${c.leaseToken}/${c.outcome}`))).toEqual(
      new Set(['job-1/lease-job-1/succeeded']),
    );
    expect(a.load).toBe(0);
    // The repeat found its own commit: no refusal is logged.
    expect(logger.warnings.filter((w) => /already/.test(w))).toEqual([]);
    expect(logger.errors).toEqual([]);
  });

  it('takes the store answer for the job as final: a refusal is not sent again', async () => {
    const link = new ScriptedLink();
    const logger = recordingLogger();
    const a = await startAgent(link, logger);
    link.completeAnswers = [
      (items) => items.map((c) => ({ jobId: c.jobId, ok: false, code: 'STALE_LEASE', message: 'stale lease' })),
    ];
    link.inbox!.deliver([assignment('job-1', 'test.quick')]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(link.completions).toHaveLength(1);
    expect(a.load).toBe(0);
    expect(logger.warnings).toContain('stale lease');
  });

  it('takes a FINISHED answered after the lease lapsed as a refusal: another attempt may have ended the job', async () => {
    const link = new ScriptedLink();
    const logger = recordingLogger();
    const a = await startAgent(link, logger);
    const finished = (items: Completion[]): TransitionResult[] =>
      items.map((c) => ({
        jobId: c.jobId,
        ok: false,
        code: 'FINISHED',
        state: 'succeeded',
        message: 'already succeeded',
      }));
    const complete = link.complete.bind(link);
    link.complete = async (items) => {
      await complete(items);
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS + 1)); // an answer held up past the lease
      return finished(items);
    };
    link.heartbeatAnswers = Array.from({ length: 100 }, unavailable);
    link.inbox!.deliver([assignment('job-1', 'test.quick')]);
    await vi.advanceTimersByTimeAsync(LEASE_MS + 2 * HEARTBEAT_MS);
    expect(a.load).toBe(0);
    expect(logger.warnings).toContain('already succeeded');
  });

  it('does not retry a failure that would fail the same way again', async () => {
    const link = new ScriptedLink();
    const logger = recordingLogger();
    const a = await startAgent(link, logger);
    link.completeAnswers = [() => wireError('INVALID_AGENT_MESSAGE')];
    link.inbox!.deliver([assignment('job-1', 'test.quick')]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(link.completions).toHaveLength(1);
    expect(a.load).toBe(0);
    expect(logger.errors).toContain('agent could not report on job');
  });

  it('gives a completion up once the lease would have lapsed', async () => {
    const link = new ScriptedLink();
    const logger = recordingLogger();
    const a = await startAgent(link, logger);
    link.completeAnswers = Array.from({ length: 1000 }, () => unavailable);
    link.heartbeatAnswers = Array.from({ length: 1000 }, unavailable);
    link.inbox!.deliver([assignment('job-1', 'test.quick')]);
    await vi.advanceTimersByTimeAsync(LEASE_MS + 2 * HEARTBEAT_MS);
    expect(a.load).toBe(0);
    const tries = link.completions.length;
    expect(tries).toBeGreaterThan(3);
    expect(tries).toBeLessThan(LEASE_MS / 100);
    expect(logger.errors).toContain('could not report the outcome before the lease ran out; the job will run again');
    await vi.advanceTimersByTimeAsync(LEASE_MS);
    expect(link.completions).toHaveLength(tries);
  });

  it('tries a failed heartbeat round again at once, not a heartbeat period later', async () => {
    const link = new ScriptedLink();
    await startAgent(link);
    link.heartbeatAnswers = [unavailable(), unavailable(), unavailable()];
    link.inbox!.deliver([assignment('job-1', 'test.forever')]);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS); // the first round, which fails
    expect(link.heartbeats).toHaveLength(1);
    // Three failures wait at most 100 + 200 + 400 ms: renewed well before the next round.
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS - 1);
    expect(link.heartbeats).toHaveLength(4);
    expect(link.heartbeats.every((items) => items.length === 1 && items[0]!.jobId === 'job-1')).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(link.heartbeats).toHaveLength(5); // the regular round, once the retried one is done
  });
});
