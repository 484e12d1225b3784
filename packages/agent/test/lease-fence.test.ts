import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  AgentInbox,
  AgentLink,
  Completion,
  JobAssignment,
  LeaseRef,
  RegisteredAgent,
  TransitionResult,
} from '@baton/core';
import { Agent } from '../src/agent.js';
import { createCommandTask } from '../src/command-task.js';
import { fencePlan } from '../src/lease-fence.js';
import { defineTask, silentLogger } from '../src/task.js';
import type { AnyTaskDefinition, TaskLogger } from '../src/task.js';
import { assignment } from './assignment.js';

/**
 * An in-process link standing in for a server and its store: it renews a job's lease on every
 * heartbeat (the lease ends a lease period after the store handled it), until `cut()`, after
 * which heartbeats are held unanswered, as by a partition. Every call is logged with its time.
 */
class CuttableLink implements AgentLink {
  inbox: AgentInbox | null = null;
  cutOff = false;
  /** When the store's lease of the job ends: past it the job may be requeued. */
  leaseEndsAt = 0;
  readonly completions: { at: number; completion: Completion; leaseEndsAt: number; pidAlive?: boolean }[] = [];
  readonly output: string[] = [];
  pid = 0;

  constructor(private readonly timing: { leaseMs: number; heartbeatMs: number }) {}

  async register(_registration: unknown, inbox: AgentInbox): Promise<RegisteredAgent> {
    this.inbox = inbox;
    return { agentId: 'agent-1', ...this.timing, resumeSecret: 'secret' };
  }
  deliver(assignment: JobAssignment): void {
    this.leaseEndsAt = Date.now() + this.timing.leaseMs;
    this.inbox!.deliver([assignment]);
  }
  async started(items: LeaseRef[]): Promise<TransitionResult[]> {
    return this.renew(items);
  }
  heartbeat(items: LeaseRef[]): Promise<TransitionResult[]> {
    if (this.cutOff) return new Promise(() => {}); // never answered
    return Promise.resolve(this.renew(items));
  }
  async complete(items: Completion[]): Promise<TransitionResult[]> {
    for (const completion of items) {
      this.completions.push({
        at: Date.now(),
        completion,
        leaseEndsAt: this.leaseEndsAt,
        ...(this.pid > 0 && { pidAlive: alive(this.pid) }),
      });
    }
    return items.map((i) => ({ jobId: i.jobId, ok: true, state: 'queued' }));
  }
  async addSteps(): Promise<never> {
    throw new Error('this test link grows no workflows');
  }
  async logs(chunks: { data: string }[]): Promise<void> {
    for (const c of chunks) this.output.push(c.data);
    const pid = Number(/pid=(\d+)/.exec(this.output.join(''))?.[1] ?? 0);
    if (pid > 0) this.pid = pid;
  }
  async gpuHealth(): Promise<void> {}
  async drain(): Promise<void> {}
  async unregister(): Promise<void> {}
  cut(): void {
    this.cutOff = true;
  }
  private renew(items: LeaseRef[]): TransitionResult[] {
    if (this.cutOff) return items.map((i) => ({ jobId: i.jobId, ok: true, state: 'running' }));
    this.leaseEndsAt = Date.now() + this.timing.leaseMs;
    return items.map((i) => ({ jobId: i.jobId, ok: true, state: 'running' }));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return process.platform !== 'linux';
  }
}

async function until(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recordingLogger(): TaskLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (obj, msg) => void warnings.push(msg ?? String(obj)) };
}

describe('fencePlan', () => {
  it('stops a job its stop grace plus a heartbeat before the lease lapses', () => {
    expect(fencePlan(10_000, 2_000, 5_000)).toMatchObject({ fenceAfterMs: 3_000, cramped: false, overrunMs: 0 });
    expect(fencePlan(10_000, 2_000, 0)).toMatchObject({ fenceAfterMs: 8_000, cramped: false });
  });

  it('never fences before a heartbeat and a half; says when the lease is too short', () => {
    expect(fencePlan(10_000, 2_000, 7_000)).toEqual({
      fenceAfterMs: 3_000,
      cramped: true,
      overrunMs: 0,
      leaseNeededMs: 12_000,
    });
    expect(fencePlan(6_000, 2_000, 5_000)).toMatchObject({ fenceAfterMs: 3_000, cramped: true, overrunMs: 2_000 });
    expect(fencePlan(1_000, 900, 0).fenceAfterMs).toBe(1_000);
  });
});

describe('an agent cut off from its server', () => {
  let agent: Agent | null = null;
  afterEach(async () => {
    await agent?.stop(100);
    agent = null;
  });

  it('stops a JavaScript job while its lease still holds', async () => {
    // The fence leaves a heartbeat (600 ms) before the lease lapses: room for late timers.
    const link = new CuttableLink({ leaseMs: 3_000, heartbeatMs: 600 });
    const aborts: { at: number; code: unknown; leaseEndsAt: number }[] = [];
    const task = defineTask('test.obedient', async (_p: unknown, ctx) => {
      await new Promise((_, reject) =>
        ctx.signal.addEventListener('abort', () => {
          aborts.push({
            at: Date.now(),
            code: (ctx.signal.reason as { code?: unknown }).code,
            leaseEndsAt: link.leaseEndsAt,
          });
          reject(ctx.signal.reason);
        }),
      );
    });
    agent = new Agent({ link, tasks: [task], concurrency: 1, startReportDelayMs: 1 });
    await agent.start();
    link.deliver(assignment('test.obedient'));
    await new Promise((r) => setTimeout(r, 1_300)); // a couple of confirmed heartbeats
    link.cut();
    await until(() => link.completions.length === 1, 'the outcome');
    const [abort] = aborts;
    const [done] = link.completions;
    expect(abort?.code).toBe('LEASE_LOST');
    // Stopped, and its outcome sent, before the store's lease lapsed: the job cannot have been
    // requeued yet, let alone run elsewhere.
    expect(abort!.at).toBeLessThan(abort!.leaseEndsAt);
    expect(done!.at).toBeLessThan(done!.leaseEndsAt);
    expect(done!.completion).toMatchObject({ outcome: 'failed', error: { code: 'LEASE_LOST', retryable: true } });
  });

  it("stops a command, its process gone, while the job's lease still holds", async () => {
    // Fenced 600 + 800 ms before the lease lapses: the kill grace to stop it, then a heartbeat's room.
    const link = new CuttableLink({ leaseMs: 4_000, heartbeatMs: 800 });
    // The command ignores SIGTERM, so only the kill grace's SIGKILL ends it.
    const command = createCommandTask({ killGraceMs: 600 });
    agent = new Agent({ link, tasks: [command], concurrency: 1, startReportDelayMs: 1, outputFlushMs: 10 });
    await agent.start();
    link.deliver(
      assignment('command', { argv: ['sh', '-c', 'trap "" TERM; echo pid=$$; while :; do sleep 0.05; done'] }),
    );
    await until(() => link.pid > 0, 'the command to start');
    expect(alive(link.pid)).toBe(true);
    link.cut();
    await until(() => link.completions.length === 1, 'the outcome');
    const [done] = link.completions;
    expect(done!.completion).toMatchObject({ outcome: 'failed', error: { code: 'LEASE_LOST' } });
    expect(done!.pidAlive).toBe(false); // the outcome is sent once the process group is gone
    expect(done!.at).toBeLessThan(done!.leaseEndsAt);
  });

  it('warns at start-up when the lease is too short to stop a task before it lapses', async () => {
    const logger = recordingLogger();
    const link = new CuttableLink({ leaseMs: 3_000, heartbeatMs: 600 });
    const tasks: AnyTaskDefinition[] = [createCommandTask({ killGraceMs: 5_000 }), defineTask('quick', async () => 1)];
    agent = new Agent({ link, tasks, logger });
    await agent.start();
    expect(logger.warnings).toHaveLength(1);
    expect(logger.warnings[0]).toMatch(
      /the server's lease \(3000 ms\) is too short to stop "command" jobs \(5000 ms to stop, plus a 600 ms heartbeat\).*at least 6500 ms/,
    );
  });
});
