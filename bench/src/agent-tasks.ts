import { defineTask } from '@baton/agent';
import { BENCH_QUEUE, LATENCY_TASK, NOOP_TASK, TimingRecorder, noopHandler } from './job-timings.js';

/**
 * The benchmark's no-op tasks for a `baton agent --tasks bench/dist/agent-tasks.js` process
 * (`--agent remote`). The handlers time themselves here, on the agent's side, as the in-process
 * agent's do; the bench, which started this process with an IPC channel, gets:
 * - `{ type: 'handled' }` once BENCH_EXPECT_JOBS distinct jobs have run;
 * - on `{ type: 'report' }`: `{ type: 'timings', timings, cpuMs, rssMb }`, where `cpuMs` is
 *   this process's user + system CPU since the first handler started and `rssMb` its peak RSS.
 */
const expected = Number(process.env.BENCH_EXPECT_JOBS ?? '0');
let cpu0: NodeJS.CpuUsage | null = null;
const recorder = new TimingRecorder(expected, () => process.send?.({ type: 'handled' }));
const timed = noopHandler(recorder);
const handler = (payload: { i: number; t: number }) => {
  const done = timed(payload);
  cpu0 ??= process.cpuUsage();
  return done;
};

export const benchNoop = defineTask(NOOP_TASK, handler, { queue: BENCH_QUEUE });
export const benchLatency = defineTask(LATENCY_TASK, handler, { queue: BENCH_QUEUE });

process.on('message', (m: { type?: string }) => {
  if (m.type !== 'report') return;
  const cpu = cpu0 === null ? null : process.cpuUsage(cpu0);
  process.send?.({
    type: 'timings',
    timings: recorder.timings,
    cpuMs: cpu === null ? null : (cpu.user + cpu.system) / 1000,
    rssMb: process.resourceUsage().maxRSS / 1024,
  });
});
// The bench gone (its channel closed): stop as on SIGTERM rather than linger as an orphan.
process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
